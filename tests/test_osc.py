"""The OSC control surface: round trips with a foreign client (liblo's oscsend / oscdump), real
recordings from a Debian package, path escapes, a fuzz of malformed packets, engine kills."""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

pytest.importorskip("pythonosc")
from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402
from pythonosc.osc_packet import OscPacket  # noqa: E402

from daw_bridge.osc import addresses as A  # noqa: E402
from daw_bridge.osc.server import HANDLED_ADDRESSES, OscBridge, OscConfig  # noqa: E402
from engine.service import RenderService  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: A real recording from a Debian package (alsa-utils, installed by .ci/run): a voice, 48 kHz mono.
VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")
needs_liblo = pytest.mark.skipif(shutil.which("oscsend") is None or shutil.which("oscdump") is None,
                                 reason="liblo-tools (oscsend, oscdump) not installed; .ci/run installs it")
needs_voice = pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dump:
    """liblo's oscdump on a port of its own, its lines parsed into (address, args)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, text=True)
        self.lines: list[tuple[str, list]] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)

    def _read(self) -> None:
        for line in self.proc.stdout:
            parts = shlex.split(line.strip())
            if len(parts) < 2:
                continue
            address, types, values = parts[1], parts[2] if len(parts) > 2 else "", parts[3:]
            args = [int(v) if t == "i" else float(v) if t == "f" else v for t, v in zip(types, values)]
            with self._cv:
                self.lines.append((address, args))
                self._cv.notify_all()

    def wait(self, address: str, pred=lambda args: True, timeout: float = 60.0) -> list:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for a, args in self.lines:
                    if a == address and pred(args):
                        return args
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {address} within {timeout} s; got {self.lines[-10:]}")
                self._cv.wait(left)

    def all(self, address: str, pred=lambda args: True) -> list[list]:
        with self._cv:
            return [args for a, args in self.lines if a == address and pred(args)]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def oscsend(port: int, address: str, types: str = "", *args) -> None:
    subprocess.run(["oscsend", "localhost", str(port), address, types, *map(str, args)], check=True, timeout=10)


class Udp:
    """Our own client socket, for what oscsend cannot send (garbage) and replies to the sender."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def send(self, address: str, *args) -> None:
        b = OscMessageBuilder(address=address)
        for a in args:
            b.add_arg(a)
        self.raw(b.build().dgram)

    def recv(self, address: str, timeout: float = 10.0, pred=lambda args: True) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            for m in OscPacket(data).messages:
                if m.message.address == address and pred(list(m.message.params)):
                    return list(m.message.params)
        raise AssertionError(f"no {address} within {timeout} s")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def osc(tmp_path_factory):
    """One real engine (the built-in model: what an OSC request gets by default) with two bridges: one whose replies go to an oscdump
    (for oscsend, which cannot listen), one that answers each sender on its own port."""
    root = tmp_path_factory.mktemp("osc")
    allowed = root / "allowed"
    allowed.mkdir()
    svc = RenderService(library=root / "library", journal=root / "jobs.sqlite3", device="cpu", torch_threads=1,
                        preload_model="builtin:default", listen=False, crash_limit=20).start()
    dirs = (allowed, root / "library", VOICE.parent)
    dump = Dump() if shutil.which("oscdump") else None
    foreign = OscBridge(svc, OscConfig(port=0, allow_dirs=dirs, reply_port=dump.port if dump else None)).start()
    direct = OscBridge(svc, OscConfig(port=0, allow_dirs=dirs, rate_per_s=1e6, burst=100_000,
                                      max_queue=100_000)).start()
    svc.wait_ready(120)
    yield {"svc": svc, "foreign": foreign, "direct": direct, "dump": dump, "allowed": allowed,
           "model": "builtin:default", "root": root}
    foreign.close()
    direct.close()
    if dump:
        dump.close()
    svc.stop()


def job_id() -> str:
    return f"t{random.randrange(10**9)}"


# --------------------------------------------------------------------------- the address space

