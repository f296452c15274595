import re
import socket

import pytest
import spacy
from spacy.tokens import Doc
from spacy.util import filter_spans

from shared.article import Entity

from enrich.cleaning import clean_text
from enrich.entities import (
    ORGANISATION,
    PERSON,
    PLACE,
    _group,
    _Mention,
    _merge_variants,
    _settle,
    dateline_places,
    find_entities,
    located,
)
from enrich.spacy_model import MODEL_PATH, load_english


def entity_names(entities: list[Entity]) -> set[str]:
    return {e.name for e in entities}


def test_sample_people_and_places_found_with_right_types(enriched_sample):
    people = entity_names(enriched_sample.people)
    places = entity_names(enriched_sample.places)
    for name in ("Dmitry Peskov", "Vladimir Medinsky", "Volodymyr Zelenskyy", "Vladimir Putin"):
        assert name in people
    for name in ("Istanbul", "Ankara", "Kherson"):
        assert name in places
    organisations = entity_names(enriched_sample.organisations)
    assert not ({"Istanbul", "Ankara", "Kherson"} & (people | organisations))


def test_short_name_merged_into_full_name(enriched_sample):
    people = {e.name: e for e in enriched_sample.people}
    assert "Putin" not in people
    putin = people["Vladimir Putin"]
    assert putin.count == 2
    body = enriched_sample.body_text
    assert [body[m.start : m.end] for m in putin.mentions] == ["Vladimir Putin", "Putin"]


def test_flags_and_nationalities_never_entities(enriched_sample):
    names = entity_names(
        enriched_sample.people + enriched_sample.organisations + enriched_sample.places
    )
    for bad in ("Table", "Russian"):
        assert bad not in names
    assert not any(any(ord(ch) > 0x1F000 for ch in n) for n in names)


def test_mentions_point_into_cleaned_text(enriched_sample):
    body, headline = enriched_sample.body_text, enriched_sample.headline
    for entity in enriched_sample.people + enriched_sample.places:
        for m in entity.mentions:
            text = body if m.field == "body" else headline
            assert entity.name.split()[-1].lower() in text[m.start : m.end].lower() or (
                text[m.start : m.end] in entity.name
            )
        assert 0 <= entity.salience <= 1


@pytest.fixture(scope="module")
def variants(enricher, make_article):
    body = (
        "KYIV, June 3 - President Volodymyr Zelenskyy met troops near the front on Monday. "
        "Zelensky said the army needed more air defence.\n\n"
        "Officials in the United States said Washington would send more help. "
        "The Ukrainian officials welcomed the decision, and Mr Kuleba thanked the United States."
    )
    return enricher.enrich(make_article("Zelensky visits front line", body))


def test_spelling_variants_merge_and_the_dateline_is_where_the_story_was_filed(variants):
    people = {e.name: e for e in variants.people}
    assert "Volodymyr Zelenskyy" in people
    assert "Zelensky" not in people
    assert people["Volodymyr Zelenskyy"].count >= 3  # headline + two body mentions
    places = {e.name: e for e in variants.places}
    assert "KYIV" not in places
    assert [(m.start, m.end) for m in places["Kyiv"].mentions] == [(0, 4)]
    assert variants.located == "Kyiv"
    assert places["United States"].count == 2
    assert "Ukrainian" not in places


@pytest.mark.parametrize(
    ("body", "places"),
    [
        ("LONDON 1996-08-30\n\nShares fell in early trade.", ["LONDON"]),
        ("ANKARA (Reuters) - Turkey said on Monday it would talk.", ["ANKARA"]),
        ("WASHINGTON, March 3 (Reuters) - The Senate voted.", ["WASHINGTON"]),
        ("SAN JOSE, Costa Rica (Reuters) - Shares rose.", ["SAN JOSE", "Costa Rica"]),
        ("(CNN) -- The storm moved north on Monday.", []),
        ("Shares fell in early trade on Monday in London.", []),
    ],
)
def test_dateline_places(body, places):
    clean = clean_text(body)
    assert [clean.text[s:e] for s, e in dateline_places(clean)] == places
    assert located(clean) == (places[0].title() if places else None)


