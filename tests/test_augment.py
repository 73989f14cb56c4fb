"""Caption augmentation (issue 20, item 4): WordNet synonyms, numbers in words, other orders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.default_model import corpus
from engine.default_model.corpus import augment as A

needs_wordnet = pytest.mark.skipif(not (Path(A.WORDNET_DIR) / "data.adj").is_file(),
                                   reason="Debian's wordnet-base is not installed (.ci/run installs it)")


def test_a_missing_wordnet_database_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path))
    A.wordnet.cache_clear()
    try:
        with pytest.raises(A.WordNetMissing, match="apt install wordnet-base"):
            A.wordnet(str(tmp_path / "cache"))
    finally:
        A.wordnet.cache_clear()


@needs_wordnet
def test_synonyms_come_from_the_sound_senses_of_wordnet(tmp_path):
    wn = A.wordnet(str(tmp_path / "wn"))
    table = A.synonym_table(["low", "high", "muffled", "quickly"], wn, pos={"low": "a", "high": "a", "muffled": "a"})
    assert {"deep", "low-pitched", "bass"} <= set(table["low"])  # "low-pitched: used of sounds and voices"
    assert {"shrill", "high-pitched"} <= set(table["high"])
    assert "muted" in table["muffled"] and "rapidly" in table["quickly"]
    # Senses not about sound are left out: "low" as in low spirits, "high" as in drunk.
    assert not {"depressed", "abject", "dejected"} & set(table["low"])
    assert not {"drunk", "intoxicated"} & set(table["high"])
    # The database was copied once, with the file NLTK needs and Debian does not ship.
    assert (tmp_path / "wn" / "lexnames").is_file() and (tmp_path / "wn" / "data.noun").is_file()


def test_numbers_are_written_in_words_and_counts_in_digits():
    rng = np.random.default_rng(0)
    assert A.numbers_in_words("a sine tone at 440 Hz", rng) == "a sine tone at four hundred and forty hertz"
    outs = {A.numbers_in_words("a beep at 1.5 kHz", np.random.default_rng(s)) for s in range(20)}
    assert outs <= {"a beep at one point five kilohertz", "a beep at fifteen hundred hertz",
                    "a beep at one thousand, five hundred hertz"}
    assert "a beep at one point five kilohertz" in outs and "a beep at fifteen hundred hertz" in outs
    assert A.numbers_in_words("a kick played four times", rng) == "a kick played 4 times"
    assert A.numbers_in_words("three claps", rng) == "3 claps"


def test_a_trailing_clause_can_come_first():
    assert A._clause_first("a bell with a long decay") == "with a long decay, a bell"
    assert A._clause_first("white noise") == "white noise"


def test_the_augmenter_rewrites_captions_reproducibly_and_keeps_their_facts():
    synonyms = {"low": ("deep",), "kick": ("bass drum",)}
    aug = A.Augmenter(synonyms=synonyms, adjectives={"low", "punchy"}, p_synonym=1.0, p_numbers=1.0,
                      p_order=0.0, p_intensify=0.0, p_frame=0.0)
    assert aug("a low kick at 60 Hz", np.random.default_rng(1)) == "a deep bass drum at sixty hertz"
    default = A.Augmenter(synonyms=synonyms, adjectives={"low", "punchy"})
    captions = [corpus.make_caption(corpus.example_seed(3, i))[0] for i in range(200)]
    first = [default(c, np.random.default_rng(i)) for i, c in enumerate(captions)]
    again = [default(c, np.random.default_rng(i)) for i, c in enumerate(captions)]
    assert first == again
    changed = sum(a != c for a, c in zip(first, captions))
    assert changed > 60, changed  # framings, orders and numbers alone rewrite many
    assert all(a.strip() and "  " not in a for a in first)


@needs_wordnet
def test_the_default_table_covers_the_training_vocabulary_with_sound_senses(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path))
    A.wordnet.cache_clear()
    A.default_synonyms.cache_clear()
    table = A.default_synonyms()
    words = A.training_words()
    assert 80 < len(table) < len(words)
    assert "deep" in table["low"] and "shrill" in table["high"]
    # Parts of speech as the captions use them: "white" noise is an adjective, not "to whiten".
    assert not {"whiten", "blanch"} & set(table.get("white", ()))


@needs_wordnet
def test_text_tune_writes_a_model_that_differs_only_in_its_text_encoder(tmp_path, monkeypatch):
    import json

    from engine import loader, paths
    from engine.default_model import text_tune

    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path / "cache"))
    A.wordnet.cache_clear()
    A.default_synonyms.cache_clear()
    out = tmp_path / "tuned"
    out.mkdir()
    (out / "mine.txt").write_text("an earlier export")
    record = text_tune.tune(paths.default_model_dir(), out, steps=3, batch=8, clips=20, variants=1)
    assert record["steps"] == 3 and record["captions"] >= 20 and record["synonym_words"] > 80
    assert record["number_rewrites"] == 0.0  # the bundled model reads numbers in words as digits
    assert (tmp_path / "tuned.previous" / "mine.txt").is_file()  # what was there is kept, not lost
    meta = json.loads((out / "audioldm_bridge.json").read_text())
    assert meta["text_tune"]["steps"] == 3 and meta["sampler"]
    bundled = paths.default_model_dir()
    assert (out / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == \
        (bundled / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    assert (out / "text_encoder" / "model.safetensors").read_bytes() != \
        (bundled / "text_encoder" / "model.safetensors").read_bytes()
    model = loader.load(str(out), device="cpu")
    assert model.text_encoder is not None and model.text_prior is not None


def test_captions_that_name_a_pitch_are_recognised_for_the_pitch_weight():
    from engine.default_model.text_tune import NAMED_PITCH

    for named in ("a sine tone at 440 Hz", "a 1.5 kHz beep", "an A4 pluck", "a bell tuned to C#6", "a 2khz tone"):
        assert NAMED_PITCH.search(named), named
    for unnamed in ("a kick played 4 times", "a high-pitched beep", "a low rumble", "four hits"):
        assert not NAMED_PITCH.search(unnamed), unnamed
