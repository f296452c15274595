"""The table that moves the former topic codes to IPTC's, and the functions that apply it."""

from __future__ import annotations

from shared.medtop_migration import (
    changed_codes,
    migrate_article,
    migrate_code,
    migrate_filters,
    migrate_subjects,
)

OLD_ENVIRONMENT = {"code": "medtop:16000000", "name": "environment", "scheme": "medtop",
                   "level": 1, "confidence": 0.5,
                   "uri": "http://cv.iptc.org/newscodes/mediatopic/16000000"}


def test_six_top_level_codes_change_and_nothing_is_lost() -> None:
    codes = changed_codes()
    assert codes["medtop:05000000"] == "medtop:04000000"  # business was filed as education
    assert codes["medtop:02000000"] == "medtop:16000000"  # conflict was filed as crime
    assert len(codes) == 6
    assert sorted(codes) == sorted(codes.values())  # a permutation: every old meaning lands


def test_subjects_written_by_the_former_table_are_rewritten_once() -> None:
    agency = {"code": "medtop:16000000", "name": "armed conflict", "scheme": "medtop"}
    new_prediction = {"code": "medtop:16000000", "name": "Conflict, war and peace",
                      "scheme": "medtop", "level": 1}
    subjects, count = migrate_subjects([OLD_ENVIRONMENT, agency, new_prediction])
    assert count == 1
    assert subjects[0] == {**OLD_ENVIRONMENT, "code": "medtop:06000000", "name": "Environment",
                           "uri": "http://cv.iptc.org/newscodes/mediatopic/06000000"}
    assert subjects[1:] == [agency, new_prediction]
    again, count = migrate_subjects(subjects)
    assert (again, count) == (subjects, 0)


def test_an_article_without_old_subjects_is_returned_as_is() -> None:
    article = {"uri": "urn:x", "subjects": [{"code": "medtop:15000000", "name": "Sport"}]}
    assert migrate_article(article) == (article, 0)
    assert migrate_article({"uri": "urn:y"}) == ({"uri": "urn:y"}, 0)


def test_filter_codes_move_and_other_filters_stay() -> None:
    filters = {"topics": ["medtop:05000000", "medtop:15000000"], "language": "en"}
    moved, count = migrate_filters(filters)
    assert moved == {"topics": ["medtop:04000000", "medtop:15000000"], "language": "en"}
    assert count == 1
    assert filters["topics"] == ["medtop:05000000", "medtop:15000000"]  # not mutated
    assert migrate_filters({"language": "de"}) == ({"language": "de"}, 0)
    assert migrate_code("medtop:20000002") == "medtop:20000002"
