import re

from enrich.word_classes import WordClasses, word_classes


def test_sample_keywords_are_multiword_tags_not_headline_fragments(enriched_sample):
    keywords = enriched_sample.keywords
    assert 5 <= len(keywords) <= 10
    assert sum(" " in k for k in keywords) >= 4
    assert all(k == k.lower() for k in keywords)
    headline_words = re.findall(r"\w+", enriched_sample.headline.lower())
    body = enriched_sample.body_text.lower()
    for keyword in keywords:
        assert keyword in body or keyword.replace("-", " ") in body
        assert keyword not in {"resume peace talks", "low hopes", "hopes for breakthrough"}
        assert not (keyword.split()[0] in headline_words and keyword not in body)


def test_keywords_do_not_repeat_entities_or_each_other(enriched_sample):
    names = {
        e.name.lower()
        for e in enriched_sample.people + enriched_sample.organisations + enriched_sample.places
    }
    keywords = enriched_sample.keywords
    assert not names & set(keywords)
    assert "ukrainian" not in keywords and "president" not in keywords
    assert len(set(keywords)) == len(keywords)
    for a in keywords:
        assert not any(a != b and a in b for b in keywords)


def _keywords(enricher, make_article, body: str) -> list[str]:
    return enricher.enrich(make_article("Local news", body, language="en")).keywords


def test_word_classes_tell_phrase_words_from_adverbs_verbs_and_adjectives():
    classes = word_classes()
    assert classes.breaks_phrase("fervently") and classes.breaks_phrase("swore")
    assert not classes.breaks_phrase("shaming") and not classes.breaks_phrase("supports")
    assert classes.can_stand_alone("abortion") and classes.can_stand_alone("pesticide")
    assert not classes.can_stand_alone("american") and not classes.can_stand_alone("obese")
    assert not classes.can_end("sure") and classes.can_end("crisis")


def test_unknown_words_are_treated_as_nouns_without_word_lists():
    classes = WordClasses()
    assert classes.can_stand_alone("anything") and not classes.breaks_phrase("fervently")


def test_a_surname_alone_is_not_a_keyword(enricher, make_article):
    body = (
        "Deputies rushed Kenneth Morgan Stancil III from court. The print shop operator faces a "
        "murder charge. Authorities arrested Stancil in Florida. The maximum sentence Stancil "
        "faces is death. Stancil hates the print shop. The murder charge against Stancil stands."
    )
    keywords = _keywords(enricher, make_article, body)
    assert "murder charge" in keywords
    assert not any("stancil" in k for k in keywords)


def test_adverbs_and_finite_verbs_end_a_phrase(enricher, make_article):
    body = (
        "The rider fervently supports the club. The rider fervently supports the club again. "
        "The retired rider fervently supports the club, and the rider fervently supports it still. "
        "The council swore oaths. The council swore oaths again."
    )
    keywords = _keywords(enricher, make_article, body)
    assert not any("fervently" in k or "swore" in k for k in keywords)


def test_compounds_stay_whole_and_number_compounds_leave_no_fragment(enricher, make_article):
    body = (
        "A 20-year-old man faces a first-degree murder charge. The 20-year-old man denies the "
        "first-degree murder charge. Lawyers for the 20-year-old man said the first-degree "
        "murder charge would be contested. A second 20-year-old man was released."
    )
    keywords = _keywords(enricher, make_article, body)
    assert any(k.startswith("first-degree murder") for k in keywords)
    assert not any("year-old" in k or k.startswith("degree") for k in keywords)


def test_evaluative_words_do_not_open_a_tag(enricher, make_article):
    body = (
        "The coach praised a great response from the squad. It was a great response, he said, "
        "and a fantastic opportunity for the academy. The academy gave a great response to "
        "the fantastic opportunity, and the academy players trained hard."
    )
    keywords = _keywords(enricher, make_article, body)
    assert keywords
    assert not any(k.split()[0] in {"great", "fantastic"} for k in keywords)


def test_a_recurring_concept_outranks_a_one_off_phrase(enricher, make_article):
    body = (
        "The town faces a water shortage this summer. Pretty cringe-worthy stuff, said one "
        "resident of the council's reply. Farmers blame the water shortage on a dry spring. "
        "Engineers say the water shortage could last until autumn unless the reservoir fills."
    )
    keywords = _keywords(enricher, make_article, body)
    assert keywords[0] == "water shortage"
    assert "pretty cringe-worthy stuff" not in keywords[:2]


def test_singular_and_plural_of_a_phrase_give_one_tag(enricher, make_article):
    body = (
        "The services sector grew again. Economists said the service sector added jobs, and the "
        "services sector now employs most workers. Growth in the service sector slowed in May, "
        "while the services sector index rose."
    )
    keywords = _keywords(enricher, make_article, body)
    assert sum(k.startswith(("service sector", "services sector")) for k in keywords) == 1
