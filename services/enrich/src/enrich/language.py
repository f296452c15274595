"""Detect the language of an article, and judge whether the language a source declared is right."""

from __future__ import annotations

import re
from itertools import islice

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

# Languages of the wires and sites Newsflow reads; a small set keeps detection fast and sure.
LANGUAGES = (
    Language.ENGLISH,
    Language.GERMAN,
    Language.FRENCH,
    Language.SPANISH,
    Language.ITALIAN,
    Language.PORTUGUESE,
    Language.DUTCH,
    Language.SWEDISH,
    Language.BOKMAL,
    Language.DANISH,
    Language.FINNISH,
    Language.POLISH,
    Language.RUSSIAN,
    Language.UKRAINIAN,
    Language.TURKISH,
    Language.ARABIC,
    Language.CZECH,
    Language.SLOVAK,
    Language.GREEK,
    Language.CHINESE,
    Language.JAPANESE,
)
MIN_LETTERS = 20  # below this, a guess is noise
MIN_CONFIDENCE = 0.5
SAMPLE_CHARS = 1000  # the language of a story shows in its first lines; longer costs time
# A declared language is kept unless the text is clearly another one: long enough to judge
# (below about 100 characters lingua's low-accuracy mode is often sure and wrong: a headline and
# one English sentence can score Dutch 1.0) and scoring the declared language near zero.
DECLARED_MIN_LETTERS = 80
DECLARED_MIN_CONFIDENCE = 0.05
# The commonest function words per language: on short texts lingua's low-accuracy (trigram) mode
# can be sure and wrong ("The mayor of Paris, Anne Hidalgo, ..." scores Spanish); these words
# settle it cheaply.
_FUNCTION_WORDS = {
    "en": "the of and to in is was that for with on are by this it from has have were",
    "de": "der die das und ist nicht mit den von zu ein eine im auf für sich dem des",
    "fr": "le la les et des est une dans pour que qui pas sur au du avec il elle",
    "es": "el la los las y que del en una por para con es se su al lo como",
    "it": "il la di che e un una per non sono del della con gli le nel è si",
    "pt": "o a os as de que e do da em um uma para com não é no na se",
    "nl": "de het een en van is dat op te in niet met voor zijn er aan",
    "sv": "och att det är som en på av för med den till har inte om var",
    "nb": "og i det er som en på av for med til har ikke om var jeg ble",
    "da": "og i det er at en på af for med til har ikke om var som blev",
    "fi": "ja on ei se että oli hän mutta kuin myös tai ovat jo niin",
    "pl": "i w nie na się z do że to jest jak po o czy przez dla",
    "tr": "ve bir bu da de için ile olarak çok daha gibi ne ama sonra",
}
_FUNCTION_SETS = {code: frozenset(words.split()) for code, words in _FUNCTION_WORDS.items()}
# Each function word and the languages it belongs to: one look-up per word of the sample.
_WORD_LANGUAGES: dict[str, tuple[str, ...]] = {}
for _code, _words in _FUNCTION_SETS.items():
    for _word in _words:
        _WORD_LANGUAGES[_word] = (*_WORD_LANGUAGES.get(_word, ()), _code)
# Lingua costs about 6 µs per character, more than the rest of enrichment around NER together.
# When the sample is plainly made of one language's function words (many of them, and several
# times as many as any other language's), that is the answer and lingua is not asked.
CLEAR_MIN_HITS = 15
CLEAR_RATIO = 2.5
_TOKEN = re.compile(r"\w+")
# ISO 639-1 "no" (Norwegian) is how many feeds say Bokmål.
_ALIASES = {"no": "nb"}


