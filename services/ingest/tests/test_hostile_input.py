"""Hostile and unusual input: limits checked before the work, values cut with a warning,
markup that cannot cost super-linear time, identifiers that cannot forge anything, and no
story accepted that could not be stored."""

from __future__ import annotations

import html
import time
from collections.abc import Callable

import orjson
import pytest

from ingest import markup
from ingest.errors import IngestError, InvalidArticle, PayloadTooLarge
from ingest.limits import Limits
from ingest.parsing import Parsed, parse, parse_checked

STORY = "Firefighters fought a blaze at the harbour. Nobody was hurt, the city said."


def _cpu(call: Callable[[], object]) -> tuple[object, float]:
    started = time.process_time()
    try:
        result: object = call()
    except IngestError as exc:
        result = exc
    return result, time.process_time() - started


def _json_items(count: int) -> bytes:
    return orjson.dumps(
        [{"uri": f"urn:x:{i}", "headline": f"Story {i}", "body": STORY} for i in range(count)]
    )


def _rss_items(count: int) -> bytes:
    items = "".join(
        f"<item><guid>urn:x:{i}</guid><title>Story {i}</title>"
        f"<description>{STORY}</description></item>"
        for i in range(count)
    )
    return f'<rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'.encode()


def _g2_items(count: int) -> bytes:
    items = "".join(
        f'<newsItem guid="urn:x:{i}" version="1"><contentMeta><headline>Story {i}'
        f"</headline></contentMeta><contentSet><inlineData>{STORY}</inlineData>"
        "</contentSet></newsItem>"
        for i in range(count)
    )
    return f"<newsMessage><itemSet>{items}</itemSet></newsMessage>".encode()


@pytest.mark.parametrize(
    "document", [_json_items, _rss_items, _g2_items], ids=["json", "rss", "newsml-g2"]
)
def test_a_request_over_the_item_limit_is_refused_before_its_items_are_read(
    document: Callable[[int], bytes],
) -> None:
    raw = document(40_000)
    refused, took = _cpu(lambda: parse(raw, provider="wire", max_items=1000))
    assert isinstance(refused, PayloadTooLarge), refused
    assert refused.field == "items"
    assert took < 0.5, f"{took:.2f}s of CPU before the 413"
    assert len(parse(document(1000), provider="wire", max_items=1000)) == 1000


def test_long_values_are_cut_and_the_result_says_which_field() -> None:
    long_title = "Title " * 20_000
    item = {
        "uri": "urn:x:1",
        "headline": "Storm " * 2_000,
        "byline": "By " * 1_000,
        "slugline": "slug-" * 100,
        "body": STORY,
        "body_html": f'<p><a href="https://example.org/" title="{long_title}">{STORY}</a></p>',
        "subjects": [{"code": f"medtop:{i:08d}", "name": f"Topic {i}"} for i in range(600)]
        + [{"code": "x" * 5_000, "name": "Long"}],
    }
    parsed = parse_checked(orjson.dumps(item), "application/json", provider="wire")
    [article] = parsed.articles
    [notices] = parsed.notices
    assert {n.field for n in notices} == {"headlines", "byline", "slugline", "body", "subjects"}
    assert len(article.headline) <= 1_000 and article.headline.startswith("Storm Storm")
    assert len(article.byline or "") <= 500 and len(article.slugline or "") <= 200
    assert len(article.subjects) == 500
    assert all(len(s.code or "") <= 1_000 for s in article.subjects)
    assert len(article.body_html or "") < 2_000  # the title attribute is cut
    assert 'href="https://example.org/"' in (article.body_html or "")


def test_a_link_too_long_to_keep_is_dropped_rather_than_cut() -> None:
    body = f'<p><a href="https://example.org/{"x" * 5_000}">Read more</a> {STORY}</p>'
    [article] = parse(
        orjson.dumps({"uri": "u", "headline": "H", "body_html": body}), provider="wire"
    )
    assert "href" not in (article.body_html or "") and "Read more" in article.body_html


def _nitf(inner: str) -> bytes:
    return (
        f"<nitf><head><title>Storm</title></head><body><body.content>{inner}"
        "</body.content></body></nitf>"
    ).encode()


def _ninjs_html(inner: str) -> bytes:
    return orjson.dumps({"uri": "urn:x:1", "headline": "Storm", "body_html": inner})


def _rss_html(inner: str) -> bytes:
    return (
        f"<rss><channel><title>W</title><item><guid>g</guid><title>Storm</title>"
        f"<description>{html.escape(inner)}</description></item></channel></rss>"
    ).encode()


