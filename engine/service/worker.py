"""The engine process: started with the *spawn* method, it loads models once and renders jobs.

It talks to the supervisor over two one-way pipes (commands in, events out) and one pair of shared
values (which job to cancel, and when the cancel was asked for). A heartbeat thread reports
liveness, memory and phase even while a sampling step is computing. The process owns no job
state: if it dies, the supervisor re-queues what it was doing from the journal.

This module imports nothing heavy at import time; torch and the pipeline are imported inside
:func:`worker_main`, after the heartbeat has started, so a start that hangs in an import is seen.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

#: Cancel-seq value meaning "cancel whatever is running".
CANCEL_ANY = -1


def rss_bytes() -> int | None:
    """Resident memory of this process in bytes (psutil when installed, else /proc, else None)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:
        pass
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except Exception:
        return None


class _Sender:
    """Thread-safe sends (main thread and heartbeat thread share the event pipe). If the
    supervisor is gone the pipe breaks, and an orphaned engine must not keep rendering: exit."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def __call__(self, kind: str, **data: Any) -> None:
        data = {k: _plain(v) for k, v in data.items()}
        with self.lock:
            try:
                self.conn.send((kind, data))
            except (BrokenPipeError, EOFError, OSError):
                os._exit(3)


def _plain(value: Any) -> Any:
    """Only plain data crosses the pipe: unpickling a torch type (even ``torch.__version__``, a str
    subclass) would import torch into the app, which stays torch-free (and would stall for seconds)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if type(value).__module__ == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return np.ascontiguousarray(value)
        return value.item()
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


class _State:
    def __init__(self) -> None:
        self.phase = "starting"
        self.job: int | None = None
        self.model: str | None = None
        self.device: str | None = None


def _heartbeat(send: _Sender, state: _State, every_s: float, parent: int) -> None:
    while True:
        time.sleep(every_s)
        if os.name != "nt" and os.getppid() != parent:
            os._exit(4)  # the app died; nobody will collect our results
        gpu = None
        if state.device and state.device.startswith("cuda"):
            try:
                import torch

                gpu = int(torch.cuda.memory_allocated())
            except Exception:
                gpu = None
        send("heartbeat", phase=state.phase, job=state.job, rss=rss_bytes(), gpu=gpu)


def worker_main(cmd_conn, evt_conn, cancel_seq, cancel_time, config: dict[str, Any]) -> None:
    """Entry point of the engine process (must be importable: the spawn start method)."""
    send = _Sender(evt_conn)
    state = _State()
    # Ctrl-C in a terminal reaches the whole process group; the supervisor decides when we stop.
    try:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        pass
    # The service decides where files go; a request has no say (nothing outside the library).
    os.environ["AUDIOLDM_BRIDGE_OUTPUT"] = str(config["library"])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parent = os.getppid() if os.name != "nt" else 0
    threading.Thread(target=_heartbeat, args=(send, state, float(config.get("heartbeat_s", 0.5)), parent),
                     name="heartbeat", daemon=True).start()
    send("hello", pid=os.getpid())
    faults = config.get("faults") or {}
    if faults.get("fake_engine"):
        return _fake_main(send, state, cmd_conn, cancel_seq, cancel_time, config, faults)

    t0 = time.perf_counter()
    from ..quiet import quiet_libraries

    quiet_libraries(loaded=True)
    import torch

    from ..loader import ModelCache, pick_device
    # Import the model classes now: "ready" then means warm, and the first load does not pay for it.
    from diffusers import AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, UNet2DConditionModel  # noqa: F401
    from transformers import AutoTokenizer, ClapTextModelWithProjection, SpeechT5HifiGan  # noqa: F401

    from .. import pipeline  # noqa: F401

    threads = config.get("torch_threads")
    if threads:
        torch.set_num_threads(int(threads))
    device = str(pick_device(config.get("device", "auto")))
    state.device = device
    models = ModelCache(device=config.get("device", "auto"), dtype=config.get("dtype", "auto"))
    state.phase = "idle"
    send("ready", device=device, import_s=time.perf_counter() - t0, torch=torch.__version__,
         python=sys.version.split()[0])

    preload = config.get("preload_model")
    if preload:
        _warm(send, state, models, preload, faults)

    while True:
        try:
            kind, data = cmd_conn.recv()
        except (EOFError, OSError):
            return  # supervisor gone
        if kind == "shutdown":
            send("bye")
            return
        if kind == "job":
            _run_job(send, state, models, data, cancel_seq, cancel_time, faults)
        elif kind == "load":
            _warm(send, state, models, data["model"], faults)
        elif kind == "cleanup":
            _cleanup(data)


