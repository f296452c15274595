"""Encodings real feeds send: BOMs, wrong declarations, undeclared legacy charsets."""

from __future__ import annotations

import codecs

import pytest

from ingest.errors import UnsupportedFormat
from ingest.parsing import parse

NITF = """<?xml version="1.0" encoding="{declared}"?>
<nitf><head><docdata><doc-id id-string="enc-1"/></docdata></head><body><body.head>
<hedline><hl1>{headline}</hl1></hedline></body.head>
<body.content><p>{body}</p></body.content></body></nitf>"""


def nitf(declared: str, headline: str, body: str = "Body text.") -> str:
    return NITF.format(declared=declared, headline=headline, body=body)


def test_declared_latin1_over_utf8_bytes_reads_as_utf8():
    document = nitf("iso-8859-1", "En 41-årig mand løsladt").encode("utf-8")
    [article] = parse(document, provider="ritzau")
    assert article.headline == "En 41-årig mand løsladt"


def test_real_latin1_bytes_honour_the_declaration():
    document = nitf("iso-8859-1", "Cost &#163;66bn", body="A £66 billion hit.").encode("latin-1")
    [article] = parse(document, provider="pa")
    assert article.headline == "Cost £66bn"
    assert article.body_text == "A £66 billion hit."


def test_windows_1252_quotes_declared_as_latin1():
    document = nitf("ISO-8859-1", "\u201cQuoted\u201d story").encode("cp1252")
    [article] = parse(document, provider="x")
    assert article.headline == "\u201cQuoted\u201d story"


def test_gb2312_declared_rss_is_transcoded():
    rss = """<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>t</title>
    <item><title>建国35周年纪念</title><link>http://e.cn/1</link>
    <description>华表，和平鸽</description></item></channel></rss>"""
    [article] = parse(rss.encode("gb2312"), provider="cn")
    assert article.headline == "建国35周年纪念"
    assert article.body_text == "华表，和平鸽"


def test_undeclared_shift_jis_is_detected():
    atom = """<!-- no declaration --><feed xmlns="http://www.w3.org/2005/Atom"><entry>
    <title>記事投稿が反映されない問題について</title>
    <summary>色々調べてたら、サポートしていないことが判明しました。もともと対応していません。</summary>
    </entry></feed>"""
    [article] = parse(atom.encode("shift_jis"), provider="jp")
    assert article.headline == "記事投稿が反映されない問題について"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_byte_order_marks(bom: bytes, codec: str):
    text = nitf("UTF-8", "Ünïcödé headline")
    [article] = parse(bom + text.encode(codec), provider="x")
    assert article.headline == "Ünïcödé headline"


def test_utf8_bom_before_json():
    [article] = parse(codecs.BOM_UTF8 + b'{"headline": "H", "body": "B"}', provider="x")
    assert article.headline == "H"


def test_xml_without_declaration_after_blank_lines():
    document = "\n\n   " + nitf("UTF-8", "Sans déclaration").split("?>", 1)[1]
    [article] = parse(document.encode(), provider="x")
    assert article.headline == "Sans déclaration"


def test_binary_data_is_unsupported():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4
    with pytest.raises(UnsupportedFormat):
        parse(png, "image/png", provider="x")


