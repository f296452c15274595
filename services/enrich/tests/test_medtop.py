"""The shipped IPTC Media Topics vocabulary is IPTC's, byte for byte, and articles carry it."""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path

import pytest

from enrich import medtop
from enrich.topics import TopicClassifier

# IPTC's reference tree, where one is at hand (see README); the shipped copy's sha256,
# checked everywhere above, is the reference file's.
REFERENCE = Path(os.environ.get("NEWSFLOW_IPTC_REFERENCE") or "absent")


def test_the_shipped_file_is_the_one_recorded() -> None:
    # Holds wherever the package is installed, with or without the development data.
    assert hashlib.sha256(medtop.shipped_bytes()).hexdigest() == medtop.SHA256


def test_an_altered_copy_is_refused() -> None:
    raw = medtop.shipped_bytes().replace(b'"Education"', b'"Economy"', 1)
    with pytest.raises(medtop.VocabularyError, match="sha256"):
        medtop.verified(raw)


@pytest.mark.skipif(not REFERENCE.exists(),
                    reason="set NEWSFLOW_IPTC_REFERENCE to IPTC's medtop.jsonl to compare with it")
def test_every_code_label_and_parent_is_the_references() -> None:
    reference = {}
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        reference[item["code"]] = (item["label"], item["level"], item["parent"])
    shipped = {t.code: (t.label, t.level, t.parent) for t in medtop.load().topics.values()}
    assert shipped == reference


def test_the_tree_is_whole() -> None:
    vocabulary = medtop.load()
    levels = [t.level for t in vocabulary.topics.values()]
    assert levels.count(1) == 17
    assert levels.count(2) > 100 and levels.count(3) > 400
    for topic in vocabulary.topics.values():
        if topic.level == 1:
            assert topic.parent is None
        else:
            assert topic.parent is not None
            assert vocabulary[topic.parent].level == topic.level - 1


def test_the_top_level_codes_are_iptcs() -> None:
    vocabulary = medtop.load()
    # the six the former table got wrong
    assert vocabulary["medtop:02000000"].label == "Crime, law and justice"
    assert vocabulary["medtop:03000000"].label == "Disaster, accident and emergency incident"
    assert vocabulary["medtop:04000000"].label == "Economy, business and finance"
    assert vocabulary["medtop:05000000"].label == "Education"
    assert vocabulary["medtop:06000000"].label == "Environment"
    assert vocabulary["medtop:16000000"].label == "Conflict, war and peace"


def test_ancestors_walk_up_the_tree() -> None:
    vocabulary = medtop.load()
    deep = next(t for t in vocabulary.topics.values() if t.level == 4)
    second = vocabulary.ancestor(deep.code, 2)
    assert second is not None and vocabulary[second].level == 2
    assert vocabulary.ancestor(deep.code, 1) == vocabulary.ancestor(second, 1)
    assert vocabulary.ancestor(second, 3) is None


def test_subjects_on_articles_carry_the_vocabularys_label_level_and_uri() -> None:
    classifier = TopicClassifier()
    subjects = classifier.classify(
        "Central bank raises interest rates",
        "The central bank raised interest rates again as inflation stayed high. Shares fell "
        "and the currency rose on the foreign exchange markets; banks and investors expect "
        "borrowing costs to stay high for the rest of the year.")
    assert subjects
    vocabulary = medtop.load()
    for subject in subjects:
        topic = vocabulary[subject.code or ""]
        assert subject.name == topic.label
        assert subject.level == topic.level
        assert subject.uri == "http://cv.iptc.org/newscodes/mediatopic/" + topic.code[7:]
        assert subject.scheme == "medtop"


def _migration_table() -> dict:
    return json.loads(resources.files("shared").joinpath("data/medtop_migration.json")
                      .read_text("utf-8"))


def test_the_table_was_made_against_the_shipped_vocabulary() -> None:
    table = _migration_table()
    vocabulary = medtop.load()
    assert table["vocabularySha256"] == medtop.SHA256
    for entry in table["old"]:
        topic = vocabulary[entry["newCode"]]
        assert (topic.label, topic.level) == (entry["newLabel"], entry["level"])
        # what the old code meant is what the new code means
        old, new = entry["label"].casefold(), topic.label.casefold()
        assert new.replace("labor", "labour").replace("organization", "organisation") \
            .startswith(old[:-1])
