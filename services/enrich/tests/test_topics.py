import pytest

from enrich.topics import TopicClassifier

TOP_LEVEL = {
    "medtop:01000000": "arts, culture, entertainment and media",
    "medtop:02000000": "conflict, war and peace",
    "medtop:03000000": "crime, law and justice",
    "medtop:04000000": "disaster, accident and emergency incident",
    "medtop:05000000": "economy, business and finance",
    "medtop:06000000": "education",
    "medtop:07000000": "health",
    "medtop:08000000": "human interest",
    "medtop:09000000": "labour",
    "medtop:10000000": "lifestyle and leisure",
    "medtop:11000000": "politics",
    "medtop:12000000": "religion",
    "medtop:13000000": "science and technology",
    "medtop:14000000": "society",
    "medtop:15000000": "sport",
    "medtop:16000000": "environment",
    "medtop:17000000": "weather",
}


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier()


def test_vocabulary_has_the_17_iptc_top_level_topics(classifier):
    top = {c: t.name for c, t in classifier.topics.items() if t.level == 1}
    assert top == TOP_LEVEL
    for topic in classifier.topics.values():
        if topic.level == 2:
            assert topic.parent in TOP_LEVEL


def test_sample_is_about_conflict_and_politics(enriched_sample):
    medtop = [s for s in enriched_sample.subjects if s.scheme == "medtop"]
    top = [s for s in medtop if s.level == 1]
    assert top[0].code == "medtop:02000000"
    assert top[0].uri == "http://cv.iptc.org/newscodes/mediatopic/02000000"
    assert "medtop:11000000" in {s.code for s in top}
    assert len(top) <= 3 and all(0 < s.confidence <= 1 for s in medtop)


@pytest.mark.parametrize(
    ("headline", "body", "code"),
    [
        (
            "United beat City 2-1",
            "The striker scored twice as United won the league match. The coach praised the team.",
            "medtop:15000000",
        ),
        (
            "Shares fall as inflation rises",
            "Stock markets fell after the central bank raised interest rates to fight inflation.",
            "medtop:05000000",
        ),
        (
            "Man charged with murder",
            "Police arrested a man who was charged with murder and will appear in court on Monday.",
            "medtop:03000000",
        ),
    ],
)
def test_clear_stories_get_the_right_top_topic(classifier, headline, body, code):
    assert classifier.classify(headline, body)[0].code == code


def test_agency_subjects_are_kept(enricher, make_article):
    from shared.article import Subject

    given = Subject(code="subj:15000000", scheme="subj", name="sport")
    result = enricher.enrich(
        make_article("Cup final", "The team won the cup final.", subjects=[given])
    )
    assert result.subjects[0] == given


def test_dates_are_not_scorelines(classifier):
    dated = "The central bank raised interest rates on 2024-05-03 and again on 2024-06-14."
    plain = "The central bank raised interest rates in May and again in June."
    assert classifier.classify("Bank raises rates", dated) == classifier.classify(
        "Bank raises rates", plain
    )


@pytest.mark.parametrize(
    "body",
    [
        "Leeds won 3-1 at home.",
        "Leeds 2-1 Chelsea.",
        "It was a 21-17 win for the visitors.",
        "The match ended 0-0.",
    ],
)
def test_scorelines_are_sport_evidence(classifier, body):
    assert "medtop:15000000" in {s.code for s in classifier.classify("Result", body)}


@pytest.mark.parametrize(
    "body",
    [
        "The report is dated 05-03-2024.",
        "Rates will be 4.5-4.75 percent.",
        "The office opens 10:30-11:00.",
        "Between 1,500-2,000 people came.",
        "Form A21-17 was filed.",
    ],
)
def test_number_runs_are_not_sport_evidence(classifier, body):
    assert "medtop:15000000" not in {s.code for s in classifier.classify("Notice", body)}


def test_a_capitalised_party_name_is_politics_not_work(classifier):
    body = (
        "Gordon Brown said Labour would protect the health service. He urged voters "
        "to back Labour, and said a vote for Labour was a vote against cuts."
    )
    codes = {s.code for s in classifier.classify("Brown makes final appeal", body)}
    assert "medtop:11000000" in codes
    assert "medtop:09000000" not in codes


def test_labour_at_the_start_of_a_sentence_still_means_work(classifier):
    body = "Labour shortages hit farms. Workers are scarce and wages for farm workers rose."
    top = classifier.classify("Farms short of hands", body)[0]
    assert top.code == "medtop:09000000"


@pytest.mark.parametrize(
    ("headline", "body"),
    [
        (
            "Rescuers pull man from rubble",
            "A rescue team pulled a man from the rubble after the earthquake. The search team "
            "said a second team of rescuers was still working in the collapsed building.",
        ),
        (
            "Jury weighs death penalty",
            "The jury will decide whether he faces the death penalty. Prosecutors asked the court "
            "for the death penalty; the defence lawyer said the penalty would be unjust.",
        ),
    ],
)
def test_team_and_penalty_alone_are_not_sport(classifier, headline, body):
    assert "medtop:15000000" not in {s.code for s in classifier.classify(headline, body)}


def test_a_blues_guitarist_is_arts(classifier):
    body = (
        "The bluesman and guitarist recorded with a jazz pianist and a songwriter; his guitar "
        "work shaped the blues for decades."
    )
    assert classifier.classify("Blues legend at home", body)[0].code == "medtop:01000000"
