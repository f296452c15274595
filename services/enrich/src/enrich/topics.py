"""IPTC Media Topic subjects for an article, by lexicon scoring on the CPU.

The vocabulary (codes, English labels) is IPTC's, CC BY 4.0, in `data/medtop.json`; the keyword
lists beside each topic are Newsflow's own (English, with a few German, French, Spanish and
Italian words per top-level topic, so those languages get rough top-level topics too; other
languages mostly get none). Words are matched lower-cased with a light plural strip (no lemmas),
except lexicon words written with a capital ("Labour"): those are names, matched as written and
not at the start of a sentence, and such a use counts only for the name's topic (the party,
not work). Headline words count double and each word's weight grows with the log of its count,
so one long story does not drown the rest. Confidence is the topic's share of the article's
total score, scaled down for stories with little evidence.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from importlib import resources

from shared.article import Subject

MAX_TOP_LEVEL = 3
MIN_TOP_SHARE = 0.12  # a top-level topic must hold this share of the evidence
MIN_LEVEL2_CONFIDENCE = 0.3
EVIDENCE_SATURATION = 6.0  # score at which confidence is no longer damped by scarce evidence
HEADLINE_WEIGHT = 2.0
_WORD = re.compile(r"\w+(?:[-']\w+)*")
# "won 3-1", "Leeds 2-1 Chelsea"; never a piece of a date (2024-05-03), a decimal range
# (4.5-4.75), a time (10:30-11:00), a thousands range (1,500-2,000) or a code (A21-17, 1-2-3).
_SCORELINE = re.compile(r"(?<![\w.,:/-])\d{1,3}-\d{1,3}(?![\w-]|[.,:/]\d)")


@dataclass(frozen=True, slots=True)
class Topic:
    code: str
    name: str
    level: int
    parent: str | None


class TopicClassifier:
    """Loads the vocabulary once; `classify` is pure and cheap (dictionary lookups)."""

    def __init__(self) -> None:
        raw = json.loads(resources.files("enrich").joinpath("data/medtop.json").read_text())
        self.uri_base: str = raw["uriBase"]
        self.topics: dict[str, Topic] = {}
        self._index: dict[str, list[str]] = {}
        for item in raw["topics"]:
            topic = Topic(item["code"], item["name"], item["level"], item.get("parent"))
            self.topics[topic.code] = topic
            for word in item["keywords"]:
                key = word if word[:1].isupper() else _norm(word)
                self._index.setdefault(key, []).append(topic.code)

    def classify(self, headline: str, body: str) -> list[Subject]:
        """Up to three top-level subjects, each followed by its confident second-level ones."""
        scores = self._scores(headline, body)
        level1 = sorted(
            ((s, c) for c, s in scores.items() if self.topics[c].level == 1), reverse=True
        )
        total = sum(s for s, _ in level1)
        if not total:
            return []
        damping = min(1.0, total / EVIDENCE_SATURATION)
        subjects: list[Subject] = []
        for score, code in level1[:MAX_TOP_LEVEL]:
            share = score / total
            if share < MIN_TOP_SHARE and subjects:
                break
            subjects.append(self._subject(code, share * damping))
            children = [
                (s, c)
                for c, s in scores.items()
                if self.topics[c].parent == code and s / score >= MIN_LEVEL2_CONFIDENCE
            ]
            for child_score, child in sorted(children, reverse=True)[:2]:
                confidence = min(1.0, child_score / score) * share * damping
                subjects.append(self._subject(child, confidence))
        return subjects

    def _scores(self, headline: str, body: str) -> dict[str, float]:
        counts: dict[str, float] = {}
        for text, weight in ((headline, HEADLINE_WEIGHT), (body, 1.0)):
            for match in _WORD.finditer(text):
                key = self._key(text, match)
                if key in self._index:
                    counts[key] = counts.get(key, 0.0) + weight
        scores: dict[str, float] = {}
        for key, count in counts.items():
            for code in self._index[key]:
                scores[code] = scores.get(code, 0.0) + 1.0 + math.log(count)
        scorelines = len(_SCORELINE.findall(body))
        if scorelines:
            scores["medtop:15000000"] = scores.get("medtop:15000000", 0.0) + math.log1p(scorelines)
        return scores

    def _key(self, text: str, match: re.Match[str]) -> str:
        word = match.group()
        if word[:1].isupper() and word in self._index and not _starts_sentence(text, match.start()):
            return word
        return _norm(word.lower())

    def _subject(self, code: str, confidence: float) -> Subject:
        topic = self.topics[code]
        number = code.split(":", 1)[1]
        return Subject(
            uri=f"{self.uri_base}{number}",
            code=code,
            name=topic.name,
            scheme="medtop",
            confidence=round(confidence, 3),
            level=topic.level,
        )


def _starts_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 8) : start].rstrip(" \t\"'“‘(")
    return not before or before.endswith((".", "!", "?", ":", ";", "\n"))


def _norm(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