def _warm(send: _Sender, state: _State, models, name: str, faults: dict) -> None:
    """Load a model outside a job (preload, load_model()); a failure is reported, not fatal."""
    try:
        _load(send, state, models, name, None, faults, attempt=1)
    except Exception as exc:
        send("load_failed", model=name, error=str(exc) if _is_bridge_error(exc) else
             f"internal error: {type(exc).__name__}: {exc}")
        _free_memory()
    finally:
        state.phase = "idle"


def _is_bridge_error(exc: BaseException) -> bool:
    from ..errors import BridgeError

    return isinstance(exc, BridgeError)


def _load(send: _Sender, state: _State, models, name: str | None, job: int | None,
          faults: dict, attempt: int) -> bool:
    from ..loader import DEFAULT_MODEL

    name = name or DEFAULT_MODEL
    current = models.current
    if current is not None and current.name == name:
        return False
    state.phase = "loading"
    send("loading", job=job, model=name)
    if faults.get("hang_load_model") == name and attempt == 1:
        while True:  # test hook: a load that never returns (the heartbeat keeps going)
            time.sleep(3600)
    t0 = time.perf_counter()
    model = models.get(name)  # evicts the previous model first
    state.model = name
    send("loaded", job=job, model=name, device=str(model.device), seconds=time.perf_counter() - t0)
    return True


def _run_job(send: _Sender, state: _State, models, data: dict, cancel_seq, cancel_time, faults: dict) -> None:
    from ..errors import BridgeError, Cancelled
    from ..pipeline import render
    from ..request import RenderRequest

    job = int(data["job"])
    attempt = int(data.get("attempt", 1))
    state.job = job
    send("started", job=job, pid=os.getpid())
    t0 = time.perf_counter()
    completed: list[float] = []  # monotonic time each step completed
    try:
        request = RenderRequest.from_json(data["request"])
        _load(send, state, models, request.model, job, faults, attempt)
        state.phase = "rendering"
        hang_prompt = faults.get("hang_step_prompt")

        def cancel() -> bool:
            seq = cancel_seq.value
            return seq == job or seq == CANCEL_ANY

        def progress(info) -> None:
            completed.append(time.monotonic())
            send("step", job=job, step=info.step, total=info.total, elapsed=info.elapsed_s, eta=info.eta_s)
            if info.preview is not None:
                send("preview", job=job, step=info.step, total=info.total,
                     rate=int(models.current.sample_rate), audio=info.preview.astype("float32"))
            if hang_prompt is not None and request.prompt == hang_prompt and attempt == 1:
                while True:  # test hook: a step that never ends (the heartbeat keeps going)
                    time.sleep(3600)

        # The files carry the job id (engine.naming): "replace" only ever replaces this job's own
        # files, from an attempt the engine did not live to finish.
        result = render(request, models, output=None, progress=progress, cancel=cancel,
                        existing="replace", preview_every=int(data.get("preview_every") or 0), job_id=job)
        library = Path(data["library"]).resolve()
        outside = [str(c.path) for c in result.clips if not _inside(Path(c.path), library)]
        if outside:  # defence in depth: the service never passes a path, so this is a bug
            send("failed", job=job, error=f"internal error: wrote outside the output library: {outside}",
                 kind="OutputError")
            return
        send("done", job=job, seconds=time.perf_counter() - t0, warnings=list(result.warnings),
             clips=[{"path": str(c.path), "seed": c.seed, "sample_rate": c.sample_rate, "frames": c.frames,
                     "channels": c.channels, "clap_score": c.clap_score} for c in result.clips])
    except Cancelled:
        asked = cancel_time.value
        after = sum(1 for t in completed if t > asked) if asked > 0 else None
        send("cancelled", job=job, steps_done=len(completed), steps_after=after)
    except BridgeError as exc:
        send("failed", job=job, error=str(exc), kind=type(exc).__name__)
    except Exception as exc:  # a bug or a torch error: report it, keep the engine alive
        send("failed", job=job, error=f"internal error: {type(exc).__name__}: {exc}", kind=type(exc).__name__,
             traceback=traceback.format_exc())
        _free_memory()
    finally:
        state.job = None
        state.phase = "idle"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def _free_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:
        pass