def test_docs_list_every_handled_address_and_nothing_else():
    text = (REPO / "docs" / "OSC.md").read_text()
    documented = set(re.findall(r"^#{2,4} `(/audioldm/[a-z_/]+)", text, flags=re.M))
    assert documented == set(HANDLED_ADDRESSES)
    sent = set(re.findall(r"-> `(/audioldm/[a-z_/]+)", text)) | set(re.findall(r"^- `(/audioldm/[a-z_/]+)", text, re.M))
    assert set(A.REPLY_ADDRESSES) <= sent | documented
    for code in A.ERROR_CODES:
        assert f"`{code}`" in text
    for name in A.NAMED:
        assert f"`{name}`" in text
    assert text.count("oscsend localhost 9137") >= len(HANDLED_ADDRESSES)


def test_arguments_become_one_request_or_a_clear_error(tmp_path):
    sub = A.parse_render("/audioldm/generate", ["k1", "a low kick drum", 2, "steps", 4.0, "guidance", 3,
                                                "seed", 9, "sample_rate", 44100], [])
    r = sub.request
    assert (sub.job_id, r.prompt, r.duration_s, r.steps, r.guidance_scale, r.seed, r.sample_rate) == \
        ("k1", "a low kick drum", 2.0, 4, 3.0, 9, 44100)
    fast = A.parse_render("/audioldm/generate", ["k5", "a hum", 1.0, "guidance_until", 0.5], []).request
    assert fast.guidance_until == 0.5
    cases = [
        (["k", "x", 1.0, "guidance_until", 0.0], "guidance_until"),
        (["k"], "takes <job_id> <prompt> <duration_s>"),
        (["k", 5, 1.0], "prompt must be a string"),
        (["k", "x", 1.0, "stepz", 3], "unknown parameter 'stepz'"),
        (["k", "x", 1.0, "steps"], "in pairs"),
        (["k", "x", 1.0, "steps", 2.5], "steps must be a whole number"),
        (["k", "x", -1.0], "duration"),
        (["k", "x", 1.0, "strength", 0.3], "strength does not apply to mode generate"),
        (["", "x", 1.0], "job id"),
    ]
    for args, needle in cases:
        with pytest.raises(A.OscError) as err:
            A.parse_render("/audioldm/generate", args, [])
        assert err.value.code == "bad_args" and needle in err.value.message, (args, err.value.message)
    # Upsampling takes the session's rate; inpainting keeps the source's and says so.
    src = tmp_path / "call.wav"
    sf.write(str(src), [0.0] * 8000, 8000)
    up = A.parse_render("/audioldm/upsample", ["u1", str(src), 0.0, 0.0, "sample_rate", 48000], [tmp_path]).request
    assert (up.mode, up.sample_rate) == ("upsample", 48000)
    with pytest.raises(A.OscError, match="sample_rate does not apply to mode inpaint"):
        A.parse_render("/audioldm/inpaint", ["i1", str(src), 0.0, 0.0, 0.2, 0.4, "", "sample_rate", 48000], [tmp_path])
    # A preset is the starting point; what is sent overrides it, an empty prompt keeps the preset's.
    kick = A.parse_render("/audioldm/generate", ["k2", "", 0.5, "preset", "kick-deep", "seed", 4], []).request
    assert (kick.prompt, kick.duration_s, kick.seed) == ("a deep low kick drum", 0.5, 4)
    assert kick.finish is not None and kick.finish.loudness_lufs == -10.0
    # Tuning goes on top of the preset's finishing chain; edits take none and say so.
    tuned = A.parse_render("/audioldm/generate", ["k6", "", 0.5, "preset", "kick-deep", "tune_to", "A1"], []).request
    assert tuned.finish.tune_to == "A1" and tuned.finish.loudness_lufs == -10.0
    assert A.parse_render("/audioldm/generate", ["k7", "a hum", 1.0, "tune_to", 60.0], []).request.finish.tune_to == 60.0
    with pytest.raises(A.OscError, match="finish.tune_to 'H9' is not a pitch"):
        A.parse_render("/audioldm/generate", ["k8", "a hum", 1.0, "tune_to", "H9"], [])
    with pytest.raises(A.OscError, match="finish does not apply to mode upsample"):
        A.parse_render("/audioldm/upsample", ["u2", str(src), 0.0, 0.0, "tune_to", "A3"], [tmp_path])
    for args, needle in ((["k3", "", 1.0, "preset", "nope"], "unknown preset"),
                         (["k4", "", 1.0, "preset", "restore-upsample"], "send it to /audioldm/upsample")):
        with pytest.raises(A.OscError, match=needle):
            A.parse_render("/audioldm/generate", args, [])


