"""Keyword tags: the multi-word phrases an English article keeps coming back to.

A statistical keyphrase method in the RAKE family, on the tokens spaCy already made (no tagger or
parser runs): candidate phrases are runs of content words between stopwords, punctuation,
numbers and entity names, cut to at most three words. With no tagger, word classes come from
WordNet's lists, which the English model ships for its (unused) lemmatizer: adverbs and verb
forms that cannot be nouns or adjectives end a run ("rider | supports"), a phrase must end at a
possible noun, and a one-word tag must be a noun ("abortion", never "american"). A phrase scores
by how often it occurs and how often its words recur, a little higher for two or three words
and an early first use. Only story prose is read (not the headline, section headings, bylines or
the dateline), so tags are never fragments of the headline, and entity names, including a
surname used alone, are left to the entity lists. Tags are lower case.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from spacy.attrs import IDX, IS_ALPHA, IS_STOP, IS_TITLE, LOWER, SPACY
from spacy.strings import get_string_id

from enrich.entities import TITLES
from enrich.word_classes import MEMO_LIMIT, WordClasses, word_classes

if TYPE_CHECKING:
    from spacy.strings import StringStore
    from spacy.tokens import Doc

    from enrich.cleaning import CleanText
    from enrich.entities import FoundEntity

MAX_KEYWORDS = 8
_HYPHEN = get_string_id("-")
MIN_KEYWORDS = 5
MAX_WORDS = 3
# The English model ships WordNet's word lists with its lemmatizer, which the pipeline does not
# run; the lists alone say which words can be nouns, adjectives, adverbs or verb forms.

# Verbs, adverbs and vague nouns that spaCy's stopword list lets through but make poor tags.
_VERBS = [
    "say",
    "tell",
    "add",
    "claim",
    "report",
    "state",
    "announce",
    "confirm",
    "warn",
    "note",
    "expect",
    "seem",
    "appear",
    "remain",
    "continue",
    "include",
    "make",
    "take",
    "give",
    "come",
    "go",
    "get",
    "put",
    "set",
    "keep",
    "let",
    "begin",
    "show",
    "know",
    "think",
    "want",
    "need",
    "try",
    "call",
    "ask",
    "use",
    "find",
    "feel",
    "leave",
    "hold",
    "bring",
    "mean",
    "turn",
    "move",
    "live",
    "believe",
    "happen",
    "provide",
    "allow",
    "lead",
    "stand",
    "lose",
    "pay",
    "meet",
    "run",
    "reach",
    "raise",
    "rise",
    "fall",
    "cause",
    "achieve",
    "address",
    "arrive",
    "emphasize",
    "emphasise",
    "intensify",
    "criticize",
    "criticise",
    "manage",
    "fail",
    "launch",
    "intercept",
    "injure",
    "kill",
    "face",
    "plan",
    "hope",
    "decide",
    "agree",
    "deny",
    "suggest",
    "insist",
    "accuse",
    "describe",
    "explain",
    "admit",
    "vow",
    "pledge",
    "urge",
]
_IRREGULAR = [
    "said",
    "says",
    "told",
    "went",
    "gone",
    "came",
    "made",
    "took",
    "taken",
    "gave",
    "given",
    "got",
    "kept",
    "let",
    "getting",
    "putting",
    "setting",
    "letting",
    "running",
    "having",
    "being",
    "doing",
    "began",
    "begun",
    "shown",
    "knew",
    "known",
    "thought",
    "wanted",
    "felt",
    "left",
    "held",
    "brought",
    "meant",
    "led",
    "stood",
    "lost",
    "paid",
    "met",
    "ran",
    "rose",
    "risen",
    "fell",
    "fallen",
    "sought",
    "saw",
    "seen",
    "became",
    "become",
]
_GENERIC = [
    "also",
    "would",
    "could",
    "should",
    "might",
    "must",
    "may",
    "will",
    "shall",
    "one",
    "two",
    "three",
    "first",
    "second",
    "third",
    "last",
    "next",
    "new",
    "old",
    "many",
    "much",
    "several",
    "various",
    "other",
    "another",
    "such",
    "even",
    "still",
    "yet",
    "just",
    "only",
    "really",
    "very",
    "well",
    "however",
    "meanwhile",
    "according",
    "including",
    "year",
    "years",
    "month",
    "months",
    "week",
    "weeks",
    "day",
    "days",
    "time",
    "times",
    "today",
    "yesterday",
    "tomorrow",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "people",
    "person",
    "thing",
    "things",
    "way",
    "ways",
    "part",
    "number",
    "lot",
    "lots",
    "kind",
    "sort",
    "issue",
    "issues",
    "report",
    "reports",
    "statement",
    "statements",
    "side",
    "sides",
    "case",
    "cases",
    "point",
    "points",
    "percent",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
    "billions",
    "dozen",
    "dozens",
    "per",
    "cent",
    "mr",
    "mrs",
    "ms",
    "dr",
    "sir",
    "recent",
    "recently",
    "previous",
    "previously",
    "former",
    "latter",
    "told",
    "reporters",
    "official",
    "officials",
    "source",
    "sources",
    "news",
    "story",
    "stories",
    "article",
    "like",
    "unlike",
    "able",
    "likely",
    "unlikely",
    "around",
    "amid",
    "despite",
    "toward",
    "towards",
    "whether",
    "already",
    "due",
    # Evaluative words open or close a phrase without naming anything: "great response".
    "good",
    "better",
    "best",
    "great",
    "greater",
    "greatest",
    "bad",
    "worse",
    "worst",
    "big",
    "bigger",
    "biggest",
    "huge",
    "fantastic",
    "amazing",
    "incredible",
    "wonderful",
    "terrible",
    "important",
    "real",
    "pretty",
    "whole",
    "right",
    "wrong",
    "sure",
    "true",
    "certain",
]


def _inflections(verb: str) -> list[str]:
    stem = verb[:-1] if verb.endswith("e") else verb
    ies = verb[:-1] + "ies" if verb.endswith("y") and verb[-2] not in "aeiou" else verb + "s"
    ied = verb[:-1] + "ied" if verb.endswith("y") and verb[-2] not in "aeiou" else stem + "ed"
    es = verb + "es" if verb.endswith(("s", "sh", "ch", "x", "z")) else ies
    return [verb, es, ied, stem + "ing"]


STOP = frozenset([w for v in _VERBS for w in _inflections(v)] + _IRREGULAR + _GENERIC) | TITLES
# Each lower-case word met, by spaCy's hash of it (the same in every doc): its text and whether
# it can be a content word by itself. Looking the text up in the doc's StringStore cost more than
# the rest of a token's turn in `_runs`. Cleared when it grows past MEMO_LIMIT words, as the
# word classes' memo is.
_WORDS: dict[int, tuple[str, bool]] = {}


def extract_keywords(
    doc: Doc, clean: CleanText, entities: list[FoundEntity], limit: int = MAX_KEYWORDS
) -> list[str]:
    """Up to `limit` keyword phrases for the body `doc` (spaCy doc of `clean.text`), best first."""
    blocked = _blocked_spans(clean, entities)
    runs = _runs(doc, blocked, _name_words(entities))
    word_freq: Counter[str] = Counter(w for run in runs for w in run)
    phrase_freq: Counter[tuple[str, ...]] = Counter()
    first_seen: dict[tuple[str, ...], int] = {}
    for index, run in enumerate(runs):
        for phrase in _ngrams(run):
            phrase_freq[phrase] += 1
            first_seen.setdefault(phrase, index)
    classes = word_classes()
    candidates = {phrase for run in runs for phrase in _candidates(run)}
    candidates.update(p for p, n in phrase_freq.items() if n > 1)
    candidates = {p for p in candidates if _well_formed(p, classes)}
    scored = []
    for phrase in candidates:
        count = phrase_freq[phrase]
        if len(phrase) == 1 and (
            count < 3 or len(phrase[0]) < 4 or not classes.can_stand_alone(phrase[0])
        ):
            continue
        spread = sum(word_freq[w] for w in phrase) / len(phrase)
        early = 1.0 / (1.0 + first_seen[phrase] / max(len(runs), 1))
        scored.append((_score(count, spread, len(phrase), early), phrase))
    # Ties go to the earlier, then the alphabetically first phrase: the same story always gets
    # the same tags, whatever order a set gives in this process.
    scored.sort(key=lambda item: (-item[0], first_seen[item[1]], item[1]))
    entity_keys = {e.name.lower() for e in entities}
    chosen: list[str] = []
    stems: list[str] = []
    for _, phrase in scored:
        text = " ".join(phrase)
        stem = " ".join(_stem(w) for w in phrase)
        if text in entity_keys or any(_overlaps(stem, s) for s in stems):
            continue
        chosen.append(text)
        stems.append(stem)
        if len(chosen) >= limit:
            break
    return chosen


def _score(count: int, spread: float, words: int, early: float) -> float:
    """Repetition first: how often the phrase occurs, then how often its words recur beyond
    once (`spread` is their mean count), so a phrase seen once made of words seen once ("pretty
    cringe-worthy stuff") loses to a concept the story keeps returning to."""
    length = 0.7 if words == 1 else 1.0 + 0.3 * (words - 1)
    return (count + 0.5 * (spread - 1.0)) * length * (0.7 + 0.3 * early)


def _blocked_spans(clean: CleanText, entities: list[FoundEntity]) -> list[tuple[int, int]]:
    spans = list(clean.skipped)
    for entity in entities:
        if entity.kind != "misc":
            spans.extend((m.start, m.end) for m in entity.mentions if m.field == "body")
    spans.sort()
    return spans


def _name_words(entities: list[FoundEntity]) -> frozenset[str]:
    """Words of the names found: "Stancil" alone, after "Kenneth Morgan Stancil", is a name too."""
    return frozenset(
        word
        for entity in entities
        if entity.kind != "misc"
        for word in entity.name.lower().split()
        if len(word) > 2 and word not in STOP
    )


def _runs(
    doc: Doc, blocked: list[tuple[int, int]], names: frozenset[str] = frozenset()
) -> list[list[str]]:
    """Maximal runs of content words; hyphenated words ("full-scale") stay whole.

    A run also ends at a word that cannot sit inside a noun phrase: an adverb ("fervently") or
    a verb form that is not also a noun or adjective ("swore", "arrested", "appreciates").
    """
    classes = word_classes()
    strings = doc.vocab.strings
    # Token attributes as plain rows, read once: each Token object spaCy builds costs more than
    # the test it is built for.
    rows = doc.to_array([IDX, IS_ALPHA, IS_STOP, IS_TITLE, LOWER, SPACY]).tolist()
    words = _WORDS
    runs: list[list[str]] = []
    current: list[str] = []
    b = 0
    join_next = False
    spans = len(blocked)
    # A hyphen's LOWER is the hyphen's own: no other text lower-cases to "-".
    for i, (start, alpha, stop, title, lower_id, space) in enumerate(rows):
        while b < spans and blocked[b][1] <= start:
            b += 1
        in_blocked = b < spans and blocked[b][0] <= start < blocked[b][1]
        if lower_id == _HYPHEN and current and i and not rows[i - 1][5] and not space:
            join_next = True
            continue
        if alpha:
            lower, usable = words.get(lower_id) or _learn_word(lower_id, strings)
        else:
            lower, usable = "", False
        content = (
            not in_blocked
            and usable
            and not stop
            and not (title and lower in names)
        )
        after_hyphen = (
            content and i >= 2 and rows[i - 1][4] == _HYPHEN and not rows[i - 1][5]
            and not rows[i - 2][5]
        )
        if content and join_next and current:
            current[-1] = f"{current[-1]}-{lower}"
        elif after_hyphen:
            # The word before the hyphen was no content word: a compound such as "first-degree"
            # or "best-loved" stays whole, the tail of "20-year-old" is a fragment and dropped.
            if current:
                runs.append(current)
                current = []
            if rows[i - 2][1] and not in_blocked:
                current.append(f"{strings[rows[i - 2][4]]}-{lower}")
        elif content and not classes.breaks_phrase(lower):
            current.append(lower)
        elif current:
            runs.append(current)
            current = []
        join_next = False
    if current:
        runs.append(current)
    return [trimmed for run in runs if (trimmed := _trim(run, classes))]


def _learn_word(lower_id: int, strings: StringStore) -> tuple[str, bool]:
    """A word's entry in `_WORDS`: its text, and whether it is long enough and no STOP word."""
    if len(_WORDS) >= MEMO_LIMIT:
        _WORDS.clear()
    lower = strings[lower_id]
    found = _WORDS[lower_id] = (lower, len(lower) > 2 and lower not in STOP)
    return found


def _trim(run: list[str], classes: WordClasses) -> list[str]:
    """A phrase starts at a modifier or noun ("emanating" is cut) and ends at a possible noun
    (not at "sure" or "online"); adverbs and participles at the ends are rarely part of it."""
    while run and (
        run[-1].endswith(("ly", "ed")) or run[-1] in STOP or not classes.can_end(run[-1])
    ):
        run = run[:-1]
    while run and (run[0].endswith("ly") or classes.is_verb_only(run[0])):
        run = run[1:]
    return run


def _candidates(run: list[str]) -> list[tuple[str, ...]]:
    if len(run) <= MAX_WORDS:
        return [tuple(run)]
    return [tuple(run[i : i + n]) for n in (2, 3) for i in range(len(run) - n + 1)]


def _well_formed(phrase: tuple[str, ...], classes: WordClasses) -> bool:
    """A piece cut from a longer run must still start and end like a noun phrase."""
    return (
        not phrase[0].endswith("ly")
        and not classes.is_verb_only(phrase[0])
        and not phrase[-1].endswith(("ly", "ed"))
        and classes.can_end(phrase[-1])
    )


def _overlaps(stem: str, other: str) -> bool:
    """The same tag again: contained in the other ("tax" in "bedroom tax") or two words shared
    ("public health emergency", "severe public health")."""
    if stem in other or other in stem:
        return True
    return len(set(stem.split()) & set(other.split())) >= 2


def _ngrams(run: list[str]) -> set[tuple[str, ...]]:
    return {tuple(run[i : i + n]) for n in range(1, MAX_WORDS + 1) for i in range(len(run) - n + 1)}


def _stem(word: str) -> str:
    """Singular-ish: "appearances" and "appearance", "boxes" and "box", "injuries" and "injury"."""
    if len(word) <= 4:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
