"""Caption augmentation past the templates (issue 20): other words, other orders, numbers in words.

The caption builder (:mod:`.captions`) speaks one small vocabulary in one word order, so a text
encoder trained on it alone knows "low" but not "deep", "440 Hz" but not "four hundred and forty
hertz". :class:`Augmenter` rewrites a training caption the way other people would say the same
thing, and :mod:`engine.default_model.text_tune` teaches the text encoder that every rewrite means
what the original caption means. Four kinds of rewrite, each drawn at random:

* **synonyms from WordNet** (Princeton WordNet 3.0, Debian's ``wordnet-base``, read with NLTK):
  each word of the training vocabulary may be replaced by a lemma of one of its senses or, for
  adjectives, of a "similar to" sense. Only senses whose gloss is about sound, time or loudness
  (:data:`SOUND_GLOSS`) are used, else the word's most frequent sense, so "low" becomes "deep",
  "bass" or "low-pitched", not "abject";
* **numbers written as words** (``num2words``): "440 Hz" -> "four hundred and forty hertz",
  "1.5 kHz" -> "one point five kilohertz", "four times" -> "4 times";
* **other orders**: adjectives before the noun shuffled (the builder has one fixed order), a
  trailing clause moved to the front ("with a long decay, a bell");
* **framings and intensifiers**: "I need ...", "... please", "very", "really" and so on.

Nothing here was chosen by looking at the evaluation prompts: the synonym table is WordNet's for the
training vocabulary, filtered by the gloss rule above, and the framings are everyday requests.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from .captions import training_phrases

#: Where Debian's ``wordnet-base`` puts the database; ``WNSEARCHDIR`` (WordNet's own variable) wins.
WORDNET_DIR = "/usr/share/wordnet"
#: A sense is about sound (or time, loudness, brightness of tone) when its gloss matches this.
SOUND_GLOSS = re.compile(
    r"\b(sound|sounds|sounding|pitch|pitched|tone|tones|voice|voices|loud|loudness|noise|noisy|music|"
    r"musical|hear|heard|audible|rhythm|tempo|beat|ring|ringing|frequency|vibrat\w*|resonan\w*|timbre|"
    r"drum|percussi\w*|bell|duration|brief|speed|quick|quickly|slow|slowly|time|volume|repeat\w*|"
    r"succession|gradual\w*|increas\w*|decreas\w*|upward|downward|strike|struck|blow)\b", re.I)
#: Everyday framings of a request (none is a caption template).
FRAMINGS = ("{c}", "{c}", "{c}", "I need {c}", "give me {c}", "make {c}", "generate {c}", "{c}, please",
            "some {c}", "a recording of {c}", "a sample of {c}", "sound effect: {c}", "{c} sound effect",
            "the noise of {c}", "what {c} sounds like", "{c} sound", "just {c}", "we hear {c}")
INTENSIFIERS = ("very", "really", "quite", "rather", "super", "extremely", "slightly", "nice")
_LEMMA_OK = re.compile(r"^[a-z][a-z'-]*( [a-z][a-z'-]*)?$")


class WordNetMissing(RuntimeError):
    pass


def _wordnet_source() -> Path:
    src = Path(os.environ.get("WNSEARCHDIR", WORDNET_DIR))
    if not (src / "data.adj").is_file():
        raise WordNetMissing(
            f"the WordNet database is not in {src}: install it (Debian/Ubuntu: apt install wordnet-base) "
            f"or point WNSEARCHDIR at a WordNet 3.0 'dict' folder")
    return src


#: The 45 lexicographer files of WordNet 3.0 (``lexnames``, which NLTK's reader needs and Debian's
#: package does not ship), in file-number order.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
    "adj.ppl").split()


@lru_cache(maxsize=1)
def wordnet(cache_dir: str | None = None):
    """NLTK's WordNet reader on the system's WordNet 3.0 database. NLTK only reads below folders it
    trusts and wants ``lexnames``, so the database is copied once into ``cache_dir`` (default: the
    user cache) with that file added."""
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    from ... import paths

    src = _wordnet_source()
    root = Path(cache_dir) if cache_dir else paths.cache_dir() / "wordnet"
    if not (root / "lexnames").is_file():
        tmp = root.with_name(root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for f in src.iterdir():
            if f.is_file() and (f.name.startswith(("data.", "index.")) or f.suffix == ".exc"):
                shutil.copyfile(f, tmp / f.name)
        cat = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
        (tmp / "lexnames").write_text("".join(f"{i:02d}\t{n}\t{cat[n.split('.')[0]]}\n"
                                              for i, n in enumerate(_LEXNAMES)))
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)

    class Reader(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):  # no second WordNet to map from
            return None

    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return Reader(str(root), None)


def _senses(wn, word: str, pos: str | None = None):
    """The senses of ``word`` to draw synonyms from: senses that have ``word`` itself as a lemma
    (not an inflection of another word), of part of speech ``pos`` when given ("a", "n", "v", "r"),
    whose gloss or examples are about sound (:data:`SOUND_GLOSS`)."""
    found = []
    for p in (pos,) if pos else ("a", "n", "v", "r"):
        for s in wn.synsets(word, p):
            if word in s.lemma_names() and SOUND_GLOSS.search(" ".join([s.definition(), *s.examples()])):
                found.append(s)
    return found


def _lemma_text(name: str) -> str | None:
    text = name.replace("_", " ")
    return text if _LEMMA_OK.match(text) else None


def synonym_table(words, wn=None, pos: dict[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """``word -> synonyms`` (WordNet lemmas of its chosen senses, :func:`_senses`, and, for
    adjectives, of their "similar to" senses), for every word in ``words`` that has any. ``pos``:
    the part of speech a word has in the captions, where known."""
    wn = wn if wn is not None else wordnet()
    pos = pos or {}
    table = {}
    for word in sorted(set(words)):
        found: set[str] = set()
        for s in _senses(wn, word, pos.get(word)):
            related = [s] + (s.similar_tos() if s.pos() in ("a", "s") else [])
            for r in related:
                found.update(t for t in (_lemma_text(lemma.name()) for lemma in r.lemmas()) if t)
        found.discard(word)
        if found:
            table[word] = tuple(sorted(found))
    return table


def training_words() -> list[str]:
    """Every lower-case word of the training vocabulary (:func:`.captions.training_phrases`)."""
    words = set()
    for phrase in training_phrases():
        words.update(w for w in re.findall(r"[a-z][a-z'-]*", phrase.lower()) if len(w) > 2)
    return sorted(words)


def caption_parts_of_speech() -> dict[str, str]:
    """The part of speech the caption builder gives a word: pre-noun words of the phrase banks are
    adjectives, the last word of a family's noun is a noun."""
    from .families import FAMILIES

    pos = {w: "a" for w in _pre_noun_words()}
    for fam in FAMILIES.values():
        for noun in fam.nouns:
            pos.setdefault(noun.singular.split()[-1], "n")
    return pos