# --------------------------------------------------------------------------- a foreign client

@needs_liblo
def test_foreign_client_ping_subscribe_generate_done(osc):
    port, dump = osc["foreign"].port, osc["dump"]
    oscsend(port, "/audioldm/ping")
    assert dump.wait("/audioldm/pong")[0] == "0.1.0"
    oscsend(port, "/audioldm/subscribe", "i", dump.port)
    dump.wait("/audioldm/subscribed")
    jid = job_id()
    oscsend(port, "/audioldm/generate", "ssfsisisisi", jid, "a low kick drum", 0.75, "steps", 6, "seed", 3,
            "sample_rate", 44100, "channels", 2)
    dump.wait("/audioldm/accepted", lambda a: a == [jid], 10)
    done = dump.wait("/audioldm/done", lambda a: a[0] == jid, 120)
    progress = dump.all("/audioldm/progress", lambda a: a[0] == jid)
    assert progress and all(0 < a[1] <= 1 for a in progress)
    [path] = done[1:]
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.frames) == (44100, 2, 33075)
    assert Path(path).is_absolute() and Path(path).parent == osc["svc"].library
    oscsend(port, "/audioldm/job", "s", jid)
    assert dump.wait("/audioldm/job", lambda a: a[0] == jid) == [jid, "done", path]
    oscsend(port, "/audioldm/status")
    status = dump.wait("/audioldm/status")
    assert status[0] == "ready" and status[1] == osc["model"]
    # A retried packet (the same job id) never renders twice: accepted, done again, one job.
    oscsend(port, "/audioldm/generate", "ssf", jid, "a low kick drum", 0.75)
    time.sleep(0.5)
    assert len(dump.all("/audioldm/accepted", lambda a: a == [jid])) == 2
    assert dump.all("/audioldm/done", lambda a: a[0] == jid)[-1] == done
    assert sum(1 for r in osc["svc"].jobs() if r.client_key == f"osc:{jid}") == 1


@needs_liblo
@needs_voice
@pytest.mark.parametrize("address,types,args", [
    ("/audioldm/style_transfer", "sffsf", [0.2, 1.2, "a choir", 0.6]),
    ("/audioldm/inpaint", "sffffs", [0.2, 1.2, 0.5, 0.7, "a voice"]),
    ("/audioldm/upsample", "sffsf", [0.2, 1.2, "cutoff", 4000.0]),
])
def test_region_modes_on_a_real_recording(osc, address, types, args):
    port, dump = osc["foreign"].port, osc["dump"]
    jid = job_id()
    oscsend(port, address, "s" + types + "si", jid, str(VOICE), *args, "steps", 4)
    dump.wait("/audioldm/accepted", lambda a: a == [jid], 10)
    done = dump.wait("/audioldm/done", lambda a: a[0] == jid, 180)
    info = sf.info(done[1])
    source = sf.info(str(VOICE))
    # The region's exact length, the source's rate and channels.
    assert (info.samplerate, info.channels, info.frames) == (source.samplerate, source.channels, 48000)


@needs_liblo
def test_a_bad_request_from_a_foreign_client_gets_an_error_naming_it(osc):
    port, dump = osc["foreign"].port, osc["dump"]
    oscsend(port, "/audioldm/generate", "ssfsi", "bad-1", "x", 1.0, "stepz", 3)
    err = dump.wait("/audioldm/error", lambda a: a[0] == "bad-1")
    assert err[1] == "bad_args" and "stepz" in err[2]
    oscsend(port, "/audioldm/nonsense", "i", 1)
    err = dump.wait("/audioldm/error", lambda a: a[1] == "unknown_address")
    assert "/audioldm/nonsense" in err[2]


# --------------------------------------------------------------------------- paths

def test_path_escapes_are_refused(osc, tmp_path):
    allowed = osc["allowed"]
    outside = tmp_path / "outside.wav"
    sf.write(str(outside), [0.0] * 1600, 16000)
    (allowed / "link.wav").unlink(missing_ok=True)
    (allowed / "link.wav").symlink_to(outside)
    (allowed / "notes.wav").write_text("not audio at all")
    (allowed / "folder.wav").mkdir(exist_ok=True)
    escapes = [str(allowed / ".." / ".." / outside.relative_to(outside.anchor)), str(allowed / "link.wav"),
               str(outside), "/etc/passwd", str(allowed / "folder.wav"), str(allowed / "notes.wav"),
               "relative/take.wav", str(allowed / "missing.wav")]
    client = Udp(osc["direct"].port)
    try:
        before = len(osc["svc"].jobs())
        for i, path in enumerate(escapes):
            jid = f"esc-{i}"
            client.send("/audioldm/upsample", jid, path, 0.0, 0.0)
            err = client.recv("/audioldm/error", pred=lambda a, jid=jid: a[0] == jid)
            assert err[1] == "path_refused", (path, err)
        assert len(osc["svc"].jobs()) == before
    finally:
        client.close()