def test_a_dateline_place_is_a_place_even_in_capitals(enricher, make_article):
    result = enricher.enrich(make_article(
        "Turkey hosts talks",
        "ANKARA (Reuters) - Turkish officials said on Monday that delegations would meet "
        "again next week. Foreign ministers are expected to attend.",
        language="en"))
    assert "Ankara" in entity_names(result.places)
    assert not {"Ankara", "ANKARA"} & entity_names(result.people + result.organisations)
    assert result.located == "Ankara"


def test_the_sources_located_is_kept(enricher, make_article):
    result = enricher.enrich(make_article(
        "Turkey hosts talks", "ANKARA (Reuters) - Officials met on Monday.",
        language="en", located="Istanbul"))
    assert result.located == "Istanbul"


def test_a_person_named_by_surname_stays_a_person():
    def mention(text: str, kind: str, start: int) -> _Mention:
        return _Mention("body", start, start + len(text), text, kind)

    clusters = _merge_variants(_group([
        mention("Kenneth Clarke", PERSON, 0), mention("Clarke", ORGANISATION, 40),
        mention("Clarke", ORGANISATION, 90), mention("Clarke", ORGANISATION, 140),
    ]))
    assert len(clusters) == 1
    _settle(clusters[0], frozenset())
    assert (clusters[0].name, clusters[0].kind) == ("Kenneth Clarke", PERSON)


def test_people_teams_and_places_of_a_sports_report(enricher, make_article):
    people, organisations, places = _people_orgs_places(enricher, make_article, (
        "LONDON 1996-08-30\n\nWest Indian captain Brian Lara scored 120 as Warwickshire beat "
        "Leicestershire by six wickets at Edgbaston on Friday. Lara said the team had played "
        "well. Chancellor Kenneth Clarke watched from the stands; Clarke later left for "
        "Birmingham."))
    assert {"Brian Lara", "Kenneth Clarke"} <= people
    assert {"Warwickshire", "Leicestershire"} <= organisations
    assert {"London", "Birmingham"} <= places
    assert not {"Brian Lara", "Kenneth Clarke", "Lara", "Clarke"} & organisations


