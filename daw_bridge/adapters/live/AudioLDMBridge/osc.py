"""Just enough OSC for the remote script (Live's Python has no python-osc): messages with
string, int and float arguments, encoded and decoded."""

from __future__ import annotations

import struct


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def encode(address: str, *args) -> bytes:
    tags, data = ",", b""
    for a in args:
        if isinstance(a, bool):
            a = int(a)
        if isinstance(a, int):
            tags += "i"
            data += struct.pack(">i", a)
        elif isinstance(a, float):
            tags += "f"
            data += struct.pack(">f", a)
        else:
            tags += "s"
            data += _pad(str(a).encode("utf-8"))
    return _pad(address.encode("utf-8")) + _pad(tags.encode()) + data


def _string(data: bytes, i: int) -> tuple[str, int]:
    end = data.index(b"\0", i)
    return data[i:end].decode("utf-8", "replace"), (end // 4 + 1) * 4


def decode(data: bytes) -> tuple[str, list]:
    address, i = _string(data, 0)
    tags, i = _string(data, i) if i < len(data) else (",", i)
    args: list = []
    for t in tags[1:]:
        if t == "i":
            args.append(struct.unpack(">i", data[i:i + 4])[0])
            i += 4
        elif t == "f":
            args.append(struct.unpack(">f", data[i:i + 4])[0])
            i += 4
        elif t == "d":
            args.append(struct.unpack(">d", data[i:i + 8])[0])
            i += 8
        elif t == "s":
            s, i = _string(data, i)
            args.append(s)
        else:
            raise ValueError(f"unsupported OSC type {t!r}")
    return address, args