# --------------------------------------------------------------------------- hostile packets

def _malformed(rng: random.Random) -> bytes:
    kind = rng.randrange(10)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))
    if kind == 1:  # a request cut short (and invalid even whole: negative duration)
        b = OscMessageBuilder(address="/audioldm/generate")
        for a in ("fz", "a low kick drum", -1.0):
            b.add_arg(a)
        d = b.build().dgram
        return d[:rng.randrange(1, len(d))]
    if kind == 2:  # an address that is not UTF-8
        return b"/audioldm/\xff\xfe\xc3\x28\x00\x00,\x00\x00\x00"
    if kind == 3:  # a string argument that is not UTF-8
        return b"/audioldm/job\x00\x00\x00\x00,s\x00\x00\x80\x81\x82\x00"
    if kind == 4:  # a bundle far in the future, with an element size that lies
        return b"#bundle\x00" + struct.pack(">Q", 0xFFFFFFFF00000000) + struct.pack(">I", rng.choice(
            [0xFFFFFFFF, 0x7FFFFFFF, 3, 1 << 20])) + b"/audioldm/ping\x00\x00,\x00\x00\x00"
    if kind == 5:  # bundles nested hundreds deep
        inner = b"/audioldm/nope\x00\x00,\x00\x00\x00"
        for _ in range(rng.randrange(50, 1500)):
            inner = b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">I", len(inner)) + inner
        return inner[:65000]
    if kind == 6:  # a blob whose size lies
        return b"/audioldm/job\x00\x00\x00\x00,b\x00\x00" + struct.pack(">i", rng.choice([-8, 0x7FFFFFF0, 1 << 30])) + b"xx"
    if kind == 7:  # oversized
        return b"/audioldm/ping\x00\x00,s\x00\x00" + b"A" * rng.randrange(9000, 60000) + b"\x00" * 4
    if kind == 8:  # well-formed, wrong types or unknown names (answered with bad_args)
        address = rng.choice(["/audioldm/generate", "/audioldm/inpaint", "/audioldm/ping", "/audioldm/cancel",
                              "/audioldm/subscribe", "/audioldm/x"])
        b = OscMessageBuilder(address=address)
        if address in ("/audioldm/generate", "/audioldm/inpaint"):
            b.add_arg(rng.choice(["", True, 2.5, b"\x00\x01"]))  # never a valid job id: nothing renders
        for _ in range(rng.randrange(0, 6)):
            b.add_arg(rng.choice([1, -5, 2.5, float("nan"), "", "x" * 300, b"\x00\x01", True]))
        return b.build().dgram
    return b"\x00" * rng.randrange(0, 64)  # empty and padding-only


def test_ten_thousand_malformed_packets_leave_the_bridge_answering(osc):
    psutil = pytest.importorskip("psutil")
    bridge, svc = osc["direct"], osc["svc"]
    client = Udp(bridge.port)
    proc = psutil.Process()
    try:
        client.send("/audioldm/ping")
        client.recv("/audioldm/pong")
        threads0, rss0, jobs0 = threading.active_count(), proc.memory_info().rss, len(svc.jobs())
        received0 = bridge.counters.received
        rng = random.Random(1234)
        n = 10_000
        for i in range(n):
            packet = _malformed(rng)
            client.raw(packet)
            # The kernel's socket buffer is finite: let the bridge read (not the bridge's limit).
            if len(packet) > 8192 or i % 50 == 49:
                time.sleep(0.002)
        deadline = time.monotonic() + 120
        while bridge.counters.received - received0 < n * 0.99 and time.monotonic() < deadline:
            time.sleep(0.1)
        while bridge._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.1)
        client.send("/audioldm/ping")
        assert client.recv("/audioldm/pong", timeout=10)[0] == "0.1.0"
        assert bridge.counters.received - received0 >= n * 0.99
        assert bridge.counters.malformed > n // 4 and bridge.counters.errors == 0
        assert len(svc.jobs()) == jobs0  # nothing was rendered
        assert threading.active_count() <= threads0 + 1
        assert proc.memory_info().rss - rss0 < 64 * 2**20
    finally:
        client.close()


