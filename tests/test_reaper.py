"""The REAPER scripts, run by a real Lua 5.4 interpreter against a fake `reaper` table that fails on
any function REAPER does not have; the spool bridge between them and the render service."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge import spool

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "daw_bridge" / "adapters" / "reaper"
FAKE = REPO / "tests" / "data" / "fake_reaper.lua"
VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")
pytestmark = pytest.mark.skipif(shutil.which("lua5.4") is None, reason="lua5.4 not installed (.ci/run installs it)")


@pytest.fixture
def rig(tmp_path):
    scripts = tmp_path / "Scripts"
    shutil.copytree(SCRIPTS, scripts)
    folder = tmp_path / "spool"
    for d in ("inbox", "outbox"):
        (folder / d).mkdir(parents=True)
    (scripts / "audioldm_bridge_config.lua").write_text(f'return {{ spool = "{folder}" }}\n')
    source = tmp_path / "take.wav"
    sf.write(str(source), np.zeros(5 * 48000, np.float32), 48000)
    return scripts, folder, source


def lua_item(guid: str, track: str, source: str, offset: float, rate: float, pos: float, length: float,
             selected: bool = True, section: bool = False) -> str:
    src = f'{{ file = "{source}" }}'
    if section:  # a section (or reversed) source: the file is its parent's
        src = f'{{ file = "", parent = {src} }}'
    return (f'{{ guid = "{guid}", selected = {str(selected).lower()}, track = {{ guid = "{track}" }}, '
            f'D_POSITION = {pos}, D_LENGTH = {length}, takes = {{ {{ source = {src}, D_STARTOFFS = {offset}, '
            f'D_PLAYRATE = {rate} }} }} }}')


def run_lua(scripts: Path, action: str, items: list[str], *, loop=(0, 0), inputs=("true", "a choir,0.3"),
            cursor: float = 0.0, after: str = "") -> list[dict]:
    driver = f"""
local state = {{ items = {{ {", ".join(items)} }}, loop = {{ {loop[0]}, {loop[1]} }},
                 inputs = {{ {inputs[0]}, "{inputs[1]}" }}, cursor = {cursor}, tracks = {{ {{ guid = "{{T1}}" }} }} }}