class LanguageIdentifier:
    """Built once per process: lingua's models load on first use and stay in memory."""

    def __init__(self, languages: tuple[Language, ...] = LANGUAGES) -> None:
        self._detector: LanguageDetector = (
            LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
        )
        self._codes = {lang: lang.iso_code_639_1.name.lower() for lang in languages}
        self._supported = frozenset(self._codes.values())

    def detect(self, text: str) -> str | None:
        """ISO 639-1 code of `text`, or None when it is too short or the guess is unsure."""
        clear = _clear_language(text[:SAMPLE_CHARS])
        if clear is not None:
            return clear
        confidences = self.confidences(text)
        if not confidences:
            return None
        code, confidence = max(confidences.items(), key=lambda item: item[1])
        return code if confidence >= MIN_CONFIDENCE else None

    def confidences(self, text: str) -> dict[str, float]:
        sample = text[:SAMPLE_CHARS]
        if not _has_letters(sample, MIN_LETTERS):
            return {}
        values = self._detector.compute_language_confidence_values(sample)
        confidences = {self._codes[v.language]: v.value for v in values}
        return _check_function_words(sample, confidences)

    def resolve(self, declared: str | None, text: str) -> str | None:
        """The declared language when plausible for `text`, else the detected one.

        A declared tag such as "en-GB" is kept as given when its base language fits; it is replaced
        only when the text is long enough to judge, another language is detected with confidence
        and the declared language scores near zero.
        """
        sample = text[:SAMPLE_CHARS]
        if declared and (
            _base(declared) not in self._supported
            or not _has_letters(sample, DECLARED_MIN_LETTERS)
        ):
            return declared  # nothing to judge it by, or too short to judge
        clear = _clear_language(sample)
        if clear is not None and (not declared or _base(declared) == clear):
            return declared or clear
        confidences = self.confidences(text)
        detected = None
        if confidences:
            code, confidence = max(confidences.items(), key=lambda item: item[1])
            detected = code if confidence >= MIN_CONFIDENCE else None
        if declared:
            base = _base(declared)
            if not confidences or base not in confidences:
                return declared  # nothing to judge it by
            if detected is None or confidences[base] >= DECLARED_MIN_CONFIDENCE:
                return declared
        return detected


def _has_letters(sample: str, wanted: int) -> bool:
    """Whether `sample` holds `wanted` letters, read only as far as it takes to find them
    (counting all the letters of a sample cost more than settling its language)."""
    return len(list(islice(filter(str.isalpha, sample), wanted))) == wanted


def _base(tag: str) -> str:
    base = tag.strip().replace("_", "-").split("-")[0].lower()
    return _ALIASES.get(base, base)


def _function_word_hits(sample: str) -> dict[str, int]:
    """How many words of `sample` are function words of each language."""
    hits = dict.fromkeys(_FUNCTION_SETS, 0)
    for token in _TOKEN.findall(sample.lower()):
        for code in _WORD_LANGUAGES.get(token, ()):
            hits[code] += 1
    return hits


def _clear_language(sample: str) -> str | None:
    """The language whose function words `sample` is plainly made of, if one is."""
    hits = _function_word_hits(sample)
    best = max(hits, key=lambda code: hits[code])
    runner_up = max(n for code, n in hits.items() if code != best)
    if hits[best] >= CLEAR_MIN_HITS and hits[best] >= CLEAR_RATIO * max(runner_up, 1):
        return best
    return None


def _check_function_words(sample: str, confidences: dict[str, float]) -> dict[str, float]:
    """Move the confidence to the language whose function words the text is clearly made of."""
    if not confidences:
        return confidences
    top = max(confidences, key=lambda code: confidences[code])
    if top not in _FUNCTION_SETS:
        return confidences
    hits = _function_word_hits(sample)
    best = max(hits, key=lambda code: hits[code])
    if best != top and hits[best] >= 3 and hits[best] >= 2 * max(hits[top], 1):
        adjusted = dict(confidences)
        adjusted[best], adjusted[top] = (
            max(confidences[top], confidences.get(best, 0.0)),
            min(confidences[top], confidences.get(best, 0.0)),
        )
        return adjusted
    return confidences