def test_the_shipped_model_loads_offline_and_finds_people_organisations_places(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert MODEL_PATH.is_dir() and MODEL_PATH.is_relative_to(
        MODEL_PATH.parents[1])  # inside the enrich package
    nlp = load_english()
    doc = nlp("Angela Merkel met executives of Siemens in Munich on Tuesday.")
    labels = {(e.text, e.label_) for e in doc.ents}
    assert {("Angela Merkel", "PERSON"), ("Siemens", "ORG"), ("Munich", "LOC")} <= labels


def test_agency_entities_kept_with_their_codes(enricher, make_article):
    article = make_article(
        "Talks in Istanbul",
        "Russian and Ukrainian delegations met in Istanbul on Monday. "
        "Istanbul police closed roads.",
        places=[Entity(name="Istanbul", type="city", uri="http://www.geonames.org/745044")],
    )
    result = enricher.enrich(article)
    istanbul = [e for e in result.places if e.name == "Istanbul"]
    assert len(istanbul) == 1
    assert istanbul[0].uri == "http://www.geonames.org/745044"
    assert istanbul[0].type == "city"
    assert istanbul[0].count == 3  # the headline mention counts too


def _people_orgs_places(enricher, make_article, body: str) -> tuple[set, set, set]:
    result = enricher.enrich(make_article("News of the day", body, language="en"))
    return (entity_names(result.people), entity_names(result.organisations),
            entity_names(result.places))


def test_a_title_after_a_comma_does_not_make_a_place_a_person(enricher, make_article):
    people, _, places = _people_orgs_places(enricher, make_article, (
        "At Google, CEO Sundar Pichai spoke to staff on Monday. In Washington, Secretary of "
        "State Antony Blinken said the talks had gone well."))
    assert {"Sundar Pichai", "Antony Blinken"} <= people
    assert not {"Google", "Washington"} & people
    assert "Washington" in places


def test_a_nationality_before_state_is_not_a_place(enricher, make_article):
    _, _, places = _people_orgs_places(enricher, make_article, (
        "North Korean state media said the launch succeeded. French state railway SNCF "
        "cancelled trains, and Dutch state broadcaster NOS reported delays on Monday."))
    assert not {"North Korean", "French", "Dutch"} & places


def test_names_with_a_lowercase_start_are_kept(enricher, make_article):
    _, organisations, _ = _people_orgs_places(enricher, make_article, (
        "Shares in eBay rose on Monday after the company reported strong sales. Officials "
        "said al-Qaeda had claimed the attack in Yemen."))
    assert {"eBay", "al-Qaeda"} <= organisations


def test_thousands_of_names_still_merge_their_short_forms():
    syllables = ["ka", "lo", "mi", "re", "su", "ta", "vo", "ne", "pi", "du"]

    def word(n: int) -> str:  # distinct, and no letter doubled (which variants would squeeze)
        return "".join(syllables[int(d)] for d in f"{n:04d}").capitalize()

    names = [f"{word(n)} {word(n)}son" for n in range(2000)]
    mentions = [_Mention("body", 0, len(name), name, PERSON, False) for name in names]
    mentions.append(_Mention("body", 0, 10, f"{word(7)}son", PERSON, False))
    mentions.append(_Mention("body", 0, 10, "Zelenskyy", PERSON, False))
    mentions.append(_Mention("body", 0, 10, "Volodymyr Zelensky", PERSON, False))
    merged = _merge_variants(_group(mentions))
    assert len(merged) == 2001  # the short forms joined their full names
    by_name = {c.mentions[0].text: c for c in merged}
    assert len(by_name[names[7]].mentions) == 2
    assert len(by_name["Volodymyr Zelensky"].mentions) == 2


def test_a_credit_glued_to_the_first_name_is_cut_off(enricher, make_article):
    body = ("(CNN)Sofia Vergara and her former fiance Nick Loeb met lawyers in Los Angeles on "
            "Monday. Sofia Vergara said the talks had been friendly, according to her lawyer.")
    result = enricher.enrich(make_article("Talks in Los Angeles", body, language="en"))
    people = {e.name: e for e in result.people}
    assert "Sofia Vergara" in people and not any(")" in name for name in people)
    assert {result.body_text[m.start:m.end] for m in people["Sofia Vergara"].mentions} == {
        "Sofia Vergara"}


def test_a_place_or_organisation_inside_a_longer_name_is_another_one():
    def mention(text: str, kind: str) -> _Mention:
        return _Mention("body", 0, len(text), text, kind, False)

    merged = _merge_variants(_group([
        mention("North Korea", PLACE), mention("Korea", PLACE), mention("Korea", PLACE),
        mention("Open Britain", ORGANISATION), mention("Britain", PLACE),
        mention("Vladimir Putin", PERSON), mention("Putin", PERSON),
        mention("North Atlantic Treaty Organization", ORGANISATION),
        mention("NATO", ORGANISATION),
    ]))
    names = sorted(sorted({m.text for m in c.mentions}) for c in merged)
    assert names == [["Britain"], ["Korea"], ["NATO", "North Atlantic Treaty Organization"],
                     ["North Korea"], ["Open Britain"], ["Putin", "Vladimir Putin"]]


def test_a_code_with_digits_is_neither_a_place_nor_a_person(enricher, make_article):
    _, _, places = _people_orgs_places(enricher, make_article, (
        "FDI inflows fell in FY19 for the first time in six years, the ministry said on "
        "Monday. Officials in London expect a rebound."))
    assert "FY19" not in places and "London" in places


def _found_with(headline: str, body: str, labels: dict[str, str]) -> dict[str, str]:
    """Names and kinds found when the model labels every occurrence of each given name."""
    nlp = spacy.blank("en")
    clean = clean_text(body)

    def doc(text: str) -> Doc:
        made = nlp(text)
        spans = [made.char_span(m.start(), m.end(), label=label)
                 for name, label in labels.items()
                 for m in re.finditer(rf"\b{re.escape(name)}\b", text)]
        made.ents = filter_spans([span for span in spans if span is not None])
        return made

    return {e.name: e.kind for e in find_entities(doc(headline), doc(clean.text), clean)}


SECTIONED_STORY = (
    "Officials met in Istanbul on Monday, though few expect a ceasefire soon.\n\n"
    "Small Wins, No Big Moves\n\n"
    "Past rounds achieved limited success, such as prisoner swaps and returned bodies.\n\n"
    "Ukraine Ready to Push for Ceasefire\n\n"
    "Ukraine is open to a deal and to a summit later this year, its delegation said on "
    "Tuesday.\n\n"
    "Focus on Zorvania\n\n"
    "Talks on the region will follow next month, officials said."
)
SECTION_LABELS = {"Istanbul": "GPE", "Small Wins": "PERSON", "Ceasefire": "ORG",
                  "Ukraine": "GPE", "Zorvania": "GPE"}


def test_title_case_words_met_only_in_section_headings_are_not_names():
    found = _found_with("Talks resume", SECTIONED_STORY, SECTION_LABELS)
    assert "Small Wins" not in found and "Ceasefire" not in found
    # a heading's name the body also gives, or one with a word of its own, stays
    assert found["Ukraine"] == PLACE and found["Zorvania"] == PLACE


def test_title_case_words_met_only_in_a_title_case_headline_are_not_names():
    labels = {"Ukraine": "GPE", "Breakthrough": "ORG", "Zorvania": "GPE"}
    body = "Ukraine is open to a deal, its delegation said on Tuesday."
    found = _found_with("Ukraine and Zorvania Resume Talks Amid Hopes for Breakthrough", body,
                        labels)
    assert "Breakthrough" not in found and {"Ukraine", "Zorvania"} <= set(found)
    # in a headline written as a sentence, capitals are a name's
    found = _found_with("Shares of Breakthrough rise as Ukraine reopens ports", body, labels)
    assert found["Breakthrough"] == ORGANISATION


def test_a_dateline_line_keeps_its_place_and_its_names_count():
    body = ("LONDON 1996-08-30\n\nWarwickshire beat Durham by six wickets on Friday.\n\n"
            "Brian Lara scored 120.")
    found = _found_with("Cricket - Warwickshire win", body,
                        {"LONDON": "GPE", "Warwickshire": "ORG", "Durham": "ORG",
                         "Brian Lara": "PERSON"})
    assert found == {"London": PLACE, "Warwickshire": ORGANISATION, "Durham": ORGANISATION,
                     "Brian Lara": PERSON}


def test_a_one_word_person_named_once_without_a_title_is_left_out():
    body = ("Brian Lara left Kigali on Monday. Lara said President Kagame had invited him. "
            "Initially the visit was private.")
    found = _found_with("Lara visits", body, {"Brian Lara": "PERSON", "Lara": "PERSON",
                                              "Kigali": "PERSON", "Kagame": "PERSON",
                                              "Initially": "PERSON"})
    assert found == {"Brian Lara": PERSON, "Kagame": PERSON}


def test_a_lone_word_met_only_after_prepositions_is_a_place_or_a_service_not_a_person():
    body = ("Officials in Gympie said the flood had passed. Residents posted photos on Zwitter "
            "all week, and the mayor wrote on Zwitter that schools would reopen in Gympie. "
            "The choir sang of Zion twice, and later of Zion again.")
    found = _found_with("Flood passes", body, {"Gympie": "PERSON", "Zwitter": "PERSON",
                                               "Zion": "PERSON"})
    assert found == {"Gympie": PLACE, "Zwitter": ORGANISATION, "Zion": PERSON}


def test_a_one_word_name_the_story_also_writes_in_lower_case_is_a_word_not_a_name():
    body = ("The President of the Republic met Indigenous leaders in Zorvania. Every republic "
            "has indigenous groups, Labour said, and the labour market is small.\n\n"
            "Labour later spoke of a new Republic Day.")
    labels = {"Republic": "GPE", "Indigenous": "GPE", "Zorvania": "GPE", "Labour": "ORG",
              "Republic Day": "EVENT"}
    found = _found_with("Leaders meet", body, labels)
    assert "Republic" not in found and "Indigenous" not in found
    # a word of its own, or a longer name, stays
    assert found["Zorvania"] == PLACE and "Republic Day" in found
    found = _found_with("Leaders meet", body.replace("the labour market", "the market"), labels)
    assert found["Labour"] == ORGANISATION
    # a word English has only as an adjective is no place or organisation, even once
    found = _found_with("Liaison named", "The Indigenous liaison met Labour in Zorvania.", labels)
    assert found == {"Labour": ORGANISATION, "Zorvania": PLACE}
