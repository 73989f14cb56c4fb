"""MIDI audition: the mapping logic with mido's in-process ports, bad mapping files (file and line),
and real ports through the JACK dummy server: a note from another process renders, auditions and
lands in the library, and a sender that closes and reopens its port does not lose the next note."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

mido = pytest.importorskip("mido")

from daw_bridge.midi import mapping as M  # noqa: E402
from daw_bridge.midi.controller import MidiController  # noqa: E402
from daw_bridge.tempo import TempoTracker  # noqa: E402
from engine.service.events import EventStream, JobPreview  # noqa: E402


class Loopback(mido.ports.BaseIOPort):
    """mido's in-process port: what is sent is received."""

    def _send(self, message):
        self._messages.append(message)


class FakeService:
    def __init__(self):
        self.submitted, self.cancelled = [], []
        self.stream = EventStream()

    def submit(self, request, lane="batch", *, preview_every=0, key=None):
        self.submitted.append((request, lane, key))
        return len(self.submitted)

    def cancel(self, job):
        self.cancelled.append(job)
        return "cancelling"

    def events(self, max_pending=1000):
        return self.stream


class FakePlayer:
    def __init__(self):
        self.played, self.stopped, self.first_sound_t = [], 0, None

    def play(self, audio, rate, *, clip_id=None, gain=1.0, loop=False, start_s=0.0):
        self.played.append((clip_id, rate, gain, len(audio)))

    def stop(self):
        self.stopped += 1

    def reset_first_sound(self):
        self.first_sound_t = None


MAP = textwrap.dedent("""
    [settings]
    tempo_bpm = 120
    velocity_to_gain = true

    [[note]]
    note = "C2"
    preset = "kick-deep"

    [[note]]
    note = 60
    prompt = "a warm soft pad chord"
    mode = "gate"
    duration_beats = 2
    [note.params]
    steps = 6

    [[note]]
    note = 60
    bank = 1
    prompt = "steady rain"
    channel = 2

    [[cc]]
    cc = 1
    target = "guidance"
    min = 1.0
    max = 9.0

    [[cc]]
    cc = 2
    target = "steps"
    min = 4
    max = 40
    curve = "exp"
""")


@pytest.fixture
def rig(tmp_path):
    path = tmp_path / "midi.toml"
    path.write_text(MAP)
    service, player = FakeService(), FakePlayer()
    controller = MidiController(service, M.load(path), player=player, tempo=TempoTracker())
    port = Loopback()

    def send(msg):
        port.send(msg)
        controller.handle(port.receive())

    yield service, player, controller, send, path
    controller.close()


def test_notes_knobs_velocity_banks_and_channels(rig):
    service, player, controller, send, _ = rig
    send(mido.Message("note_on", note=36, velocity=127))
    request, lane, key = service.submitted[-1]
    assert (request.prompt, lane) == ("a deep low kick drum", "audition") and key.startswith("midi:")
    assert request.finish is not None  # the preset's chain comes along
    send(mido.Message("control_change", control=1, value=127))
    send(mido.Message("control_change", control=2, value=0))
    send(mido.Message("note_on", note=60, velocity=64))
    pad = service.submitted[-1][0]
    assert (pad.prompt, pad.guidance_scale, pad.steps, pad.duration_s) == ("a warm soft pad chord", 9.0, 4, 1.0)
    assert service.cancelled == [1]  # the new note supersedes the audition of the first
    send(mido.Message("note_on", note=61, velocity=90))  # unmapped
    assert len(service.submitted) == 2
    send(mido.Message("program_change", program=1))
    send(mido.Message("note_on", note=60, velocity=90, channel=0))  # bank 1's key 60 listens on channel 2 only
    assert len(service.submitted) == 2
    send(mido.Message("note_on", note=60, velocity=90, channel=1))
    assert service.submitted[-1][0].prompt == "steady rain"


