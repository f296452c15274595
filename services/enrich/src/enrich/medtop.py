"""The IPTC Media Topics vocabulary Newsflow ships: IPTC's codes, English labels and parent links.

`data/medtop.jsonl` is a verbatim copy of the reference tree, one topic a line
(`{"code", "label", "level", "parent"}`, 1,160 topics, levels 1 to 6). Its bytes are checked
against `SHA256` when it is loaded, so an edited or truncated copy fails loudly instead of
putting wrong codes on articles.

Attribution: IPTC Media Topics (http://cv.iptc.org/newscodes/mediatopic/), codes, labels and
hierarchy © IPTC, International Press Telecommunications Council, licensed under the Creative
Commons Attribution 4.0 International licence (CC BY 4.0). Labels are IPTC's English (US
spelling) labels of the 2022 vintage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

SCHEME = "medtop"
URI_BASE = "http://cv.iptc.org/newscodes/mediatopic/"
DATA_FILE = "data/medtop.jsonl"
SHA256 = "209a8ffebdc78732a4879958b34edd68820d03bb48715f808d1fe9a2e8941b98"
ATTRIBUTION = (
    "IPTC Media Topics (http://cv.iptc.org/newscodes/mediatopic/), © IPTC, CC BY 4.0"
)


class VocabularyError(RuntimeError):
    """The shipped vocabulary file is not the one Newsflow was built with."""


@dataclass(frozen=True, slots=True)
class Topic:
    code: str
    label: str
    level: int
    parent: str | None

    @property
    def uri(self) -> str:
        return URI_BASE + self.code.split(":", 1)[1]


class Vocabulary:
    """Every topic by code, with the walk up to a topic's top-level and second-level ancestors."""

    def __init__(self, topics: dict[str, Topic]) -> None:
        self.topics = topics

    def __getitem__(self, code: str) -> Topic:
        return self.topics[code]

    def __contains__(self, code: object) -> bool:
        return code in self.topics

    def top_level(self) -> list[Topic]:
        return [t for t in self.topics.values() if t.level == 1]

    def ancestor(self, code: str, level: int) -> str | None:
        """The code's ancestor at `level` (the code itself at its own level); None above it."""
        topic = self.topics.get(code)
        while topic is not None and topic.level > level:
            topic = self.topics.get(topic.parent) if topic.parent else None
        return topic.code if topic is not None and topic.level == level else None


def parse(raw: bytes) -> Vocabulary:
    topics = {}
    for line in raw.decode("utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            topics[item["code"]] = Topic(item["code"], item["label"], item["level"],
                                         item["parent"])
    return Vocabulary(topics)


@cache
def load() -> Vocabulary:
    """The shipped vocabulary, checked against the recorded sha256 (loaded once per process)."""
    return verified(shipped_bytes())


def shipped_bytes() -> bytes:
    return resources.files("enrich").joinpath(DATA_FILE).read_bytes()


def verified(raw: bytes) -> Vocabulary:
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise VocabularyError(f"{DATA_FILE} has sha256 {digest}, expected {SHA256}")
    return parse(raw)
