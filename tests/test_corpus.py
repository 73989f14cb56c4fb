"""Synthetic captioned corpus: determinism, rendering, and - above all - that
captions are true of the audio, re-measured with the DSP descriptors."""

from __future__ import annotations

import re
import time
from collections import defaultdict

import numpy as np
import pytest

from engine import descriptors as D
from engine.default_model import corpus as C

SR = C.DEFAULT_SR
N = int(round(SR * C.DEFAULT_DURATION_S))

# Families whose hits are evenly spaced, so the onset count must match.
REGULAR_PATTERNS = {
    "kick", "snare", "closed_hihat", "open_hihat", "clap", "rimshot", "tom", "beep", "alarm",
    "laser_zap", "bell", "pluck", "chord", "footsteps", "clock_ticking",
}


def _examples(family: str, count: int, first_seed: int = 0) -> list[C.Example]:
    return [C.make_example(first_seed + i, family=family, mix_share=0.0) for i in range(count)]


def _checkable(ex: C.Example) -> dict:
    """The absolute attributes of a single-family example, as expectations."""
    a = ex.attributes
    keys = ["f0_hz", "noise_colour", "rhythm", "envelope", "sweep", "texture", "length", "chord"]
    expect = {k: a[k] for k in keys if k in a}
    if "chord" in expect:
        expect["root"] = a["root"]
    if a["family"] in REGULAR_PATTERNS and a.get("rhythm") == "repeated":
        expect["n_hits"] = a["n_hits"]
    return expect


# -------------------------------------------------------------- registry ---


def test_registry_covers_the_sounds_producers_name():
    assert len(C.FAMILIES) >= 30
    wanted = {
        "kick", "snare", "closed_hihat", "open_hihat", "clap", "rimshot", "tom", "sine_tone",
        "square_tone", "saw_tone", "beep", "rising_sweep", "falling_sweep", "siren", "white_noise",
        "pink_noise", "brown_noise", "rain", "wind", "surf", "rumble", "thunder", "engine_hum",
        "bell", "chimes", "pluck", "pad", "chord", "laser_zap", "whoosh", "footsteps", "heartbeat",
        "clock_ticking", "bubbles", "alarm", "glitch",
    }
    assert wanted <= set(C.FAMILIES)
    for name, fam in C.FAMILIES.items():
        assert fam.name == name and fam.nouns and fam.param_ranges
        assert fam.role in ("foreground", "background")
    assert set(C.BACKGROUND_FAMILIES) and set(C.FOREGROUND_FAMILIES)


# ----------------------------------------------------- rendering & API ---


def test_make_example_is_deterministic():
    a, b, c = C.make_example(123), C.make_example(123), C.make_example(124)
    assert a.caption == b.caption and a.families == b.families and a.attributes == b.attributes
    assert np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)
    assert C.make_caption(123) == (a.caption, a.attributes)


def _assert_rendered(ex: C.Example, family: str, sr: int, n: int) -> None:
    assert ex.audio.dtype == np.float32 and ex.audio.shape == (n,)
    assert np.all(np.isfinite(ex.audio))
    # AudioLDM front end: mean removed, peak 0.5 (so never silent).
    assert abs(float(np.mean(ex.audio))) < 1e-4
    assert float(np.max(np.abs(ex.audio))) == pytest.approx(C.PEAK_LEVEL, abs=1e-6)
    assert ex.families == (family,) and ex.caption and ex.sr == sr


@pytest.mark.parametrize("family", sorted(C.FAMILIES))
def test_every_family_renders_at_any_rate_and_length(family):
    # (The default 16 kHz / 2.56 s rendering is checked in the truth test.)
    _assert_rendered(C.make_example(7, sr=44100, duration_s=1.0, family=family, mix_share=0.0), family, 44100, 44100)
    _assert_rendered(C.make_example(8, sr=8000, duration_s=0.5, family=family, mix_share=0.0), family, 8000, 4000)


def test_generation_is_fast():
    C.make_example(0)  # warm-up (filter design caches, imports)
    start = time.process_time()
    count = 40
    for seed in range(count):
        C.make_example(1000 + seed)
    per_example = (time.process_time() - start) / count
    assert per_example < 0.05


