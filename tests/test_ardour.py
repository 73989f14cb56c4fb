"""A real DAW round trip: Ardour 7 (Debian's `ardour`) under X on its Dummy backend. A session with
a region of a real recording; our Lua script sends the selected region to the bridge over OSC; the
bridge renders it with the built-in model; our import script brings the result back at the original
position on a new track; the saved session, read back, holds it there and the original untouched."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")
SUPERCLOCK = 282_240_000  # Ardour 7's superclock ticks per second
pytestmark = [
    pytest.mark.skipif(shutil.which("ardour") is None or shutil.which("ardour7-lua") is None,
                       reason="Ardour 7 not installed (.ci/run installs the `ardour` package)"),
    pytest.mark.skipif(not (os.environ.get("DISPLAY") or shutil.which("xvfb-run")),
                       reason="no X display and no xvfb-run (.ci/run starts Xvfb)"),
    pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it"),
]


def q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def private_config(cfg: Path, command_file: Path) -> None:
    """Ardour's config with no first-run wizard, the Dummy backend, and action slot 1 running
    whatever ``command_file`` holds when triggered."""
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / ".a7").write_text("")
    (cfg / "config").write_text("""<?xml version="1.0" encoding="UTF-8"?>
<Ardour>
  <Config>
    <Option name="try-autostart-engine" value="1"/>
    <Option name="hide-dummy-backend" value="0"/>
  </Config>
  <Extra><AudioMIDISetup><EngineStates>
    <State backend="None (Dummy)" driver="Normal Speed" device="Silence" input-device="" output-device=""
      sample-rate="48000" buffer-size="1024" n-periods="0" input-latency="0" output-latency="0"
      input-channels="0" output-channels="0" active="1" use-buffered-io="0" midi-option="" lru="1"/>
  </EngineStates></AudioMIDISetup></Extra>