def _cleanup(data: dict) -> None:
    """Remove temp files (``.NAME-j<job>.wav.XXXX.part``) a killed engine left while writing a job's
    clips: only that job's (its id is in the name), and only ones written since it started."""
    from ..naming import job_temp_pattern
    from ..request import RenderRequest

    try:
        request = RenderRequest.from_json(data["request"])
        pattern = job_temp_pattern(request, int(data["job"]))
    except Exception:
        return
    folder = Path(data["library"])
    since = float(data.get("since") or 0) - 2.0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        if pattern.match(p.name):
            try:
                if p.stat().st_mtime >= since:
                    p.unlink()
            except OSError:
                pass


# --------------------------------------------------------------------------- test double

def _fake_main(send: _Sender, state: _State, cmd_conn, cancel_seq, cancel_time, config: dict, faults: dict) -> None:
    """A stand-in engine for supervision tests (``faults={"fake_engine": True}``): same protocol,
    same cancel/heartbeat behaviour, no torch (starts in a fraction of a second, writes no files).
    Steps take ``fake_step_s``, loads ``fake_load_s``. Other faults: ``hang_step_prompt``,
    ``hang_load_model`` (first attempt only) and ``crash_prompt`` (SIGKILLs itself at step 1,
    every attempt)."""
    import signal

    from ..request import DEFAULT_SAMPLER, RenderRequest

    step_s = float(faults.get("fake_step_s", 0.02))
    load_s = float(faults.get("fake_load_s", 0.05))
    state.device = "fake"
    state.phase = "idle"
    send("ready", device="fake", import_s=0.0, torch="none", python=sys.version.split()[0])
    model: str | None = None

    def load(name: str, job: int | None, attempt: int) -> None:
        nonlocal model
        if name == model:
            return
        state.phase = "loading"
        send("loading", job=job, model=name)
        if faults.get("hang_load_model") == name and attempt == 1:
            while True:
                time.sleep(3600)
        time.sleep(load_s)
        model = name
        send("loaded", job=job, model=name, device="fake", seconds=load_s)

    if config.get("preload_model"):
        load(config["preload_model"], None, 1)
    while True:
        try:
            kind, data = cmd_conn.recv()
        except (EOFError, OSError):
            return
        if kind == "shutdown":
            send("bye")
            return
        if kind == "load":
            load(data["model"], None, 1)
            state.phase = "idle"
            continue
        if kind != "job":
            continue
        job, attempt = int(data["job"]), int(data.get("attempt", 1))
        state.job = job
        send("started", job=job, pid=os.getpid())
        request = RenderRequest.from_json(data["request"]).resolved(DEFAULT_SAMPLER)  # no model to ask
        load(request.model or "builtin:default", job, attempt)
        state.phase = "rendering"
        completed: list[float] = []
        t0 = time.perf_counter()
        every = int(data.get("preview_every") or 0)
        try:
            for i in range(request.steps):
                seq = cancel_seq.value
                if seq == job or seq == CANCEL_ANY:
                    asked = cancel_time.value
                    send("cancelled", job=job, steps_done=len(completed),
                         steps_after=sum(1 for t in completed if t > asked) if asked > 0 else None)
                    break
                if faults.get("crash_prompt") == request.prompt:
                    os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(step_s)
                completed.append(time.monotonic())
                elapsed = time.perf_counter() - t0
                send("step", job=job, step=i + 1, total=request.steps, elapsed=elapsed,
                     eta=elapsed / (i + 1) * (request.steps - i - 1))
                if every and (i + 1) % every == 0 and i + 1 < request.steps:
                    import numpy as np

                    send("preview", job=job, step=i + 1, total=request.steps, rate=16000,
                         audio=np.zeros(int(request.duration_s * 16000), dtype="float32"))
                if faults.get("hang_step_prompt") == request.prompt and attempt == 1:
                    while True:
                        time.sleep(3600)
            else:
                send("done", job=job, seconds=time.perf_counter() - t0, warnings=[], clips=[])
        finally:
            state.job = None
            state.phase = "idle"