def test_mixes_are_captioned_and_quieter():
    mixed = [C.make_example(seed, mix_share=1.0) for seed in range(6)]
    for ex in mixed:
        fg, bg = ex.families
        assert fg in C.FOREGROUND_FAMILIES and bg in C.BACKGROUND_FAMILIES
        assert ex.attributes["background"] == bg
        assert -18.0 <= ex.attributes["background_db"] <= -9.0
        assert any(word in ex.caption for word in ("background", "over", "behind", "on top of", "quiet", "underneath"))
    shares = np.mean([len(C.make_caption(s)[1].get("background", "")) > 0 for s in range(600)])
    assert 0.09 < shares < 0.21  # default mix share is 15 %
    assert all("background" not in C.make_caption(s, mix_share=0.0)[1] for s in range(50))


def test_make_corpus_is_a_reproducible_sequence():
    corpus = list(C.make_corpus(3, seed=5, duration_s=1.0))
    assert len(corpus) == 3
    for i, ex in enumerate(corpus):
        again = C.make_example(C.example_seed(5, i), duration_s=1.0)
        assert ex.caption == again.caption and np.array_equal(ex.audio, again.audio)
    assert len({ex.caption for ex in corpus} | {C.make_example(C.example_seed(6, 0)).caption}) >= 3


def test_captions_vary():
    captions = [C.make_caption(seed)[0] for seed in range(400)]
    assert len(set(captions)) > 300
    by_family = defaultdict(set)
    for seed in range(300):
        caption, attrs = C.make_caption(seed, family="kick")
        by_family["kick"].add(caption)
    assert len(by_family["kick"]) > 100


# ------------------------------------------------- captions are true ---


@pytest.mark.parametrize("family", sorted(C.FAMILIES))
def test_attributes_are_true_of_the_audio(family):
    """f0, noise colour, rhythm, hit count, envelope, sweep direction,
    texture, length and chord quality all re-measure correctly."""
    for ex in _examples(family, 2, first_seed=300):
        _assert_rendered(ex, family, SR, N)
        expect = _checkable(ex)
        results = C.check_expectations(ex.audio, SR, expect)
        failed = {k: expect[k] for k, ok in results.items() if not ok}
        assert not failed, f"{ex.caption!r}: {failed}"


def test_register_words_match_the_measured_pitch():
    checked = 0
    for family in ("sine_tone", "saw_tone", "beep", "pluck", "bell", "tom"):
        for seed in range(60, 64):
            ex = C.make_example(seed, family=family, mix_share=0.0)
            word = ex.attributes.get("pitch")
            if word is None:
                continue
            f0 = D.fundamental_hz(ex.audio, SR)
            ranges = {"tom": C._TOM_REGISTERS}.get(family, C.TONE_REGISTERS)
            lo, hi = ranges[word]
            assert f0 is not None and lo * 2 ** (-2 / 12) <= f0 <= hi * 2 ** (2 / 12), (ex.caption, f0)
            checked += 1
    assert checked >= 15


def _grouped(family: str, key: str, seeds: range, per_value: int = 3) -> dict[str, list[C.Example]]:
    """Up to ``per_value`` examples for each value of attribute ``key``,
    chosen by caption (cheap) before rendering."""
    chosen: dict[str, list[int]] = defaultdict(list)
    for seed in seeds:
        value = C.make_caption(seed, family=family, mix_share=0.0)[1].get(key)
        if value is not None and len(chosen[value]) < per_value:
            chosen[value].append(seed)
    return {v: [C.make_example(s, family=family, mix_share=0.0) for s in ss] for v, ss in chosen.items()}


def _separated(groups: dict, lower: str, higher: str, measure) -> None:
    """Every ``lower`` example measures below every ``higher`` example."""
    assert groups.get(lower) and groups.get(higher), f"need both {lower} and {higher}"
    lo = [measure(ex) for ex in groups[lower]]
    hi = [measure(ex) for ex in groups[higher]]
    assert max(lo) < min(hi), (lower, lo, higher, hi)