</Ardour>
""")
    body = f"local f, err = loadfile({q(str(command_file))}) if f then f() else print(err) end"
    factory = f"local a = ...\nreturn function() {body} end\n"
    script = ('ardour { ["type"] = "EditorAction", name = "test command" }\n'
              f"function factory (params) return function () {body} end end\n")
    state = (f'scripts = {{}} scripts[1] = {{}} scripts[1]["n"] = "test command" scripts[1]["s"] = {q(script)} '
             f'scripts[1]["f"] = {q(factory)} scripts[1]["a"] = {{}} ')
    (cfg / "ui_scripts").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<UIScripts>\n'
        f'  <ActionScript lua="Lua 5.3">{base64.b64encode(state.encode()).decode()}</ActionScript>\n'
        "  <ActionHooks/>\n</UIScripts>\n")


def free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def osc(address: str, *args) -> None:
    from pythonosc.udp_client import SimpleUDPClient

    SimpleUDPClient("127.0.0.1", 3819).send_message(address, list(args) if args else [])


def wait_file(path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path} did not appear within {timeout} s")


def test_a_region_goes_through_the_bridge_and_comes_back_on_its_own_track(tmp_path):
    from daw_bridge.install import install_ardour
    from daw_bridge.osc.server import OscBridge, OscConfig
    from engine.service import RenderService

    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local" / "share"),
           "AUDIOLDM_BRIDGE_DATA": str(tmp_path / "data")}
    cfg = home / ".config" / "ardour7"
    command = tmp_path / "cmd.lua"
    private_config(cfg, command)
    # The session: one empty track, the OSC surface on, no engine hints that would ask about devices.
    (tmp_path / "mk.lua").write_text(
        f'create_session({q(str(tmp_path / "sess"))}, "sess", 48000)\n'
        'Session:new_audio_track(1, 2, nil, 1, "Audio", -1, ARDOUR.TrackMode.Normal, true, false)\n'
        'Session:save_state("", false, false, false, false, false)\nclose_session()\n')
    subprocess.run(["ardour7-lua", str(tmp_path / "mk.lua")], env=env, capture_output=True, timeout=120, check=True)
    session = tmp_path / "sess" / "sess.ardour"
    text = session.read_text().replace('<Protocol name="Open Sound Control (OSC)" active="0"/>',
                                       '<Protocol name="Open Sound Control (OSC)" active="1"/>')
    session.write_text(re.sub(r"<EngineHints[^>]*/>", "", text))
    # The bridge: the real service, our OSC surface, and our scripts installed where Ardour looks.
    os.environ["AUDIOLDM_BRIDGE_DATA"] = str(tmp_path / "data")
    os.environ["AUDIOLDM_BRIDGE_RUNTIME"] = tempfile.mkdtemp(prefix="alb-ardour-")
    port = free_udp()
    installed = install_ardour(cfg / "scripts", osc_port=port)
    assert any("audioldm_ardour.lua" in line for line in installed)
    lib = cfg / "scripts" / "audioldm_ardour.lua"
    svc = RenderService(library=tmp_path / "lib", journal=tmp_path / "jobs.sqlite3", device="cpu",
                        preload_model="builtin:default", listen=False).start()
    bridge = OscBridge(svc, OscConfig(port=port, allow_dirs=(VOICE.parent, tmp_path))).start()
    cmd = ["ardour", "-n", "-a", str(session)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a"] + cmd
    # Its own process group: killing xvfb-run alone would leave Ardour and its X server running.
    ardour = subprocess.Popen(cmd, env=env, stdout=open(tmp_path / "ardour.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        svc.wait_ready(180)

        def run(lua: str, marker: str, timeout: float = 60.0) -> str:
            done = tmp_path / marker
            command.write_text(lua + f'\nlocal m = io.open({q(str(done))}, "w") m:write("ok") m:close()\n')
            deadline = time.monotonic() + timeout
            while not done.exists() and time.monotonic() < deadline:
                osc("/access_action", "LuaAction/script-1")  # repeated until Ardour is up and runs it
                t = time.monotonic()
                while not done.exists() and time.monotonic() - t < 2.0:
                    time.sleep(0.1)
            return wait_file(done, 1)

        # 1. The user's region: the recording imported at 2.0 s on a track of its own, then selected.
        run(f"local files = C.StringVector() files:push_back({q(str(VOICE))})\n"
            "Editor:do_import(files, Editing.ImportDistinctFiles, Editing.ImportAsTrack, ARDOUR.SrcQuality.SrcBest,"
            " ARDOUR.MidiTrackNameSource.SMFTrackName, ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore,"
            " Temporal.timepos_t(96000), ARDOUR.PluginInfo(), ARDOUR.Track(), false)\n"
            'Session:save_state("", false, false, false, false, false)', "imported")
        # Selected inside Ardour's own call, counted before the marker: a fire-and-forget OSC action
        # with a sleep raced the import under load (the region was not yet selectable, nothing was sent).
        count = tmp_path / "selected-count"
        run('Editor:access_action("Editor", "select-all-objects")\n'
            f'local c = io.open({q(str(count))}, "w") c:write(Editor:get_selection().regions:regionlist():size()) c:close()',
            "selected")
        assert int(count.read_text()) == 1, "the imported region was not selected"
        # 2. Our script sends the selected region to the bridge (upsample, regenerating above 4 kHz).
        run(f'local A = loadfile({q(str(lib))})().load_config({q(str(cfg / "scripts" / "audioldm_ardour_config.lua"))})\nA.send("upsample", {{ cutoff = 4000, steps = 2 }})', "sent")
        deadline = time.monotonic() + 120
        outbox = tmp_path / "data" / "spool" / "outbox"
        while not list(outbox.glob("ardour-*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(outbox.glob("ardour-*.json")), (tmp_path / "ardour.log").read_text()[-2000:]
        # 3. Our import action (the shipped script itself) brings the render back and saves.
        action = cfg / "scripts" / "AudioLDM Import finished renders.lua"
        run(f"function ardour() end\nloadfile({q(str(action))})()\nfactory()()", "back")
        osc("/access_action", "Common/Quit")
        ardour.wait(60)
    finally:
        try:
            os.killpg(ardour.pid, signal.SIGKILL)  # whatever is left of the group (xvfb-run's X server too)
        except ProcessLookupError:
            pass
        bridge.close()
        svc.stop()

    # 4. The saved session: the original region untouched, the render at the same position, on its own track.
    deadline = time.monotonic() + 15
    while "-upsample-" not in session.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)  # Ardour writes the session as it quits
    root = ET.parse(session).getroot()
    sources = {s.get("id"): s.get("name") for s in root.iter("Source")}
    playlists = {p.get("name"): list(p.iter("Region")) for p in root.find("Playlists")}
    original = [(name, r) for name, rs in playlists.items() for r in rs
                if sources.get(r.get("source-0")) == VOICE.name]
    rendered = [(name, r) for name, rs in playlists.items() for r in rs
                if (sources.get(r.get("source-0")) or "").startswith("front-center-upsample-")]
    assert len(original) == 1 and len(rendered) == 1, (sources, list(playlists))
    assert original[0][0] != rendered[0][0]  # its own track
    position = lambda r: r.get("length").split("@")[1]  # noqa: E731  ("a<length>@a<position>")
    assert position(rendered[0][1]) == position(original[0][1]) == f"a{2 * SUPERCLOCK}"
    assert original[0][1].get("start") == "a0"
