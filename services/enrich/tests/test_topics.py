"""Topic subjects: the shape of what the classifier returns, and its behaviour on obvious cases.

Accuracy on unseen news is measured by `bench/topics_eval.py`, not here: these tests hold for
any reasonable model and fail when the classifier or its shipped model is broken.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from shared.article import Subject

from enrich import medtop
from enrich.topics import MAX_TOP_LEVEL, TopicClassifier, word_counts

SPORT = ("Champions League final ends in extra-time win",
         "The striker scored twice in the second half and the goalkeeper saved a penalty as the "
         "club won the cup final. The coach praised his players after the match, and fans of "
         "the football team celebrated the title in the stadium.")
BUSINESS = ("Shares fall as the central bank raises interest rates",
            "Stock markets fell and bond yields rose after the central bank raised interest "
            "rates to fight inflation. Investors sold bank shares, the company reported lower "
            "quarterly profits and revenue, and economists expect slower economic growth.")
POLITICS = ("Prime minister calls early election",
            "The prime minister called an early general election after parliament rejected "
            "the government's budget. Opposition parties said voters would punish the ruling "
            "party, and ministers began campaigning for the vote.")


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier()


@pytest.mark.parametrize(("story", "code"), [
    (SPORT, "medtop:15000000"),
    (BUSINESS, "medtop:04000000"),  # economy, business and finance (IPTC's code)
    (POLITICS, "medtop:11000000"),
])
def test_an_obvious_story_gets_its_desks_topic_first(classifier, story, code):
    subjects = classifier.classify(*story)
    assert subjects[0].code == code
    assert subjects[0].level == 1


@pytest.mark.parametrize("story", [SPORT, BUSINESS, POLITICS])
def test_subjects_are_ranked_top_level_topics_each_followed_by_its_children(classifier, story):
    subjects = classifier.classify(*story)
    top = [s for s in subjects if s.level == 1]
    assert 1 <= len(top) <= MAX_TOP_LEVEL
    assert [s.confidence for s in top] == sorted((s.confidence for s in top), reverse=True)
    parent: Subject | None = None
    for subject in subjects:
        assert subject.confidence is not None and 0 < subject.confidence <= 1
        if subject.level == 1:
            parent = subject
            continue
        assert subject.level == 2 and parent is not None
        assert classifier.topics[subject.code or ""].parent == parent.code
        assert subject.confidence <= parent.confidence  # type: ignore[operator]
    assert sum(s.confidence for s in top) <= 1.001  # type: ignore[misc]


def test_probabilities_are_a_distribution_over_the_top_level(classifier):
    p = classifier.probabilities(*BUSINESS)
    top = {c: v for c, v in p.items() if classifier.topics[c].level == 1}
    assert len(top) == 17
    assert sum(top.values()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(("headline", "body"), [
    ("", ""),
    ("1234", "5678 90 — ... !!!"),
])
def test_nothing_to_read_gets_no_topic(classifier, headline, body):
    assert classifier.classify(headline, body) == []


@pytest.mark.parametrize(("headline", "body"), [
    # Hausa and Finnish: languages the model was not trained on
    ("Gwamnatin tarayya ta sanar da sabbin matakai",
     "Gwamnatin tarayyar Najeriya ta ce za ta dauki sabbin matakai domin magance matsalar "
     "tsaro a yankin arewa maso yamma, in ji ministan yada labarai a ranar Litinin."),
    ("Hallitus esitti uuden lakiesityksen",
     "Hallitus kertoi maanantaina aikovansa tuoda eduskunnalle uuden lakiesityksen, joka "
     "koskee kuntien rahoitusta ja sosiaalipalvelujen järjestämistä ensi vuodesta alkaen."),
])
def test_an_unknown_language_never_gets_a_confident_topic(classifier, headline, body):
    assert all((s.confidence or 0) < 0.5 for s in classifier.classify(headline, body))


def test_repeating_a_story_does_not_change_its_topics(classifier):
    headline, body = SPORT
    once = [s.code for s in classifier.classify(headline, body)]
    twice = [s.code for s in classifier.classify(headline, f"{body}\n\n{body}")]
    assert once[0] == twice[0]


def test_a_model_with_a_code_iptc_does_not_have_is_refused():
    buffer = io.BytesIO()
    layer = {"weights": np.zeros((1, 1), np.int8), "scales": np.ones(1, np.float32),
             "bias": np.zeros(1, np.float32)}
    np.savez(buffer, words=np.frombuffer(b"word", np.uint8), idf=np.ones(1, np.float16),
             unknown_idf=np.float32(1),
             codes1=np.asarray(["medtop:99000000"]), codes2=np.asarray(["medtop:20000002"]),
             **{f"{k}{n}": v for k, v in layer.items() for n in "12"})
    with pytest.raises(medtop.VocabularyError, match="99000000"):
        TopicClassifier(buffer.getvalue())


def test_the_sample_story_is_about_conflict_or_politics(enriched_sample):
    top = [s for s in enriched_sample.subjects if s.scheme == "medtop" and s.level == 1]
    assert {"medtop:16000000", "medtop:11000000"} & {s.code for s in top[:2]}
    assert top[0].uri == "http://cv.iptc.org/newscodes/mediatopic/" + top[0].code[7:]


def test_agency_subjects_are_kept(enricher, make_article):
    given = Subject(code="subj:15000000", scheme="subj", name="sport")
    result = enricher.enrich(
        make_article("Cup final", "The team won the cup final.", subjects=[given])
    )
    assert result.subjects[0] == given


@pytest.mark.parametrize(("language", "ceiling"), [("fr", 0.7), ("de-AT", 0.5), ("sw", 0.3)])
def test_confidence_is_capped_by_how_well_the_model_knows_the_language(classifier, language,
                                                                       ceiling):
    english = classifier.classify(*SPORT, "en")
    assert english[0].confidence > ceiling
    assert all((s.confidence or 0) <= ceiling for s in classifier.classify(*SPORT, language))


@pytest.mark.parametrize(
    ("headline", "body", "expected"),
    [
        # Letters only: digits, underscores and apostrophes end a word, one letter is no word.
        ("Rates", "It's a 2nd_rate RATE cut", {"rates": 2, "it": 1, "nd": 1, "rate": 2, "cut": 1}),
        # Letters beyond ASCII are letters too, "½" included (a number, not a digit).
        ("Zürich", "Café owners in ZÜRICH pay ½x", {"zürich": 3, "café": 1, "owners": 1,
                                                    "in": 1, "pay": 1, "½x": 1}),
    ],
)
def test_words_are_lower_case_runs_of_letters_headline_counted_twice(headline, body, expected):
    assert word_counts(headline, body) == expected