def _centroid_per_f0(ex: C.Example) -> float:
    ref = ex.attributes.get("f0_hz") or ex.attributes.get("root_hz") or 1.0
    return D.spectral_centroid_hz(ex.audio, SR) / ref


@pytest.mark.parametrize("family", ["kick", "closed_hihat", "clap", "tom", "saw_tone", "bell", "pluck", "pad"])
def test_dark_is_darker_than_bright(family):
    # Pitched families are compared relative to their f0 (a dark high note
    # can have a higher centroid than a bright low one).
    _separated(_grouped(family, "brightness", range(80)), "dark", "bright", _centroid_per_f0)


@pytest.mark.parametrize("family", ["kick", "alarm", "footsteps", "heartbeat", "clock_ticking", "closed_hihat"])
def test_fast_has_a_higher_onset_rate_than_slow(family):
    _separated(_grouped(family, "tempo", range(60)), "slow", "fast", lambda ex: D.onset_rate(ex.audio, SR))


def test_siren_speed_is_the_wobble_rate():
    def reversals(ex):
        _, f0, _ = D.pitch_track(ex.audio, SR)
        track = f0[np.isfinite(f0)]
        return int(np.sum(np.diff(np.sign(np.diff(np.log(track)))) != 0))

    groups = _grouped("siren", "tempo", range(40), per_value=2)
    _separated(groups, "slow", "fast", reversals)


def test_single_hits_have_fewer_onsets_than_patterns():
    for family in ("snare", "clap", "beep"):
        groups = _grouped(family, "rhythm", range(40), per_value=2)
        _separated(groups, "single", "repeated", lambda ex: len(D.onset_times(ex.audio, SR)))


def test_noise_colours_are_ordered():
    slopes = {
        colour: [D.noise_slope_db_per_octave(ex.audio, SR) for ex in _examples(f"{colour}_noise", 2, 500)]
        for colour in ("white", "pink", "brown")
    }
    assert max(slopes["brown"]) < min(slopes["pink"]) and max(slopes["pink"]) < min(slopes["white"])


def test_fading_and_swelling_have_opposite_slopes():
    for family in ("sine_tone", "pink_noise", "pad"):
        groups = _grouped(family, "envelope", range(60), per_value=2)
        _separated(groups, "fading", "swelling", lambda ex: D.envelope_slope(ex.audio, SR))


def test_short_is_shorter_than_long():
    for family in ("kick", "open_hihat", "saw_tone", "whoosh"):
        groups = _grouped(family, "length", range(60), per_value=2)
        _separated(groups, "short", "long", lambda ex: D.effective_duration_s(ex.audio, SR))


def test_texture_descriptors_of_nature_sounds():
    def envelope_spread_db(ex):
        level = 20 * np.log10(D.envelope(ex.audio, SR, 0.05) + 1e-9)
        return float(np.std(level[level > level.max() - 40]))

    _separated(_grouped("wind", "gusts", range(40), 2), "steady", "gusty", envelope_spread_db)
    _separated(_grouped("rain", "intensity", range(40), 2), "heavy", "light", envelope_spread_db)
    _separated(_grouped("bubbles", "density", range(40), 2), "sparse", "dense", lambda ex: D.onset_rate(ex.audio, SR))
    thunder = _grouped("thunder", "distance", range(40), 2)
    _separated(thunder, "distant", "close", lambda ex: D.spectral_centroid_hz(ex.audio, SR))


def test_low_sounds_without_a_pitch_are_low():
    for family in ("rumble", "heartbeat"):
        for ex in _examples(family, 2, 600):
            assert ex.attributes["pitch"] == "low"
            assert D.band_energy_ratio(ex.audio, SR, 500.0) < 0.05