local calls
reaper, calls = dofile("{FAKE}")(state)
dofile("{scripts / action}")
{after}
local M = dofile("{scripts / 'audioldm_bridge.lua'}")
local out = {{}}
for _, c in ipairs(calls) do
  local args = {{}}
  for i, a in ipairs(c.args) do args[i] = type(a) == "table" and "<table>" or a end
  out[#out + 1] = {{ name = c.name, args = args }}
end
print(M.encode(out))
"""
    proc = subprocess.run(["lua5.4", "-"], input=driver, capture_output=True, text=True, timeout=30,
                          cwd=str(scripts))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1] or "[]")


def requests(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "inbox").glob("*.json"))]


def test_a_selected_item_with_offset_and_play_rate_becomes_the_right_region(rig):
    scripts, folder, source = rig
    run_lua(scripts, "AudioLDM - Style transfer selected items.lua",
            [lua_item("{I1}", "{T1}", str(source), 1.5, 2.0, 10.0, 1.0, section=True)])
    [req] = requests(folder)
    assert (req["mode"], req["source"], req["offset_s"], req["playrate"]) == ("style_transfer", str(source), 1.5, 2.0)
    assert (req["position_s"], req["length_s"], req["item"], req["track"]) == (10.0, 1.0, "{I1}", "{T1}")
    assert (req["prompt"], req["strength"]) == ("a choir", 0.3)
    request = spool.request_from(req)
    # One second of timeline at play rate 2 is two seconds of source from the take offset.
    assert (request.region_start_s, request.region_end_s) == (1.5, 3.5)
    assert request.timeline_position_s == 10.0 and request.strength == 0.3


def test_items_on_several_tracks_and_a_time_selection_for_inpaint(rig):
    scripts, folder, source = rig
    items = [lua_item("{A}", "{T1}", str(source), 0.0, 1.0, 2.0, 3.0),
             lua_item("{B}", "{T2}", str(source), 1.0, 1.0, 4.0, 2.0),
             lua_item("{C}", "{T3}", str(source), 0.0, 1.0, 20.0, 1.0)]  # the selection misses it
    calls = run_lua(scripts, "AudioLDM - Inpaint time selection.lua", items, loop=(4.5, 5.0),
                    inputs=("true", "room tone"))
    reqs = {r["item"]: r for r in requests(folder)}
    assert set(reqs) == {"{A}", "{B}"} and reqs["{B}"]["track"] == "{T2}"
    assert reqs["{A}"]["gap"] == [4.5, 5.0] and reqs["{B}"]["gap"] == [4.5, 5.0]
    assert any(c["name"] == "ShowConsoleMsg" and "skipped 1" in c["args"][0] for c in calls)
    a = spool.request_from(reqs["{A}"])
    assert (a.region_start_s, a.region_end_s, a.gap_start_s, a.gap_end_s) == (0.0, 3.0, 2.5, 3.0)
    b = spool.request_from(reqs["{B}"])
    assert (b.region_start_s, b.region_end_s, b.gap_start_s, b.gap_end_s) == (1.0, 3.0, 1.5, 2.0)


def test_no_selection_or_no_time_selection_is_a_clear_message(rig):
    scripts, folder, source = rig
    calls = run_lua(scripts, "AudioLDM - Upsample selected items.lua", [])
    assert [c["args"][0] for c in calls if c["name"] == "ShowMessageBox"] == ["Select one or more audio items first."]
    calls = run_lua(scripts, "AudioLDM - Inpaint time selection.lua",
                    [lua_item("{A}", "{T1}", str(source), 0.0, 1.0, 2.0, 3.0)], loop=(0, 0))
    assert any("time selection" in c["args"][0] for c in calls if c["name"] == "ShowMessageBox")
    assert requests(folder) == []


def test_the_result_step_adds_a_take_at_the_original_item_or_a_track_for_generate(rig):
    scripts, folder, source = rig
    rendered = str(folder / "clip.wav")
    (folder / "outbox" / "r1.json").write_text(json.dumps({
        "id": "r1", "state": "done", "mode": "style_transfer", "outputs": [rendered], "item": "{B}",
        "position_s": 4.0, "length_s": 2.0, "playrate": 2.0}))
    items = [lua_item("{A}", "{T1}", str(source), 0.0, 1.0, 2.0, 3.0), lua_item("{B}", "{T2}", str(source), 1.0, 2.0, 4.0, 2.0)]
    after = 'dofile("' + str(scripts / "audioldm_bridge.lua") + '").poll_once()'
    calls = run_lua(scripts, "AudioLDM - Insert finished renders.lua", items, after=after)
    names = [c["name"] for c in calls]
    assert ["AddTakeToMediaItem", "{B}"] == [calls[names.index("AddTakeToMediaItem")]["name"],
                                             calls[names.index("AddTakeToMediaItem")]["args"][0]]
    assert {"name": "PCM_Source_CreateFromFile", "args": [rendered]} in calls
    assert {"name": "SetMediaItemTakeInfo_Value", "args": ["D_PLAYRATE", 2]} in calls
    assert "SetActiveTake" in names and names.index("Undo_BeginBlock") < names.index("Undo_EndBlock")
    assert "InsertTrackAtIndex" not in names and not (folder / "outbox" / "r1.json").exists()
    (folder / "outbox" / "g1.json").write_text(json.dumps({
        "id": "g1", "state": "done", "mode": "generate", "outputs": [rendered], "position_s": 12.5}))
    calls = run_lua(scripts, "AudioLDM - Insert finished renders.lua", [], after=after)
    assert {"name": "InsertTrackAtIndex", "args": [1]} in calls
    assert {"name": "SetMediaItemInfo_Value", "args": ["D_POSITION", 12.5]} in calls


@pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")
def test_round_trip_through_the_spool_and_the_service(rig, tmp_path, monkeypatch):
    """REAPER's action -> spool -> service (built-in model) -> spool -> REAPER's result step."""
    import os
    import tempfile

    from engine.service import RenderService

    scripts, folder, _ = rig
    os.environ["AUDIOLDM_BRIDGE_RUNTIME"] = tempfile.mkdtemp(prefix="alb-reaper-")
    svc = RenderService(library=tmp_path / "lib", journal=tmp_path / "jobs.sqlite3", device="cpu",
                        preload_model="builtin:default", listen=False).start()
    bridge = spool.SpoolBridge(svc, folder, poll_s=0.1).start()
    try:
        run_lua(scripts, "AudioLDM - Upsample selected items.lua",
                [lua_item("{V}", "{T1}", str(VOICE), 0.2, 1.0, 30.0, 1.0)])
        deadline = time.monotonic() + 120
        while not list((folder / "outbox").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        [answer] = [json.loads(p.read_text()) for p in (folder / "outbox").glob("*.json")]
        assert answer["state"] == "done" and answer["item"] == "{V}", answer
        clip = Path(answer["outputs"][0])
        info = sf.info(str(clip))
        assert (info.samplerate, info.frames) == (48000, 48000)  # the item's second of source
        after = 'dofile("' + str(scripts / "audioldm_bridge.lua") + '").poll_once()'
        calls = run_lua(scripts, "AudioLDM - Insert finished renders.lua",
                        [lua_item("{V}", "{T1}", str(VOICE), 0.2, 1.0, 30.0, 1.0)], after=after)
        assert {"name": "PCM_Source_CreateFromFile", "args": [str(clip)]} in calls
        assert any(c["name"] == "AddTakeToMediaItem" and c["args"] == ["{V}"] for c in calls)
        assert list((folder / "inbox" / "done").glob("*.json"))  # the request was consumed
    finally:
        bridge.close()
        svc.stop()


def test_install_copies_the_scripts_keeps_a_users_file_and_configures_the_spool(tmp_path, monkeypatch):
    from daw_bridge.install import install_reaper

    monkeypatch.setenv("AUDIOLDM_BRIDGE_DATA", str(tmp_path / "data"))
    target = tmp_path / "REAPER" / "Scripts" / "AudioLDM"
    target.mkdir(parents=True)
    mine = target / "audioldm_bridge.lua"
    mine.write_text("-- my own edits\n")
    lines = install_reaper(target)
    assert any("previous file kept" in line for line in lines)
    assert [p.read_text() for p in target.glob("audioldm_bridge.lua.bak-*")] == ["-- my own edits\n"]
    assert (target / "AudioLDM - Insert finished renders.lua").is_file()
    config = (target / "audioldm_bridge_config.lua").read_text()
    assert str(tmp_path / "data" / "spool") in config
    assert all("unchanged" in line for line in install_reaper(target)[:-1])  # a second install changes nothing


def test_ardour_install_writes_absolute_paths_into_the_action_scripts(tmp_path, monkeypatch):
    from daw_bridge.install import install_ardour

    monkeypatch.setenv("AUDIOLDM_BRIDGE_DATA", str(tmp_path / "data"))
    target = tmp_path / "ardour7" / "scripts"
    install_ardour(target, osc_port=9999)
    for action in target.glob("AudioLDM *.lua"):
        text = action.read_text()
        assert "@AUDIOLDM_" not in text and str(target / "audioldm_ardour.lua") in text
        assert "dofile" not in text.replace("not dofile", "")  # Ardour's action scripts have no dofile
    config = (target / "audioldm_ardour_config.lua").read_text()
    assert "port = 9999" in config and str(tmp_path / "data" / "spool") in config
    assert (tmp_path / "data" / "spool" / "outbox").is_dir()
    # The library runs under a plain Lua too (syntax, config loading).
    driver = (f'local A = loadfile("{target / "audioldm_ardour.lua"}")().load_config("{target / "audioldm_ardour_config.lua"}")\n'
              'print(A.config().port)')
    out = subprocess.run(["lua5.4", "-"], input=driver, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "9999", out.stderr