def test_cc_curves():
    lin, exp, log = (M.CCMap(1, "guidance", 0.0, 10.0, c) for c in ("linear", "exp", "log"))
    assert [lin.value(v) for v in (0, 127)] == [0.0, 10.0] and abs(lin.value(64) - 5.04) < 0.01
    assert exp.value(64) < lin.value(64) < log.value(64)
    assert exp.value(0) == 0.0 and abs(log.value(127) - 10.0) < 1e-6
    assert M.CCMap(2, "steps", 4, 40).value(127) == 40 and isinstance(M.CCMap(2, "seed", 0, 127).value(5), int)


def test_velocity_sets_the_audition_gain_and_gate_keys_stop_on_release(rig):
    service, player, controller, send, _ = rig
    send(mido.Message("note_on", note=60, velocity=64))
    job = len(service.submitted)
    import numpy as np

    service.stream.put(JobPreview(job_id=job, step=3, total=6, sample_rate=16000, audio=np.ones(1600, np.float32)))
    deadline = time.monotonic() + 5
    while not player.played and time.monotonic() < deadline:
        time.sleep(0.01)
    clip_id, rate, gain, frames = player.played[0]
    assert clip_id == f"{job}:preview" and rate == 16000 and abs(gain - 64 / 127) < 1e-6
    send(mido.Message("note_off", note=60))
    assert player.stopped == 1  # a gate key stops when released
    send(mido.Message("note_on", note=36, velocity=127))
    send(mido.Message("note_off", note=36))
    assert player.stopped == 1  # a one-shot plays on


def test_clock_gives_the_tempo_for_lengths_in_beats(rig):
    service, player, controller, send, _ = rig
    t0 = time.monotonic() - 0.5
    for i in range(25):  # one beat at 90 bpm: 24 pulses, 0.6667 s
        controller.tempo.clock(t0 + i * (60 / 90 / 24) - 0.5)
    assert abs(controller.tempo.bpm - 90) < 0.5 and controller.tempo.source == "clock"
    send(mido.Message("note_on", note=60, velocity=100))
    assert abs(service.submitted[-1][0].duration_s - 2 * 60 / 90) < 0.02
    send(mido.Message("stop"))
    assert controller.tempo.bpm == 120 and controller.tempo.source == "set"


def test_learn_assigns_the_next_key_or_knob_and_saves_it(rig):
    service, player, controller, send, path = rig
    said = []
    controller.learn("strength", done=said.append)
    send(mido.Message("control_change", control=74, value=10))
    assert said == ["CC 74 (channel 1) -> strength"]
    controller.learn("preset:laser-zap", done=said.append)
    send(mido.Message("note_on", note=84, velocity=100))
    assert said[-1] == "note C6 (channel 1) -> preset laser-zap"
    assert len(service.submitted) == 0  # learning a key does not play it
    reloaded = M.load(path)
    assert reloaded.cc(74, 1).target == "strength" and reloaded.note(84, 0, 1).preset == "laser-zap"
    assert (path.with_name("midi.toml.bak")).is_file()
    send(mido.Message("note_on", note=84, velocity=100))
    assert service.submitted[-1][0].prompt == "a laser zap"
    with pytest.raises(Exception, match="learn target"):
        controller.learn("volume")


@pytest.mark.parametrize("text,line,needle", [
    ("[[note]]\nnote = 60\nprompt = \"x\"\nvelocty = 3\n", 4, "unknown note field 'velocty'"),
    ("[[note]]\nnote = \"H4\"\nprompt = \"x\"\n", 2, 'a note is a number 0-127 or a name'),
    ("[[note]]\nnote = 200\nprompt = \"x\"\n", 2, "0-127"),
    ("[[note]]\nnote = 60\npreset = \"no-such-preset\"\n", 3, "unknown preset"),
    ("[[note]]\nnote = 60\n", 1, "a preset or a prompt"),
    ("\n\n[[cc]]\ncc = 1\ntarget = \"volume\"\n", 5, "target must be one of"),
    ("[[cc]]\ncc = 1\ntarget = \"guidance\"\ncurve = \"square\"\n", 4, "curve must be one of"),
    ("[[note]]\nnote = 60\nprompt = \"a\"\n\n[[note]]\nnote = 60\nprompt = \"b\"\n", 5, "mapped twice"),
    ("[settings]\nchannel = 17\n", 2, "channel must be 0 (any) or 1-16"),
    ("[settings]\ntempo = 120\n", 2, "unknown setting 'tempo'"),
    ("[[note]]\nnote = 60\nprompt = \"x\"\n[note.params]\nstrength = 0.8\n", 1, "strength does not apply"),
    ("[[note]\nnote = 60\n", 1, "not valid TOML"),
])
def test_bad_mapping_files_name_file_and_line(tmp_path, text, line, needle):
    path = tmp_path / "midi.toml"
    path.write_text(text)
    with pytest.raises(M.MappingError) as err:
        M.load(path)
    assert str(err.value).startswith(f"{path}:{line}: ") and needle in str(err.value), str(err.value)