# News in each language, sent in its legacy code page with no encoding declared anywhere.
LEGACY = {
    "pt": ("cp1252", "Pesquisa mostra simulações de 2º turno",
           "O ex-presidente deixa a prisão após decisão do tribunal. As eleições acontecem em "
           "outubro, e a população está dividida."),
    "es": ("cp1252", "El Gobierno aprueba la reforma de las pensiones",
           "¿Quién pagará la factura? La oposición pidió explicaciones al ministro de Economía, "
           "según fuentes próximas al Ejecutivo."),
    "fr": ("latin-1", "Réforme de l'assurance chômage : les syndicats appellent à la grève",
           "Le président a annoncé mercredi une réforme. Les syndicats dénoncent « une "
           "régression » et appellent à manifester à Paris."),
    "de": ("cp1252", "Bundesregierung beschließt Maßnahmen gegen die Inflation",
           "Verbraucherschützer äußerten sich überwiegend positiv über die Änderungen, die ab "
           "Januar gelten."),
    "pl": ("cp1250", "Rząd przyjął projekt ustawy o podatkach",
           "Opozycja zapowiedziała, że złoży skargę do Trybunału, a związkowcy grożą strajkiem "
           "w przyszłym tygodniu. Źródła w ministerstwie mówią o kompromisie."),
    "cs": ("cp1250", "Vláda schválila návrh zákona o daních",
           "Opozice ohlásila, že podá stížnost k Ústavnímu soudu, a odboráři hrozí stávkou "
           "příští týden. Ministr řekl, že se nic nemění."),
    "hu": ("cp1250", "A kormány elfogadta az adótörvény tervezetét",
           "Az ellenzék bejelentette, hogy az Alkotmánybírósághoz fordul, a szakszervezetek "
           "pedig sztrájkkal fenyegetőznek. Hosszú vita várható a következő ülésen."),
    "sk": ("cp1250", "Vláda schválila návrh zákona o daniach",
           "Opozícia oznámila, že podá sťažnosť na Ústavný súd. Odborári sa vyhrážajú štrajkom."),
    "ro": ("cp1250", "Guvernul a aprobat proiectul de lege privind impozitele",
           "Opoziţia a anunţat că va contesta legea la Curtea Constituţională, iar sindicatele "
           "ameninţă cu greva."),
    "ru": ("cp1251", "Правительство одобрило законопроект о налогах",
           "Оппозиция заявила, что обратится в Конституционный суд. Профсоюзы грозят "
           "забастовкой."),
    "el": ("cp1253", "Η κυβέρνηση ενέκρινε το νομοσχέδιο για τους φόρους",
           "Η αντιπολίτευση δήλωσε ότι θα προσφύγει στο Συμβούλιο της Επικρατείας."),
}


def _rss(language: str | None, headline: str, body: str) -> str:
    declared = f"<language>{language}</language>" if language else ""
    return (f'<rss version="2.0"><channel><title>Wire</title>{declared}<item>'
            f"<guid>urn:x:1</guid><title>{headline}</title><description>{body}</description>"
            "</item></channel></rss>")


def _g2(language: str | None, headline: str, body: str) -> str:
    lang = f' xml:lang="{language}"' if language else ""
    return (f'<newsItem guid="urn:x:1" version="1"{lang}><contentMeta><headline>{headline}'
            f"</headline></contentMeta><contentSet><inlineData>{body}</inlineData>"
            "</contentSet></newsItem>")


def _nitf_doc(language: str | None, headline: str, body: str) -> str:
    lang = f' baselang="{language}-XX"' if language else ""
    return (f"<nitf{lang}><body><body.head><hedline><hl1>{headline}</hl1></hedline>"
            f"</body.head><body.content><p>{body}</p></body.content></body></nitf>")


def _json_doc(language: str | None, headline: str, body: str) -> str:
    lang = f'"language": "{language}", ' if language else ""
    return f'{{"uri": "urn:x:1", {lang}"headline": "{headline}", "body": "{body}"}}'


@pytest.mark.parametrize("make", [_rss, _g2, _nitf_doc, _json_doc],
                         ids=["rss", "newsml-g2", "nitf", "json"])
@pytest.mark.parametrize("language", LEGACY)
def test_undeclared_legacy_encodings_are_read_by_the_declared_language(
        language: str, make: object) -> None:
    codepage, headline, body = LEGACY[language]
    raw = make(language, headline, body).encode(codepage)  # type: ignore[operator]
    [article] = parse(raw, provider="wire")
    assert (article.headline, article.body_text) == (headline, body)


@pytest.mark.parametrize("language", ["pt", "es", "fr", "de", "pl"])
def test_undeclared_legacy_encodings_without_a_language_prefer_the_news_code_pages(
        language: str) -> None:
    codepage, headline, body = LEGACY[language]
    [article] = parse(_rss(None, headline, body).encode(codepage), provider="wire")
    assert (article.headline, article.body_text) == (headline, body)