def test_caption_words_follow_the_attributes():
    """Spot-check the wording: the words used come from the attribute values."""
    for seed in range(200):
        caption, attrs = C.make_caption(seed, mix_share=0.0)
        text = caption.lower()
        if attrs.get("note") and attrs.get("pitch_mode") == "note" and re.search(r"\b[a-g]#?\d\b", text):
            assert attrs["note"].lower() in text
        if attrs["family"].endswith("_noise"):
            assert attrs["noise_colour"] in text or "static" in text or "1/f" in text or "red" in text
        if attrs.get("sweep") == "rising":
            assert not any(w in text for w in ("falling", "downward", "descending", "sweeping down"))
        if attrs.get("sweep") == "falling":
            assert not any(w in text for w in ("rising", "upward", "ascending", "sweeping up"))
        if attrs.get("brightness") != "dark":
            assert not any(w in text for w in ("dark", "muffled", "dull", "mellow"))
        if attrs.get("rhythm") != "repeated":
            assert not any(w in text for w in ("repeated", "repeating", "times in a row"))
        if attrs.get("chord"):
            other = "minor" if attrs["chord"] == "major" else "major"
            assert other not in text


# ------------------------------------------------------- held-out set ---


def test_held_out_prompts_are_well_formed():
    prompts = C.held_out_prompts()
    assert 35 <= len(prompts) <= 60
    assert len({p["prompt"] for p in prompts}) == len(prompts)
    absolute = {"f0_hz", "noise_colour", "rhythm", "envelope", "sweep", "texture", "length", "chord", "root", "n_hits"}
    pairs = defaultdict(list)
    for item in prompts:
        assert item["family"] in C.FAMILIES
        assert item["expect"] and set(item["expect"]) <= absolute | set(C.ORDERINGS)
        if "pair" in item:
            pairs[item["pair"]].append(item)
    assert len(pairs) >= 10
    for pair_id, items in pairs.items():
        assert len(items) >= 2, pair_id
        shared = set.intersection(*(set(i["expect"]) for i in items)) & set(C.ORDERINGS)
        assert any(len({i["expect"][k] for i in items}) == len(items) for k in shared), pair_id


def test_unseen_vocabulary_wording_is_never_generated():
    terms = C.HELD_OUT_TERMS
    for item in C.unseen_vocabulary_prompts():
        assert not C.is_training_caption(item["prompt"]), item["prompt"]
    # No phrase the caption builder knows uses a held-out term...
    for phrase in C.training_phrases():
        assert C.is_training_caption(phrase), phrase
    # ...and none of thousands of generated captions does, or equals a prompt.
    prompts = {item["prompt"].lower() for item in C.unseen_vocabulary_prompts()}
    for seed in range(2500):
        caption = C.make_caption(seed)[0]
        assert C.is_training_caption(caption), caption
        assert caption.lower() not in prompts
    assert all(t == t.lower() for t in terms)


def test_expectation_checks_pass_on_matching_audio():
    """The held-out expectation rules accept suitable reference audio and
    reject opposite audio, so a model can actually pass or fail them."""
    t = np.arange(N) / SR
    hum = np.sin(2 * np.pi * 110 * t)
    assert C.check_expectations(hum, SR, {"f0_hz": 110.0, "texture": "tonal"}) == {"f0_hz": True, "texture": True}
    assert C.check_expectations(hum, SR, {"f0_hz": 220.0}) == {"f0_hz": False}
    pink = C.make_example(0, family="pink_noise", mix_share=0.0).audio
    assert C.check_expectations(pink, SR, {"noise_colour": "pink"}) == {"noise_colour": True}
    assert C.check_expectations(pink, SR, {"noise_colour": "white"}) == {"noise_colour": False}
    # Relative keys are left to ordering_holds.
    assert C.check_expectations(hum, SR, {"pitch": "low", "tempo": "fast"}) == {}
    low, high = np.sin(2 * np.pi * 80 * t), np.sin(2 * np.pi * 2000 * t)
    assert C.ordering_holds("pitch", {"low": low, "high": high}, SR)
    assert not C.ordering_holds("pitch", {"low": high, "high": low}, SR)


def test_held_out_prompts_are_new_sentences_in_the_training_vocabulary():
    """The main evaluation set: never a generated caption, but every word is one training uses."""
    prompts = {item["prompt"].lower(): item for item in C.held_out_prompts()}
    vocabulary: set[str] = set()
    for seed in range(20000):
        caption = C.make_caption(seed)[0].lower()
        assert caption not in prompts, caption
        vocabulary.update(re.findall(r"[a-z0-9#.\-]+", caption))
    for text in prompts:
        unknown = [w for w in re.findall(r"[a-z0-9#.\-]+", text) if w not in vocabulary]
        assert not unknown, (text, unknown)


