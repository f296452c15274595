"""A story enriched with the former topic table gets IPTC's codes before it is stored."""

from __future__ import annotations

from shared.article import Article, Source, Subject

from publish.handlers import current_topic_codes


def _article(*subjects: Subject) -> Article:
    return Article(uri="urn:x", source=Source(provider="dpa", format="json"),
                   subjects=list(subjects))


def test_an_old_code_with_its_old_label_is_translated() -> None:
    old = Subject(code="medtop:05000000", name="economy, business and finance", scheme="medtop",
                  confidence=0.7, level=1, uri="http://cv.iptc.org/newscodes/mediatopic/05000000")
    (subject,) = current_topic_codes(_article(old)).subjects
    assert (subject.code, subject.name, subject.uri, subject.confidence) == (
        "medtop:04000000", "Economy, business and finance",
        "http://cv.iptc.org/newscodes/mediatopic/04000000", 0.7)


def test_current_codes_and_source_subjects_are_left_alone() -> None:
    article = _article(Subject(code="medtop:05000000", name="Education", scheme="medtop"),
                       Subject(code="subj:04000000", name="economy", scheme="subj"))
    assert current_topic_codes(article) is article
