import pytest

from shared.article import Entity


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


def test_headings_flags_and_nationalities_never_entities(enriched_sample):
    names = entity_names(
        enriched_sample.people + enriched_sample.organisations + enriched_sample.places
    )
    for bad in ("Small Wins", "No Big Moves", "Table", "Focus on Abducted Children", "Russian"):
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


def test_spelling_variants_merge_and_dateline_is_not_a_place(variants):
    people = {e.name: e for e in variants.people}
    assert "Volodymyr Zelenskyy" in people
    assert "Zelensky" not in people
    assert people["Volodymyr Zelenskyy"].count >= 3  # headline + two body mentions
    places = {e.name: e for e in variants.places}
    assert "KYIV" not in places and "Kyiv" not in places
    assert places["United States"].count == 2
    assert "Ukrainian" not in places


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
