"""A corpus of malformed source files: each gets a clear one-line error, nothing crashes.

The files are built here, byte by byte where soundfile would refuse to write them, so the corpus
needs no binary fixtures. Every case runs through :func:`engine.regions.read_region` and, for a
few, through the CLI (which checks the file before loading any model).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import regions
from engine.errors import AudioInputError


def riff_wav(rate: int, channels: int, bits: int = 16, data: bytes | None = None, frames: int = 100,
             fmt_tag: int = 1, data_size: int | None = None) -> bytes:
    """A canonical 44-byte-header WAV with whatever header fields a test wants."""
    block = channels * bits // 8
    if data is None:
        data = bytes(frames * block)
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def good_wav_bytes(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, 0.1 * np.sin(np.arange(int(seconds * rate)) * 0.1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _float_wav(tmp_path: Path, name: str, bad: float) -> Path:
    x = np.zeros(16_000, dtype=np.float32)
    x[8_000] = bad
    path = tmp_path / name
    sf.write(path, x, 16_000, subtype="FLOAT")
    return path


# name -> (builder(tmp_path) -> path, words the message must contain, region)
CORPUS = {
    "truncated-header": (lambda p: _write(p, "trunc.wav", good_wav_bytes()[:30]), "not a readable audio file", None),
    "header-only": (lambda p: _write(p, "header.wav", good_wav_bytes()[:44]), "no audio", None),
    "zero-frames": (lambda p: _write(p, "zero.wav", riff_wav(48_000, 1, data=b"")), "no audio", None),
    "empty-file": (lambda p: _write(p, "empty.wav", b""), "empty", None),
    "rate-1-hz": (lambda p: _write(p, "slow.wav", riff_wav(1, 1)), "sample rate of 1 Hz", None),
    "rate-1-mhz": (lambda p: _write(p, "fast.wav", riff_wav(1_000_000, 1)), "sample rate of 1000000 Hz", None),
    "rate-4-ghz": (lambda p: _write(p, "huge-rate.wav", riff_wav(4_000_000_000, 1)), "not a readable", None),
    "rate-7-khz": (lambda p: _write(p, "low.wav", riff_wav(7_000, 1)), "sample rate of 7000 Hz", None),
    "1000-channels": (lambda p: _write(p, "wide.wav", riff_wav(48_000, 1000, frames=10)), "1000 channels", None),
    "3-channels": (lambda p: _write(p, "lcr.wav", riff_wav(48_000, 3, frames=48_000)), "3 channels", None),
    "no-channels": (lambda p: _write(p, "none.wav", riff_wav(48_000, 0, frames=0) + bytes(10)), "not a readable", None),
    "nan-floats": (lambda p: _float_wav(p, "nan.wav", np.nan), "NaN/inf samples \\(first at 0.500 s\\)", None),
    "inf-floats": (lambda p: _float_wav(p, "inf.wav", np.inf), "NaN/inf", None),
    "text-renamed": (lambda p: _write(p, "notes.wav", b"this is a text file, not audio\n" * 20),
                     "not a readable", None),
    "png-renamed": (lambda p: _write(p, "image.wav", b"\x89PNG\r\n\x1a\n" + bytes(100)), "not a readable", None),
    "adpcm-codec": (lambda p: _adpcm(p), "MS_ADPCM codec", None),
    "au-container": (lambda p: _au(p), "is in the AU format", None),
    "region-after-end": (lambda p: _write(p, "short.wav", good_wav_bytes(1.0)), "outside the file", (5.0, 6.0)),
    "region-past-end": (lambda p: _write(p, "short2.wav", good_wav_bytes(1.0)), "past the end", (0.5, 1.5)),
    "region-negative": (lambda p: _write(p, "short3.wav", good_wav_bytes(1.0)), "before the file", (-1.0, 0.5)),
    # Header claims 1 s of data, the file holds 0.1 s: libsndfile trusts the file, so does the region check.
    "data-truncated": (lambda p: _write(p, "cut.wav", riff_wav(16_000, 1, frames=1600, data_size=32_000)),
                       "past the end", (0.0, 0.5)),
    "missing-file": (lambda p: p / "does-not-exist.wav", "no such file", None),
    "a-folder": (lambda p: _folder(p), "not a regular file", None),
}


def _adpcm(tmp_path: Path) -> Path:
    path = tmp_path / "adpcm.wav"
    sf.write(path, np.zeros(16_000), 16_000, subtype="MS_ADPCM")
    return path


def _au(tmp_path: Path) -> Path:
    path = tmp_path / "sun.wav"
    sf.write(path, np.zeros(16_000), 16_000, format="AU", subtype="PCM_16")
    return path


def _folder(tmp_path: Path) -> Path:
    path = tmp_path / "folder.wav"
    path.mkdir()
    return path


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_file_gets_a_clear_one_line_error(tmp_path, case):
    build, words, region = CORPUS[case]
    path = build(tmp_path)
    start, end = region if region else (None, None)
    with pytest.raises(AudioInputError, match=words) as err:
        regions.read_region(path, start, end)
    message = str(err.value)
    assert path.name in message, message
    assert "\n" not in message and len(message) < 300
    assert ";" in message, f"the message should say what to do: {message}"


def test_oversized_file_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _write(tmp_path, "big.wav", good_wav_bytes(0.2))
    monkeypatch.setattr(regions, "MAX_FILE_BYTES", 1000)
    with pytest.raises(AudioInputError, match="GiB limit"):
        regions.read_region(path)


def test_absurd_length_header_is_refused(tmp_path, monkeypatch):
    path = _write(tmp_path, "long.wav", good_wav_bytes(1.0))
    monkeypatch.setattr(regions, "MAX_FILE_S", 0.5)
    with pytest.raises(AudioInputError, match="damaged header"):
        regions.probe(path)


@pytest.mark.parametrize("case", ["text-renamed", "1000-channels", "nan-floats", "region-after-end"])
def test_cli_reports_malformed_input_on_one_line_without_loading_a_model(tmp_path, capsys, case):
    """The model folder does not exist: the file's error must come first."""
    from engine.cli import main

    build, words, region = CORPUS[case]
    path = build(tmp_path)
    args = ["upsample", str(path), "-o", str(tmp_path / "out.wav"), "--model", str(tmp_path / "no-model-needed")]
    if region:
        args += ["--start", str(region[0]), "--end", str(region[1])]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and path.name in err[-1]
    assert not (tmp_path / "out.wav").exists()


# Fuzz: a valid WAV with random bytes overwritten, or random bytes after a RIFF header. Whatever
# libsndfile makes of it, the reader either returns finite audio or raises AudioInputError.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_files_never_crash_the_reader(tmp_path, data):
    base = bytearray(good_wav_bytes(0.05))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(base) - 1))
        base[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        base = base[: data.draw(st.integers(0, len(base)))]
    path = tmp_path / "fuzz.wav"
    path.write_bytes(bytes(base))
    try:
        region = regions.read_region(path)
    except AudioInputError as exc:
        assert "\n" not in str(exc)
    else:
        assert np.all(np.isfinite(region.audio)) and region.channels in (1, 2)


def test_cli_checks_the_gap_against_the_file_before_loading_a_model(tmp_path, capsys):
    from engine.cli import main

    path = _write(tmp_path, "one.wav", good_wav_bytes(1.0))
    code = main(["inpaint", str(path), "--gap", "2.0", "2.5", "-o", str(tmp_path / "o.wav"),
                 "--model", str(tmp_path / "nope")])
    assert code == 2
    assert "not inside the region" in capsys.readouterr().err
