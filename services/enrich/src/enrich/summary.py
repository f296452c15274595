"""Extractive summary: the two or three sentences that say most of what the story says.

Sentences are split by rules inside each paragraph (never across one), aware of abbreviations,
initials and quotations; this works for any language Newsflow detects. Each sentence of story
prose (never the headline, a section heading, a byline or the dateline) is scored by its position
(news puts the point first), its centrality (cosine similarity of its content words to the whole
story's) and its overlap with the headline; the best are picked without repeating each other and
given back in story order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from spacy.lang.en.stop_words import STOP_WORDS

from enrich.cleaning import CleanText

MIN_WORDS, MAX_WORDS = 6, 60
# Weights tuned on CNN/Daily Mail dev stories (bench/summary_eval.py) against lead-3.
W_POSITION, W_CENTRALITY, W_HEADLINE = 1.0, 0.9, 0.5
POSITION_DECAY = 0.25
MAX_OVERLAP = 0.6

_BOUNDARY = re.compile(r"[.!?…。？！؟]+[\"'”’»)\]]*\s+")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "sr",
        "jr",
        "gen",
        "lt",
        "col",
        "capt",
        "sgt",
        "maj",
        "adm",
        "gov",
        "sen",
        "rep",
        "rev",
        "hon",
        "pres",
        "supt",
        "det",
        "insp",
        "no",
        "nos",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "bros",
        "dept",
        "est",
        "fig",
        "approx",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "ave",
        "blvd",
        "rd",
        "e.g",
        "i.e",
        "u.s",
        "u.k",
        "u.n",
        "a.m",
        "p.m",
    ]
)
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_STOP = frozenset(STOP_WORDS) | {"said", "says", "told", "according"}


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    paragraph: int


def split_sentences(clean: CleanText) -> list[Sentence]:
    """Sentences of the story prose, paragraph by paragraph, as spans of `clean.text`."""
    text = clean.text
    out = []
    for index, block in enumerate(clean.prose()):
        start = max(block.start, clean.dateline_end) if index == 0 else block.start
        for match in _BOUNDARY.finditer(text, start, block.end):
            if _is_boundary(text, match, block.end):
                out.append(Sentence(start, match.start() + len(match.group().rstrip()), index))
                start = match.end()
        if start < block.end:
            out.append(Sentence(start, block.end, index))
    return [s for s in out if text[s.start : s.end].strip()]


def summarize(clean: CleanText, headline: str = "", max_sentences: int = 3) -> list[str]:
    """The summary sentences, in story order (two for short stories, three otherwise)."""
    sentences = split_sentences(clean)
    if not sentences:
        return []
    text = clean.text
    bags = [Counter(_content_words(text[s.start : s.end])) for s in sentences]
    document: Counter[str] = Counter()
    for bag in bags:
        document.update(bag)
    title = set(_content_words(headline))
    wanted = min(max_sentences, 2 if len(sentences) < 8 else 3, len(sentences))
    scored = []
    for index, (sentence, bag) in enumerate(zip(sentences, bags, strict=True)):
        words = sum(bag.values())
        raw_words = len(_WORD.findall(text[sentence.start : sentence.end]))
        score = (
            W_POSITION / (1.0 + POSITION_DECAY * index)
            + W_CENTRALITY * _cosine(bag, document)
            + (W_HEADLINE * len(title & bag.keys()) / len(title) if title else 0.0)
        )
        if raw_words < MIN_WORDS or raw_words > MAX_WORDS or not words:
            score *= 0.3
        if text[sentence.end - 1] in "?:":
            score *= 0.6
        scored.append((score, index))
    scored.sort(reverse=True)
    chosen: list[int] = []
    for _, index in scored:
        if all(_overlap(bags[index], bags[other]) <= MAX_OVERLAP for other in chosen):
            chosen.append(index)
        if len(chosen) == wanted:
            break
    return [text[sentences[i].start : sentences[i].end].strip() for i in sorted(chosen)]


def _is_boundary(text: str, match: re.Match[str], end: int) -> bool:
    after = match.end()
    while after < end and text[after] in "\"'“‘«([":
        after += 1
    if after >= end:
        return False
    if text[after].islower():
        return False
    mark = match.start()
    if text[mark] != ".":
        return True
    word_start = mark
    while (
        word_start > 0
        and not text[word_start - 1].isspace()
        and text[word_start - 1] not in "(\"'“"
    ):
        word_start -= 1
    word = text[word_start:mark].lower()
    if word in _ABBREVIATIONS:
        return False
    return not (len(word) == 1 and word.isalpha())  # an initial: "John F. Kennedy"


def _content_words(text: str) -> list[str]:
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP and len(w) > 1]


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[word] for word, count in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _overlap(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a.keys() & b.keys()) / min(len(a), len(b))
