"""The request type validates itself once, with messages that name the parameter and the range."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engine.errors import InvalidRequest
from engine.request import RenderRequest


def test_defaults_are_valid_and_seed_is_recorded():
    r = RenderRequest(prompt="a low kick drum")
    assert r.mode == "generate" and isinstance(r.seed, int) and r.seed >= 0


def test_request_is_frozen():
    r = RenderRequest(prompt="x", seed=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.steps = 3  # type: ignore[misc]


def test_json_round_trip_is_exact():
    r = RenderRequest(prompt="rain", negative_prompt="hum", duration_s=1.3, steps=7, seed=99, candidates=2)
    assert RenderRequest.from_json(r.to_json()) == r


@pytest.mark.parametrize("changes,needle", [
    (dict(duration_s=-1), "duration"),
    (dict(duration_s=0.2), "duration"),
    (dict(duration_s=float("nan")), "duration"),
    (dict(steps=0), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(scheduler="euler"), "scheduler"),
    (dict(guidance_scale=-1), "guidance"),
    (dict(seed=-3), "seed"),
    (dict(sample_rate=1000), "sample_rate"),
    (dict(channels=6), "channels"),
    (dict(sample_format="mp3"), "sample_format"),
    (dict(candidates=0), "candidates"),
    (dict(mode="remix"), "mode"),
    (dict(prompt="  "), "prompt"),
    (dict(strength=1.5), "strength"),
    (dict(model=""), "model"),
    (dict(source_path="x.wav"), "source"),
])
def test_bad_values_give_a_clear_error(changes, needle):
    base = dict(prompt="a low kick drum", seed=1)
    base.update(changes)
    with pytest.raises(InvalidRequest) as err:
        RenderRequest(**base)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_edit_modes_need_their_inputs():
    with pytest.raises(InvalidRequest, match="source"):
        RenderRequest(mode="inpaint", seed=1)
    with pytest.raises(InvalidRequest, match="gap"):
        RenderRequest(mode="inpaint", source_path="a.wav", seed=1)
    with pytest.raises(InvalidRequest, match="after"):
        RenderRequest(mode="inpaint", source_path="a.wav", gap_start_s=2, gap_end_s=1, seed=1)
    with pytest.raises(InvalidRequest, match="region"):
        RenderRequest(mode="upsample", source_path="a.wav", region_start_s=3, region_end_s=1, seed=1)
    with pytest.raises(InvalidRequest, match="cutoff"):
        RenderRequest(mode="upsample", source_path="a.wav", cutoff_hz=12000, seed=1)
    ok = RenderRequest(mode="inpaint", source_path="a.wav", gap_start_s=1, gap_end_s=1.5, seed=1)
    assert ok.is_edit


def test_unknown_fields_from_outside_are_rejected():
    with pytest.raises(InvalidRequest, match="unknown request field"):
        RenderRequest.from_dict({"prompt": "x", "output_path": "/etc/passwd"})


def test_seed_per_variation_and_candidate_is_distinct_and_stable():
    r = RenderRequest(prompt="x", seed=10, variations=3, candidates=2)
    seeds = [r.seed_for(v, c) for v in range(3) for c in range(2)]
    assert seeds == list(range(10, 16))
    assert json.loads(r.to_json())["seed"] == 10


def test_unset_sampler_settings_come_from_the_model_and_set_ones_are_kept():
    defaults = {"steps": 10, "guidance_scale": 3.0}
    unset = RenderRequest(prompt="x", seed=1)
    assert unset.steps is None and unset.guidance_scale is None
    assert unset.resolved(defaults).steps == 10 and unset.resolved(defaults).guidance_scale == 3.0
    own = RenderRequest(prompt="x", seed=1, steps=25, guidance_scale=1.0)
    assert own.resolved(defaults) == own
    half = RenderRequest(prompt="x", seed=1, steps=4).resolved(defaults)
    assert (half.steps, half.guidance_scale, half.guidance_low) == (4, 3.0, None)
    decoupled = unset.resolved({**defaults, "guidance_low": 1.0})
    assert decoupled.guidance_low == 1.0
    assert RenderRequest(prompt="x", seed=1, guidance_low=2.0).resolved({**defaults, "guidance_low": 1.0}).guidance_low == 2.0
    with pytest.raises(InvalidRequest, match="guidance_low"):
        RenderRequest(prompt="x", guidance_low=-1)
