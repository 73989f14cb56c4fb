"""Model names every front end lists, without importing torch (the GUI and OSC stay light)."""

from __future__ import annotations

BUILTIN_PREFIX = "builtin:"
DEFAULT_MODEL = "builtin:default"
BUILTIN_MODELS = ("builtin:default", "builtin:random-tiny")
KNOWN_HUB_MODELS = (
    "cvssp/audioldm-s-full-v2",
    "cvssp/audioldm-m-full",
    "cvssp/audioldm-l-full",
    "cvssp/audioldm-s-full",
    "cvssp/audioldm",
)


def cached_hub_models() -> set[str]:
    """Hub models in the local Hugging Face cache (``HF_HOME``); never touches the network."""
    try:
        from huggingface_hub import scan_cache_dir

        return {r.repo_id for r in scan_cache_dir().repos if r.repo_type == "model"}
    except Exception:
        return set()