def test_unseen_vocabulary_prompts_are_well_formed():
    for item in C.unseen_vocabulary_prompts():
        assert item["family"] in C.FAMILIES and item["expect"]


def test_caption_variants_describe_the_same_clip_in_other_words():
    seed = C.example_seed(20261125, 3)
    caption, attributes = C.make_caption(seed)
    variants = C.caption_variants(seed, 6)
    assert variants == C.caption_variants(seed, 6)  # deterministic
    assert len(set(variants)) >= 3
    assert C.make_caption(seed) == (caption, attributes)  # the clip itself is unchanged
    held_out = {item["prompt"].lower() for item in C.held_out_prompts() + C.unseen_vocabulary_prompts()}
    for i in range(300):
        for text in C.caption_variants(C.example_seed(1, i), 2):
            assert text.lower() not in held_out
    # a mixed clip's variants keep naming its background
    mixed = next(s for s in (C.example_seed(2, i) for i in range(200))
                 if C.make_caption(s)[1].get("background") == "rain")
    phrases = C._BACKGROUND_PHRASES["rain"]
    assert all(any(p in v for p in phrases) for v in C.caption_variants(mixed, 4))


# ------------------------------------------------ issue 20: voices, sustain ---

def _band_balance(x: np.ndarray, sr: int) -> tuple[float, float]:
    """(1-4 kHz, 4.5-7.5 kHz) band levels in dB against the 0.1-1 kHz band."""
    from scipy.signal import welch

    f, p = welch(x, sr, nperseg=1024)
    low, mid, high = (10 * np.log10(p[(f >= lo) & (f < hi)].mean()) for lo, hi in ((100, 1000), (1000, 4000), (4500, 7500)))
    return mid - low, high - low


def test_voice_families_have_the_upper_band_of_real_speech():
    """The voice-like families exist to teach super-resolution an upper band: their 4.5-7.5 kHz band
    must sit where real speech's does (the alsa-utils test voices: 21-40 dB under 0.1-1 kHz), not at
    the -60 dB or more of the corpus's tones."""
    import soundfile as sf

    real = []
    for name in ("Front_Center", "Front_Left", "Rear_Right", "Side_Left"):
        path = f"/usr/share/sounds/alsa/{name}.wav"
        try:
            x, sr = sf.read(path)
        except (OSError, RuntimeError):
            continue
        real.append(_band_balance(x if x.ndim == 1 else x.mean(axis=1), sr)[1])
    for family in ("talking", "whisper", "crowd"):
        highs = [_band_balance(ex.audio, SR)[1] for ex in _examples(family, 6)]
        assert -45 < np.mean(highs) < -12, (family, highs)
        if real:
            assert min(real) - 12 < np.mean(highs) < max(real) + 12, (family, np.mean(highs), real)
    sine = [_band_balance(ex.audio, SR)[1] for ex in _examples("sine_tone", 6)]
    assert np.mean(sine) < -50  # the reference point: a tone has no such band


def test_steady_long_notes_are_held_to_the_end_of_the_clip():
    held = 0
    for ex in _examples("sine_tone", 80) + _examples("brown_noise", 40):
        a = ex.attributes
        if a.get("envelope") == "steady" and a.get("length") == "long":
            held += 1
            assert D.effective_duration_s(ex.audio, SR) >= 0.93 * C.DEFAULT_DURATION_S, ex.caption
    assert held >= 10


def test_an_unsaid_length_and_envelope_mean_a_sustained_sound():
    """Tones and textures that are short, fading, swelling or decaying always say so, so a prompt that
    names neither ("a sine tone") is heard as a sound held for the whole length."""
    seen = 0
    for family in ("sine_tone", "saw_tone", "white_noise", "brown_noise", "pad", "rumble"):
        for ex in _examples(family, 80):
            if not {"length", "envelope"} & set(ex.mentioned):
                seen += 1
                assert ex.attributes.get("length") != "short" and ex.attributes.get("envelope") in (None, "steady"), \
                    (ex.caption, ex.attributes)
    assert seen >= 20