# --------------------------------------------------------------------------- real ports (JACK)

def _jack() -> bool:
    if shutil.which("jack_lsp") is None or shutil.which("jack_connect") is None:
        return False
    return subprocess.run(["jack_lsp"], capture_output=True).returncode == 0


SENDER = textwrap.dedent("""
    import subprocess, sys, time, mido
    mido.set_backend("mido.backends.rtmidi/UNIX_JACK")
    out = mido.open_output("keys", virtual=True, client_name=sys.argv[1])
    time.sleep(0.3)
    subprocess.run(["jack_connect", sys.argv[1] + ":keys", "AudioLDM Bridge:AudioLDM Bridge"], check=True)
    time.sleep(0.3)
    out.send(mido.Message("note_on", note=int(sys.argv[2]), velocity=110))
    time.sleep(0.5)
    out.send(mido.Message("note_off", note=int(sys.argv[2])))
    time.sleep(0.2)
    out.close()
""")


@pytest.mark.skipif(not _jack(), reason="no JACK server (.ci/run starts jackd with the dummy driver)")
def test_a_note_from_another_process_renders_auditions_and_lands_in_the_library(tmp_path):
    import argparse

    from daw_bridge.audition import output_devices
    from daw_bridge.midi_hook import MidiHook
    from engine.service import RenderService

    if not output_devices():
        pytest.skip("no audio output device")
    path = tmp_path / "midi.toml"
    path.write_text('[[note]]\nnote = 60\nprompt = "a deep low kick drum"\nduration_s = 1.0\n'
                    '[[note]]\nnote = 62\npreset = "hat-closed"\n')
    runtime = tempfile.mkdtemp(prefix="alb-midi-")
    import os

    os.environ["AUDIOLDM_BRIDGE_RUNTIME"] = runtime
    svc = RenderService(library=tmp_path / "lib", journal=tmp_path / "jobs.sqlite3", device="cpu",
                        preload_model="builtin:default", listen=False).start()
    attached = None
    try:
        svc.wait_ready(180)
        args = argparse.Namespace(midi_virtual=True, midi_in=None, midi_map=str(path), audio_device="system",
                                  no_audition=False)
        attached = MidiHook().attach(svc, args)
        controller = attached.controller
        for note, sender in ((60, "sender-a"), (62, "sender-b")):  # the second: a port closed and opened anew
            before = len(svc.jobs())
            subprocess.run([sys.executable, "-c", SENDER, sender, str(note)], check=True, timeout=60)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (len(svc.jobs()) > before and svc.jobs()[-1].terminal):
                time.sleep(0.1)
            rec = svc.jobs()[-1]
            assert rec.state == "done" and rec.client_key.startswith("midi:"), rec
            clip = Path(rec.outputs[0])
            assert clip.is_file() and clip.parent == (tmp_path / "lib").resolve()
            voice = controller.voices[rec.id]
            deadline = time.monotonic() + 10
            while "final" not in voice.events and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "final" in voice.events  # the finished clip went to the audio device
            assert controller.player.frames_played > 0 and controller.player.first_sound_t is not None
    finally:
        if attached is not None:
            attached.close()
        svc.stop()