@lru_cache(maxsize=1)
def default_synonyms() -> dict[str, tuple[str, ...]]:
    return synonym_table(training_words(), pos=caption_parts_of_speech())


_HZ = re.compile(r"\b(\d+(?:\.\d+)?)\s?(k?)(hz|hertz)\b", re.I)
_COUNT = re.compile(r"\b(two|three|four|five|six|seven|eight|\d)\b(?= times| in a row|\s+\w+s\b)")
_WORD_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def numbers_in_words(text: str, rng: np.random.Generator) -> str:
    """Frequencies and counts written out the other way: "440 Hz" -> "four hundred and forty hertz",
    "1.5 kHz" -> "one point five kilohertz" or "fifteen hundred hertz", "four times" -> "4 times"."""
    from num2words import num2words

    def hz(m: re.Match) -> str:
        value, kilo = float(m.group(1)), bool(m.group(2))
        hertz = value * (1000 if kilo else 1)
        if kilo and rng.random() < 0.5:
            return f"{num2words(value)} kilohertz"
        if hertz >= 1000 and hertz % 100 == 0 and rng.random() < 0.5:
            return f"{num2words(int(hertz // 100))} hundred hertz"  # "fifteen hundred hertz"
        return f"{num2words(int(round(hertz)))} hertz"

    def count(m: re.Match) -> str:
        word = m.group(1)
        return str(_WORD_NUMBERS[word]) if word in _WORD_NUMBERS else num2words(int(word))

    return _COUNT.sub(count, _HZ.sub(hz, text))


