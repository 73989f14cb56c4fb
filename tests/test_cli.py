"""The CLI: one clear error line per bad argument, exit status 2; a working generate command."""

from __future__ import annotations

import subprocess
import sys

import pytest
import soundfile as sf

from engine.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_generate_writes_a_clip(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "kick.wav"
    code = main(["generate", "a low kick drum", "--model", str(tiny_model_dir), "-o", str(out),
                 "--duration", "0.75", "--steps", "2", "--seed", "4", "--sample-rate", "44100",
                 "--channels", "2"])
    assert code == 0
    info = sf.info(str(out))
    assert (info.frames, info.samplerate, info.channels) == (33075, 44100, 2)
    assert str(out) in capsys.readouterr().out


def test_tune_to_is_recorded_and_a_bad_pitch_is_one_clear_line(tiny_model_dir, tmp_path, capsys):
    from engine.audio_io import read_provenance

    out = tmp_path / "hum.wav"
    assert main(["generate", "a hum at 110 Hz", "--model", str(tiny_model_dir), "-o", str(out), "--duration", "0.5",
                 "--steps", "1", "--seed", "1", "--tune-to", "prompt"]) == 0
    meta = read_provenance(out)
    assert meta["finish"]["tune_to"] == "prompt" and meta["finished"]["tuning"]["target_hz"] == 110.0
    assert main(["generate", "x", "--model", str(tiny_model_dir), "--tune-to", "Q#2"]) == 2
    assert "finish.tune_to 'Q#2' is not a pitch" in capsys.readouterr().err
    assert main(["generate", "x", "--model", str(tiny_model_dir), "--tune-to", "A3", "--raw"]) == 2
    assert "--tune-to tunes the finished clip" in capsys.readouterr().err


@pytest.mark.parametrize("args,needle", [
    (["generate", "x", "--duration", "-1"], "duration"),
    (["generate", "x", "--steps", "0"], "steps"),
    (["generate", "x", "--model", "/no/such/folder"], "does not exist"),
    (["generate", "x", "--model", "cvssp/audioldm-s-full-v2"], "audioldm-bridge models pull cvssp/audioldm-s-full-v2"),
    (["generate", "x", "--model", "builtin:nope"], "unknown built-in model"),
    (["generate", "x", "--channels", "1", "--sample-rate", "500"], "sample_rate"),
])
def test_bad_arguments_give_one_clear_line(args, needle, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and needle in err[-1]


def test_unknown_scheduler_is_rejected_by_the_parser():
    proc = run_cli("generate", "x", "--scheduler", "euler")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_output_fails_before_rendering(tiny_model_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["generate", "x", "--model", str(tiny_model_dir), "-o", str(blocker / "x.wav"),
                 "--duration", "0.5", "--steps", "1"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_models_list_and_info(tiny_model_dir, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "builtin:default" in out and "cvssp/audioldm-s-full-v2" in out
    assert main(["models", "info", str(tiny_model_dir), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert '"clap_reranking": true' in out and '"sample_rate": 16000' in out


def test_pull_offline_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["models", "pull", "cvssp/audioldm-s-full-v2"]) == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err
