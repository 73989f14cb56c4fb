"""The request type validates itself once, with messages that name the parameter and the range."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engine.errors import InvalidRequest
from engine.request import SCHEMA_VERSION, RenderRequest


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


def test_guidance_until_is_a_fraction_of_the_steps_and_a_model_default():
    assert RenderRequest(prompt="x", seed=1).resolved({"guidance_until": 0.6}).guidance_until == 0.6
    assert RenderRequest(prompt="x", seed=1, guidance_until=1.0).resolved({"guidance_until": 0.6}).guidance_until == 1.0
    for bad in (0, -0.5, 1.5, float("nan"), "half"):
        with pytest.raises(InvalidRequest, match="guidance_until"):
            RenderRequest(prompt="x", guidance_until=bad)
    # Stored with every sampling mode, and read back from the version before it existed.
    r = RenderRequest(prompt="x", seed=1, guidance_until=0.5)
    assert json.loads(r.to_json())["guidance_until"] == 0.5 and RenderRequest.from_json(r.to_json()) == r
    old = RenderRequest.from_dict({"schema": 4, "prompt": "x", "seed": 1})
    assert old.guidance_until is None


# A journal row as version 1 (before the schema key) stored it: every field, the ignored ones too
# (the edit CLI passed its --sample-format, which edits ignore; duration_s kept its default).
V1_INPAINT = ('{"candidates": 1, "channels": 1, "cutoff_hz": null, "duration_s": 5.0, "eta": 0.0, '
              '"gap_end_s": 2.5, "gap_start_s": 2.0, "guidance_low": null, "guidance_scale": 3.0, "mode": "inpaint", '
              '"model": null, "negative_prompt": "", "peak_dbfs": -1.0, "prompt": "room tone", "raw": false, '
              '"region_end_s": 4.0, "region_start_s": 1.0, "sample_format": "pcm16", "sample_rate": 48000, '
              '"scheduler": "dpmpp", "seed": 77, "source_path": "/music/take 3.wav", "steps": 12, "strength": 0.5, '
              '"timeline_position_s": 61.5, "variations": 2}')
V1_GENERATE = ('{"candidates": 2, "channels": 2, "cutoff_hz": null, "duration_s": 1.5, "eta": 0.0, "gap_end_s": null, '
               '"gap_start_s": null, "guidance_low": 1.0, "guidance_scale": null, "mode": "generate", "model": null, '
               '"negative_prompt": "hum", "peak_dbfs": -3.0, "prompt": "a low kick drum", "raw": false, '
               '"region_end_s": null, "region_start_s": null, "sample_format": "float32", "sample_rate": 44100, '
               '"scheduler": "ddim", "seed": 5, "source_path": null, "steps": null, "strength": 0.5, '
               '"timeline_position_s": null, "variations": 1}')


def test_version_1_requests_are_migrated():
    inpaint = RenderRequest.from_json(V1_INPAINT)
    assert inpaint == RenderRequest(mode="inpaint", prompt="room tone", source_path="/music/take 3.wav",
                                    region_start_s=1.0, region_end_s=4.0, gap_start_s=2.0, gap_end_s=2.5,
                                    timeline_position_s=61.5, steps=12, guidance_scale=3.0, seed=77, variations=2)
    generate = RenderRequest.from_json(V1_GENERATE)
    assert (generate.sample_rate, generate.channels, generate.sample_format, generate.peak_dbfs) == \
        (44100, 2, "float32", -3.0)
    assert (generate.negative_prompt, generate.guidance_low, generate.scheduler, generate.candidates) == \
        ("hum", 1.0, "ddim", 2)
    # Stored again, they are the current version and hold only the fields their mode uses.
    stored = json.loads(inpaint.to_json())
    assert stored["schema"] == SCHEMA_VERSION and "sample_format" not in stored and "duration_s" not in stored
    assert RenderRequest.from_json(inpaint.to_json()) == inpaint
    assert "strength" not in json.loads(generate.to_json())
    # A version-1 upsample carried the unused default sample_rate 48000 and wrote the source's rate:
    # it still does (schema 4 gave upsample a sample_rate of its own).
    upsample = RenderRequest.from_json(V1_INPAINT.replace('"inpaint"', '"upsample"'))
    assert upsample.mode == "upsample" and upsample.sample_rate is None


def test_newer_or_bad_schema_versions_are_refused_with_what_to_do():
    with pytest.raises(InvalidRequest, match="newer audioldm-bridge.*update"):
        RenderRequest.from_dict({"schema": 99, "prompt": "x"})
    with pytest.raises(InvalidRequest, match="schema must be"):
        RenderRequest.from_dict({"schema": "two", "prompt": "x"})


def test_unknown_fields_are_named():
    with pytest.raises(InvalidRequest, match=r"unknown request field\(s\) guidence, otput"):
        RenderRequest.from_dict({"schema": 2, "prompt": "x", "guidence": 3, "otput": "a.wav"})


@pytest.mark.parametrize("mode,extra,field", [
    ("generate", {}, "strength"),
    ("generate", {}, "cutoff_hz"),
    ("inpaint", {"source_path": "a.wav", "gap_start_s": 1.0, "gap_end_s": 2.0}, "sample_rate"),
    ("inpaint", {"source_path": "a.wav", "gap_start_s": 1.0, "gap_end_s": 2.0}, "strength"),
    ("style_transfer", {"source_path": "a.wav", "prompt": "x"}, "duration_s"),
    ("upsample", {"source_path": "a.wav"}, "gap_start_s"),
])
def test_a_field_the_mode_ignores_is_refused_not_dropped(mode, extra, field):
    value = {"strength": 0.9, "cutoff_hz": 4000.0, "sample_rate": 44100, "duration_s": 2.0, "gap_start_s": 1.0}[field]
    fields = {"prompt": "a low kick drum", "seed": 1, **extra, "mode": mode, field: value}
    with pytest.raises(InvalidRequest, match=rf"{field} does not apply to mode {mode}"):
        RenderRequest(**fields)
    with pytest.raises(InvalidRequest, match=rf"{field} does not apply"):
        RenderRequest.from_dict({"schema": 2, **fields})