class Augmenter:
    """``augmenter(caption, rng) -> another wording of the same caption`` (see the module doc).
    ``synonyms``: the table of :func:`synonym_table` (default: WordNet's for the training words);
    ``adjectives``: words that may be shuffled or intensified (default: the phrase banks' pre-noun words)."""

    def __init__(self, synonyms: dict[str, tuple[str, ...]] | None = None, adjectives=None,
                 p_synonym: float = 0.35, p_numbers: float = 0.5, p_order: float = 0.3,
                 p_intensify: float = 0.15, p_frame: float = 0.5) -> None:
        self.synonyms = default_synonyms() if synonyms is None else synonyms
        self.adjectives = set(adjectives) if adjectives is not None else _pre_noun_words()
        self.p = dict(synonym=p_synonym, numbers=p_numbers, order=p_order, intensify=p_intensify, frame=p_frame)

    def __call__(self, caption: str, rng: np.random.Generator) -> str:
        words = caption.split(" ")
        if rng.random() < self.p["order"]:
            words = self._shuffle_adjectives(words, rng)
        out = []
        for w in words:
            core = w.rstrip(",")
            tail = w[len(core):]
            if core in self.adjectives and rng.random() < self.p["intensify"]:
                out.append(str(rng.choice(INTENSIFIERS)))
            if core in self.synonyms and rng.random() < self.p["synonym"]:
                core = str(rng.choice(self.synonyms[core]))
            out.append(core + tail)
        text = " ".join(out)
        if rng.random() < self.p["numbers"]:
            text = numbers_in_words(text, rng)
        if rng.random() < self.p["order"]:
            text = _clause_first(text)
        if rng.random() < self.p["frame"]:
            text = str(rng.choice(FRAMINGS)).format(c=text)
        return re.sub(r"\s+", " ", text).strip()

    def _shuffle_adjectives(self, words: list[str], rng: np.random.Generator) -> list[str]:
        """Shuffle each run of two or more pre-noun adjectives."""
        words, i = list(words), 0
        while i < len(words):
            j = i
            while j < len(words) and words[j] in self.adjectives:
                j += 1
            if j - i >= 2:
                words[i:j] = [words[k] for k in rng.permutation(range(i, j))]
            i = max(j, i + 1)
        return words


_CLAUSE = re.compile(r"^(?P<head>.+?) (?P<clause>(with|that|at|in|from) .+)$")


def _clause_first(text: str) -> str:
    """"a bell with a long decay" -> "with a long decay, a bell" (the first trailing clause only)."""
    m = _CLAUSE.match(text)
    if not m or "," in m.group("clause"):
        return text
    return f"{m.group('clause')}, {m.group('head')}"


@lru_cache(maxsize=1)
def _pre_noun_words() -> frozenset[str]:
    from . import phrases

    banks = (phrases._PITCH_PHRASES, phrases._BRIGHTNESS_PHRASES, phrases._ENVELOPE_PHRASES,
             phrases._TEMPO_PHRASES, phrases._TEXTURE_PHRASES)
    words = {t for bank in banks for options in bank.values() for slot, t in options if slot == "pre"}
    for kind in phrases._LENGTH_PHRASES.values():
        words |= {t for options in kind.values() for slot, t in options if slot == "pre"}
    return frozenset(w for w in words if " " not in w)