ATTRIBUTES = "<p " + " ".join(f'a{i}="x"' for i in range(80_000)) + ">Storm</p>"
HOSTILE = {
    "attributes-ninjs": _ninjs_html(ATTRIBUTES),
    "attributes-nitf": _nitf(ATTRIBUTES),
    "attributes-rss": _rss_html(ATTRIBUTES),
    "quoted-gt-hides-attributes": _ninjs_html('<p a=">" ' + ATTRIBUTES[3:]),
    "deep-divs": _ninjs_html("<div>" * 80_000 + STORY + "</div>" * 80_000),
    "deep-unclosed": _ninjs_html("<div><p>" * 40_000 + STORY),
    "deep-nitf": _nitf("<div>" * 250 + STORY + "</div>" * 250),
    "many-paragraphs": _ninjs_html("<p>x</p>" * 500_000),
    "many-paragraphs-nitf": _nitf("<p>x</p>" * 500_000),
    "many-paragraphs-rss": _rss_html("<p>x</p>" * 100_000),
    "references-nitf": _nitf("<p>" + "&nbsp;" * 1_500_000 + "</p>"),
    "references-xml-nitf": _nitf("<p>" + "&amp;" * 1_500_000 + "</p>"),
    "references-ninjs": _ninjs_html("<p>" + "&amp;" * 1_500_000 + "</p>"),
    "references-rss": _rss_html('"' * 1_500_000),  # escaped: &quot; each
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_markup_is_refused_or_read_in_linear_time(raw: bytes) -> None:
    result, took = _cpu(lambda: parse(raw, provider="wire"))
    assert took < 1.0, f"{took:.2f}s of CPU"
    if isinstance(result, IngestError):
        assert result.status in (413, 422) and result.field == "body", result.body()


@pytest.mark.parametrize(
    "uri",
    [
        "urn:x:1\r\n2026-12-02 [info] article.ingested admin=true",
        "urn:x:\x00nul",
        "urn:x:\x1b[31mred",
        "urn:x:\x85next-line",
        "urn:x:\u202eevil",
        "urn:x:\u2066isolate",
        "urn:x:\u200fmark",
    ],
)
def test_control_and_bidi_characters_in_a_uri_are_refused(uri: str) -> None:
    with pytest.raises(InvalidArticle) as refused:
        parse(orjson.dumps({"uri": uri, "headline": "Storm", "body": STORY}), provider="wire")
    assert refused.value.field == "uri"


@pytest.mark.parametrize("guid", ["urn:x:1&#13;&#10;forged", "urn:x:&#x85;y", "urn:x:&#x202E;"])
def test_control_characters_written_as_xml_references_are_refused_too(guid: str) -> None:
    item = (
        f'<newsItem guid="{guid}" version="1"><contentMeta><headline>Storm</headline>'
        "</contentMeta></newsItem>"
    ).encode()
    with pytest.raises(InvalidArticle) as refused:
        parse(item, provider="wire")
    assert refused.value.field == "uri"


def test_a_story_too_large_to_store_keeps_one_rendition_or_is_refused() -> None:
    limits = Limits(stored_bytes=60_000)
    paragraphs = "".join(f"<p>{STORY} ({i})</p>" for i in range(400))  # ~33 KB each way
    parsed = parse_checked(_ninjs_html(paragraphs), provider="wire", limits=limits)
    [article] = parsed.articles
    assert [b.content_type for b in article.bodies] == ["text/plain"]
    assert [n.field for n in parsed.notices[0]] == ["bodies"]
    too_large = orjson.dumps({"uri": "u", "headline": "H", "body": STORY * 1_000})
    with pytest.raises(PayloadTooLarge) as refused:
        parse(too_large, provider="wire", limits=limits)
    assert refused.value.field == "body"


def test_a_nitf_story_near_the_request_limit_is_stored_within_mongodb_limits() -> None:
    paragraph = f"<p>{STORY * 6}</p>"
    count = 9_600_000 // len(paragraph)
    raw = _nitf(paragraph * count)
    assert 9_000_000 < len(raw) < 10_000_000
    _, took_quarter = _cpu(lambda: parse_checked(_nitf(paragraph * (count // 4)), provider="wire"))
    parsed, took = _cpu(lambda: parse_checked(raw, provider="wire"))
    # Linear in the size: four times the markup costs about four times the CPU, never the
    # sixteen times of a quadratic step. (A bound in seconds would measure the machine.)
    assert took < 8 * took_quarter + 0.05, f"{took:.2f}s of CPU against {took_quarter:.2f}s"
    assert isinstance(parsed, Parsed)
    [article] = parsed.articles
    stored = len(article.model_dump_json(by_alias=True, exclude_none=True))
    assert stored <= Limits().stored_bytes < 16 * 1024 * 1024
    assert len(article.bodies) == 1 and "bodies" in {n.field for n in parsed.notices[0]}


@pytest.mark.parametrize(
    ("tag", "attributes"),
    [
        ('<p a="1" b=\'2\' c=3 d e = "5">', 5),
        ('<a href="x>y" title="a b c">', 2),
        ("<img src=x alt=y/>", 2),
        ("<br/>", 0),
    ],
)
def test_attributes_are_counted_as_an_html_tokenizer_counts_them(tag: str, attributes: int) -> None:
    assert markup.shape(tag).most_attributes == attributes


@pytest.mark.parametrize(
    "text",
    [
        "plain words " * 50,
        "\x01\x02\x1f" * 200,  # escaped as \u00XX: six bytes each
        '"\\' * 300,
        "\U0001f4f0\u2028\ufeff" * 150,  # four and three bytes each in UTF-8
        "",
    ],
)
def test_the_size_shortcut_never_passes_a_story_its_json_would_not(text: str) -> None:
    """Small stories skip serialising for the stored-size check; the bound they pass must hold
    for any text: no limit below the real JSON size is ever said to be met."""
    from shared.article import Article, Source

    from ingest.draft import _surely_within

    article = Article(
        uri="urn:size:" + text[:40],
        version=1,
        language="en",
        type="text",
        headlines=[{"value": text or "H"}, {"role": "sub", "value": text or "S"}],
        bodies=[{"value": text or "B"}, {"contentType": "text/html", "value": f"<p>{text}</p>"}],
        slugline=text or None,
        byline=text or None,
        ed_note=text or None,
        signals=[text or "update"] * 3,
        source=Source(provider="p" + text[:20], format="json", raw_hash="ab" * 32, namespace="ns"),
        version_created="2026-05-01T10:00:00Z",
        first_created="2026-05-01T09:00Z",
        embargoed_until="2026-05-02T10:00:00Z",
        urgency=3,
        word_count=None,
    )
    size = len(article.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert not _surely_within(article, size - 1)
    assert _surely_within(article, 100 * size + 10_000)  # the shortcut does apply to it