def test_a_flood_from_one_sender_is_rate_limited_and_counted(osc):
    svc = osc["svc"]
    slow = OscBridge(svc, OscConfig(port=0, allow_dirs=(), rate_per_s=50, burst=100)).start()
    client = Udp(slow.port)
    try:
        for _ in range(2000):
            client.send("/audioldm/nope")
        time.sleep(2.5)  # tokens come back at 50 per second
        client.send("/audioldm/status")
        status = client.recv("/audioldm/status")
        assert status[5] > 1000 and slow.counters.rate_limited == status[5]
    finally:
        client.close()
        slow.close()


def test_lan_listening_needs_an_allow_list(osc):
    from engine.errors import BridgeError

    with pytest.raises(BridgeError, match="--allow-sender"):
        OscBridge(osc["svc"], OscConfig(host="0.0.0.0", port=0))


# --------------------------------------------------------------------------- the engine dies

def test_engine_killed_twice_while_six_jobs_wait_each_ends_done_once(osc):
    svc, bridge = osc["svc"], osc["direct"]
    client = Udp(bridge.port)
    client.send("/audioldm/subscribe", client.sock.getsockname()[1])
    client.recv("/audioldm/subscribed")
    ids = [job_id() for _ in range(6)]
    try:
        for jid in ids:
            client.send("/audioldm/generate", jid, "rain on a roof", 0.5, "steps", 60, "seed", 1)
            client.recv("/audioldm/accepted", pred=lambda a, jid=jid: a == [jid])
        done: dict[str, int] = {}
        kills = 0
        deadline = time.monotonic() + 300
        while len(done) < 6 and time.monotonic() < deadline:
            if kills < 2 and (kills == 0 or len(done) >= 2):
                st = svc.status()
                if st.pid and st.state == "busy":
                    os.kill(st.pid, signal.SIGKILL)
                    kills += 1
                    client.send("/audioldm/ping")  # the bridge answers while the engine restarts
                    client.recv("/audioldm/pong", timeout=2)
            try:
                data, _ = client.sock.recvfrom(65535)
            except socket.timeout:
                continue
            for m in OscPacket(data).messages:
                if m.message.address == "/audioldm/done" and m.message.params[0] in ids:
                    done[m.message.params[0]] = done.get(m.message.params[0], 0) + 1
        time.sleep(1.0)  # a duplicate would arrive now
        while True:
            try:
                data, _ = client.sock.recvfrom(65535)
            except socket.timeout:
                break
            for m in OscPacket(data).messages:
                if m.message.address == "/audioldm/done" and m.message.params[0] in ids:
                    done[m.message.params[0]] += 1
        assert kills == 2
        assert done == {jid: 1 for jid in ids}
    finally:
        client.send("/audioldm/unsubscribe", client.sock.getsockname()[1])
        client.close()


@needs_liblo
def test_serve_listens_for_osc_through_its_hook(tmp_path):
    """`audioldm-bridge serve --osc-port P`: the bridge is attached by its serve hook (entry point)."""
    port = free_port()
    dump = Dump()
    env = {**os.environ, "AUDIOLDM_BRIDGE_RUNTIME": str(tmp_path / "rt")}
    serve = subprocess.Popen(["audioldm-bridge", "serve", "--journal", str(tmp_path / "jobs.sqlite3"),
                              "--library", str(tmp_path / "lib"), "--osc-port", str(port), "--device", "cpu"],
                             stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.err", "w"), env=env)
    try:
        deadline = time.monotonic() + 60
        while not dump.all("/audioldm/pong") and time.monotonic() < deadline:
            oscsend(port, "/audioldm/ping", "i", dump.port)
            time.sleep(0.3)
        assert dump.all("/audioldm/pong")[0] == ["0.1.0"]
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(60)
        dump.close()
    err = (tmp_path / "serve.err").read_text()
    assert f"OSC: listening on 127.0.0.1:{port}" in err and serve.returncode == 0
