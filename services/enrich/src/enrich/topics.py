"""IPTC Media Topic subjects for an article: a linear model over its words, on the CPU.

Two softmax classifiers share one bag-of-words representation: one over the 17 top-level topics,
one over the second-level topics it was trained for. A second-level topic's confidence is its
parent's probability times its share among that parent's children. The weights are trained by
`services/enrich/scripts/train_topics.py` on public labelled news (see its docstring for the
sources and how each of their categories maps to IPTC codes) and ship in
`data/topic_model.npz` (int8 weights with a scale per topic). The codes, labels and levels on
articles come from the shipped IPTC vocabulary (`enrich.medtop`).

Features: lower-cased words of two or more letters, headline words counted twice, each word's
weight 1 + log(count), the vector divided by the norm of *all* the text's words. Words the model
never saw add to that norm and nothing to the evidence, so a story in a language the model
barely knows gets probabilities near the prior and, below the thresholds, no topic at all
rather than a confident wrong one. The model learnt English first, with some German, French,
Spanish and Italian.

Cost: one regex pass, a dictionary lookup per distinct word and a gather of a few hundred rows
of int8 weights: well under a millisecond for a 600-word story.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import numpy as np

from shared.article import Subject

from enrich import medtop

MODEL_FILE = "data/topic_model.npz"
MAX_TOP_LEVEL = 3
# Chosen on the tune half of `bench/topics_eval.py`: a story's right topic, when the model ranks
# it second or third, often has a probability between 0.05 and 0.1 (a floor of 0.1 dropped it
# for one English story in 30), and a first topic between 0.15 and 0.2 is still a fair guess. A
# story with nothing the model knows has probabilities near the prior (none above 0.13), so it
# still gets no topic.
MIN_FIRST_CONFIDENCE = 0.15  # below this the story gets no topic at all
MIN_OTHER_CONFIDENCE = 0.05  # a second or third top-level topic
MIN_LEVEL2_CONFIDENCE = 0.2
MAX_LEVEL2_PER_TOP = 2
HEADLINE_WEIGHT = 2
MAX_CHARS = 20_000  # the topic of a story is settled long before its 20,000th character
# Confidence is the model's probability scaled by how well it knows the story's language:
# English is what it learnt; German, Spanish and Italian it saw a thousand sentences each of;
# French as many plus 330 news stories; any other language it did not learn at all. A story
# whose language is not known is not scaled.
LANGUAGE_TRUST = {"en": 1.0, "fr": 0.7, "de": 0.5, "es": 0.5, "it": 0.5}
OTHER_LANGUAGE_TRUST = 0.3
_WORD = re.compile(r"[^\W\d_]{2,}")
# What `_WORD` finds in lower-case text whose letters are all ASCII (most English copy: curly
# quotes and dashes are no letters), found twice as fast: a letter of `_WORD` takes several
# Unicode look-ups. Looking for any other letter first costs a quarter of what this saves.
_ASCII_WORD = re.compile(r"[a-z]{2,}")
_NON_ASCII_LETTER = re.compile(r"[^\x00-\x7f\W\d_]")


def word_counts(headline: str, body: str) -> Counter[str]:
    """The words the model sees: lower-cased runs of letters, headline words counted twice."""
    counts = Counter(_words(body[:MAX_CHARS].lower()))
    for word in _words(headline.lower()):
        counts[word] += HEADLINE_WEIGHT
    return counts


def featurize(
    counts: Counter[str], index: dict[str, float | int], idf: list[float], unknown_idf: float
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the known words and their weights ((1 + log count) x idf), normalised over
    every word of the text; a word the model never saw weighs as much as its rarest word."""
    known: list[int] = []
    values: list[float] = []
    norm = 0.0
    for word, count in counts.items():
        position = index.get(word)
        rarity = unknown_idf if position is None else idf[int(position)]
        value = (1.0 + math.log(count)) * rarity
        norm += value * value
        if position is not None:
            known.append(int(position))
            values.append(value)
    scale = 1.0 / math.sqrt(norm) if norm else 0.0
    return np.asarray(known, dtype=np.intp), np.asarray(values, dtype=np.float32) * scale


