"""One place that quiets the libraries' own progress bars and load chatter (the CLI, the engine
process and the evaluation all want our progress, not transformers')."""

from __future__ import annotations

import logging
import os
import warnings


def quiet_libraries(loaded: bool = False) -> None:
    """Environment variables cover libraries imported later; with ``loaded`` the libraries are
    imported and told directly (only commands that render or load a model pay for that import)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("transformers", "diffusers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if not loaded:
        return
    try:
        import diffusers
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        diffusers.logging.set_verbosity_error()
        diffusers.utils.logging.disable_progress_bar()
    except Exception:  # pragma: no cover - logging tweaks must never break a command
        pass
