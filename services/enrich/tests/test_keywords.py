import re


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