@dataclass(frozen=True, slots=True)
class _Layer:
    """One softmax classifier: int8 weights (words x topics), a scale per topic, a bias."""

    codes: list[str]
    weights: np.ndarray
    scales: np.ndarray
    bias: np.ndarray

    def logits(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        summed = values @ self.weights[rows].astype(np.float32) if len(rows) else 0.0
        return summed * self.scales + self.bias


class TopicClassifier:
    """Loads the vocabulary and the model once; `classify` is pure and cheap."""

    def __init__(self, model: bytes | None = None) -> None:
        self.vocabulary = medtop.load()
        self.topics = self.vocabulary.topics
        raw = (
            model
            if model is not None
            else (resources.files("enrich").joinpath(MODEL_FILE).read_bytes())
        )
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            words = bytes(data["words"]).decode("utf-8").split("\n")
            self.index: dict[str, float | int] = {word: i for i, word in enumerate(words)}
            self.idf = data["idf"].astype(np.float64).tolist()
            self.unknown_idf = float(data["unknown_idf"])
            self.level1 = _layer(data, "1")
            self.level2 = _layer(data, "2")
        unknown = [c for c in (*self.level1.codes, *self.level2.codes) if c not in self.topics]
        if unknown:
            raise medtop.VocabularyError(f"the topic model uses codes not in IPTC's: {unknown}")
        self._children: dict[str, list[int]] = {}
        for i, code in enumerate(self.level2.codes):
            parent = self.topics[code].parent or ""
            self._children.setdefault(parent, []).append(i)

    def probabilities(self, headline: str, body: str) -> dict[str, float]:
        """Every top-level and second-level topic the model knows, with its probability."""
        top, second = self._scores(headline, body)
        result = dict(zip(self.level1.codes, top.tolist(), strict=True))
        for parent in self._children:
            result.update(self._children_of(parent, result.get(parent, 0.0), second))
        return result

    def classify(self, headline: str, body: str, language: str | None = None) -> list[Subject]:
        """Up to three top-level subjects, each followed by its confident second-level ones."""
        trust = (
            1.0
            if not language
            else LANGUAGE_TRUST.get(
                language.replace("_", "-").split("-")[0].lower(), OTHER_LANGUAGE_TRUST
            )
        )
        top, second = self._scores(headline, body)
        subjects: list[Subject] = []
        for rank, i in enumerate(np.argsort(-top)[:MAX_TOP_LEVEL].tolist()):
            confidence = float(top[i]) * trust
            if confidence < (MIN_FIRST_CONFIDENCE if rank == 0 else MIN_OTHER_CONFIDENCE):
                break
            code = self.level1.codes[i]
            subjects.append(self.subject(code, confidence))
            children = sorted(
                self._children_of(code, confidence, second).items(),
                key=lambda item: item[1],
                reverse=True,
            )
            subjects.extend(
                self.subject(child, p)
                for child, p in children[:MAX_LEVEL2_PER_TOP]
                if p >= MIN_LEVEL2_CONFIDENCE
            )
        return subjects

    def _scores(self, headline: str, body: str) -> tuple[np.ndarray, np.ndarray]:
        """Top-level probabilities and second-level logits."""
        rows, values = featurize(
            word_counts(headline, body), self.index, self.idf, self.unknown_idf
        )
        return _softmax(self.level1.logits(rows, values)), self.level2.logits(rows, values)

    def _children_of(self, parent: str, p_parent: float, second: np.ndarray) -> dict[str, float]:
        children = self._children.get(parent, [])
        if not children:
            return {}
        share = _softmax(second[children])
        return {
            self.level2.codes[c]: p_parent * p
            for c, p in zip(children, share.tolist(), strict=True)
        }

    def subject(self, code: str, confidence: float) -> Subject:
        topic = self.topics[code]
        return Subject(
            uri=topic.uri,
            code=code,
            name=topic.label,
            scheme=medtop.SCHEME,
            confidence=round(confidence, 3),
            level=topic.level,
        )


def _words(lowered: str) -> list[str]:
    return (_WORD if _NON_ASCII_LETTER.search(lowered) else _ASCII_WORD).findall(lowered)


def _layer(data: np.lib.npyio.NpzFile, level: str) -> _Layer:
    return _Layer(
        codes=[str(c) for c in data[f"codes{level}"]],
        weights=data[f"weights{level}"],
        scales=data[f"scales{level}"],
        bias=data[f"bias{level}"],
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()
