"""Which parts of speech an English word can have, out of context, from WordNet's word lists.

Enrichment runs spaCy's NER alone (no tagger), so keyword extraction cannot ask a tagger whether
a word is a noun. The English model package ships WordNet's lemmatizer lists, read here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from spacy.lookups import Lookups

from enrich.spacy_model import MODEL_PACKAGE

_CLASSES = ("noun", "verb", "adj", "adv")
MEMO_LIMIT = 200_000  # words remembered; a worker's memo is cleared when it grows past this


@dataclass(frozen=True)
class WordClasses:
    """Which parts of speech an English word can have, out of context (WordNet's lists).

    `base` holds each class's base forms, `irregular` its irregular inflected forms ("swore"),
    `rules` its regular suffix rules ("ies" -> "y"). Empty lists make every word unknown, and
    an unknown word is treated as a possible noun, so keywords still work without them.
    """

    base: dict[str, frozenset[str]] = field(default_factory=dict)
    irregular: dict[str, frozenset[str]] = field(default_factory=dict)
    rules: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # Each word's classes, worked out once: the suffix rules cost a scan per class.
    _memo: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def can_be(self, word: str, kind: str) -> bool:
        return kind in self.classes(word)

    def classes(self, word: str) -> frozenset[str]:
        """Every class `word` can have."""
        found = self._memo.get(word)
        if found is None:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            found = self._memo[word] = frozenset(k for k in _CLASSES if self._can_be(word, k))
        return found

    def _can_be(self, word: str, kind: str) -> bool:
        base = self.base.get(kind, frozenset())
        if word in base or word in self.irregular.get(kind, frozenset()):
            return True
        return any(
            word.endswith(old) and len(word) > len(old) + 1 and word[: -len(old)] + new in base
            for old, new in self.rules.get(kind, ())
            if old
        )

    def known(self, word: str) -> bool:
        return bool(self.classes(word))

    def is_verb_only(self, word: str) -> bool:
        """An inflected verb that is no noun or adjective: "swore", "emanating", "alleges"."""
        classes = self.classes(word)
        return (
            "verb" in classes
            and "noun" not in classes
            and "adj" not in classes
            and word not in self.base.get("verb", frozenset())
        )

    def breaks_phrase(self, word: str) -> bool:
        """Adverbs and finite verbs end a noun phrase; "-ing" forms may be nouns ("shaming")."""
        classes = self.classes(word)
        if "-" in word or "noun" in classes or "adj" in classes:
            return False
        if "adv" in classes or (word.endswith("ly") and self.base):
            return True
        return self.is_verb_only(word) and not word.endswith("ing")

    def can_end(self, word: str) -> bool:
        """A phrase ends at its head noun (or a gerund, "public shaming"): not at "sure"."""
        classes = self.classes(word)
        return "-" in word or word.endswith("ing") or "noun" in classes or not classes

    def can_stand_alone(self, word: str) -> bool:
        """A one-word tag is a noun, never an adjective ("american", "great") or a bare verb."""
        classes = self.classes(word)
        return (
            self.can_end(word)
            and "adj" not in classes
            and "adv" not in classes
            and not self.is_verb_only(word)
        )


@cache
def word_classes() -> WordClasses:
    """WordNet's lists from the English model package, read once; empty if it is missing."""
    try:
        root = Path(str(resources.files(MODEL_PACKAGE)))
    except ModuleNotFoundError:
        return WordClasses()
    path = next(root.glob("*/lemmatizer/lookups"), None)
    if path is None:
        return WordClasses()
    lookups = Lookups().from_disk(path)
    index, exceptions, rules = (
        lookups.get_table(name) for name in ("lemma_index", "lemma_exc", "lemma_rules")
    )
    return WordClasses(
        base={k: frozenset(index.get(k, ())) for k in _CLASSES},
        irregular={k: frozenset(exceptions.get(k, {})) for k in _CLASSES},
        rules={k: tuple((old, new) for old, new in rules.get(k, ())) for k in _CLASSES},
    )
