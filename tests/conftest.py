"""Shared fixtures: tiny random AudioLDM models built once per session (no download)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Keep user folders out of the tests and never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Rebuildable caches (the random test model, engine.tuning's measurements) in a folder of this run.
os.environ.setdefault("AUDIOLDM_BRIDGE_CACHE", tempfile.mkdtemp(prefix="audioldm-bridge-test-cache-"))
# Real windows under Xvfb when there is a display (.ci/run starts one), offscreen otherwise.
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOLDM_BRIDGE_OUTPUT", str(tmp_path / "library"))
    monkeypatch.setenv("AUDIOLDM_BRIDGE_DATA", str(tmp_path / "data"))


@pytest.fixture(scope="session")
def model_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_model_dir(model_root) -> Path:
    """Two-block UNet, with a tiny CLAP audio branch for re-ranking."""
    from engine.random_model import build_random_audioldm

    return build_random_audioldm(model_root / "tiny", size="tiny", seed=0, with_clap=True)


@pytest.fixture(scope="session")
def tiny3_model_dir(model_root) -> Path:
    """Three-block UNet, no CLAP audio branch."""
    from engine.random_model import build_random_audioldm

    return build_random_audioldm(model_root / "tiny3", size="tiny3", seed=1, with_clap=False)


@pytest.fixture(scope="session")
def models():
    from engine.loader import ModelCache

    return ModelCache(device="cpu")
