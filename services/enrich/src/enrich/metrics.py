"""Word count and reading time of an article body."""

from __future__ import annotations

import math
import re

WORDS_PER_MINUTE = 230
_WORD = re.compile(r"\w+(?:[’'\-.]\w+)*")
# Scripts written without spaces between words: count characters instead (about 2 per word).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def word_count(text: str) -> int:
    cjk = len(_CJK.findall(text))
    if cjk:
        return cjk // 2 + len(_WORD.findall(_CJK.sub(" ", text)))
    return len(_WORD.findall(text))


def reading_time_seconds(words: int, words_per_minute: int = WORDS_PER_MINUTE) -> int:
    return math.ceil(words * 60 / words_per_minute) if words else 0
