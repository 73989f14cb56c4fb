"""The writer: atomic, finite, provenance inside and beside the file, nothing overwritten."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from engine.audio_io import read_bext, read_provenance, sidecar_path, write_clip
from engine.errors import OutputError


def tone(n=4800, ch=2):
    t = np.arange(n) / 48000
    x = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.repeat(x[:, None], ch, axis=1)


@pytest.mark.parametrize("fmt,subtype", [("pcm24", "PCM_24"), ("pcm16", "PCM_16"), ("float32", "FLOAT")])
def test_written_file_has_format_provenance_and_bext(tmp_path, fmt, subtype):
    out = write_clip(tmp_path / "a.wav", tone(), 48000, fmt, {"prompt": "a tone", "seed": 5},
                     time_reference=96000)
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (48000, 2, 4800, subtype)
    data, _ = sf.read(str(out), dtype="float32")
    assert np.max(np.abs(data - tone())) < 1e-4
    assert read_provenance(out) == {"prompt": "a tone", "seed": 5}
    assert json.loads(sidecar_path(out).read_text())["seed"] == 5
    bext = read_bext(out)
    assert bext["time_reference"] == 96000 and "a tone" in bext["description"]
    assert bext["originator"] == "AudioLDM Bridge"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_non_finite_audio_is_refused_and_nothing_written(tmp_path):
    bad = tone()
    bad[10, 0] = np.nan
    with pytest.raises(OutputError, match="non-finite"):
        write_clip(tmp_path / "b.wav", bad, 48000, "pcm24", {})
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_backed_up_not_overwritten(tmp_path):
    target = tmp_path / "mine.wav"
    sf.write(str(target), np.zeros(100, dtype=np.float32), 48000)
    original = target.read_bytes()
    write_clip(target, tone(), 48000, "pcm24", {"seed": 1})
    backups = [p for p in tmp_path.iterdir() if ".bak-" in p.name and p.suffix == ".wav"]
    assert len(backups) == 1 and backups[0].read_bytes() == original
    assert sf.info(str(target)).frames == 4800


def test_replace_mode_is_idempotent(tmp_path):
    target = tmp_path / "job.wav"
    write_clip(target, tone(), 48000, "pcm24", {"seed": 1}, existing="replace")
    write_clip(target, tone(), 48000, "pcm24", {"seed": 1}, existing="replace")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.wav", "job.wav.json"]


def test_integer_formats_clip_instead_of_wrapping(tmp_path):
    loud = np.full((100, 1), 1.7, dtype=np.float32)
    out = write_clip(tmp_path / "c.wav", loud, 48000, "pcm16", {})
    data, _ = sf.read(str(out), dtype="float32")
    assert np.all(data > 0.99)


def test_unwritable_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions: use an impossible path instead
            target = tmp_path / "file-not-dir" / "x.wav"
            (tmp_path / "file-not-dir").write_text("")
        else:
            target = ro / "x.wav"
        with pytest.raises(OutputError, match="cannot"):
            write_clip(target, tone(), 48000, "pcm24", {})
    finally:
        ro.chmod(0o700)
