from types import SimpleNamespace

import pytest

from enrich.language import LanguageIdentifier

PARAGRAPHS = {
    "en": "The government announced new measures on Tuesday to curb rising prices.",
    "de": "Die Bundesregierung hat am Dienstag neue Maßnahmen gegen steigende Preise angekündigt.",
    "fr": "Le gouvernement a annoncé mardi de nouvelles mesures contre la hausse des prix.",
    "es": "El gobierno anunció el martes nuevas medidas para frenar la subida de los precios.",
    "it": "Il governo ha annunciato martedì nuove misure per frenare l'aumento dei prezzi.",
    "nb": "Regjeringen la fram nye tiltak mot prisveksten på tirsdag, opplyser departementet.",
    "sv": "Regeringen presenterade på tisdagen nya åtgärder mot de stigande priserna.",
    "pl": "Rząd ogłosił we wtorek nowe działania, które mają powstrzymać wzrost cen.",
    "uk": "Уряд у вівторок оголосив нові заходи для стримування зростання цін.",
    "tr": "Hükümet salı günü yükselen fiyatları dizginlemek için yeni önlemler açıkladı.",
    "ar": "أعلنت الحكومة يوم الثلاثاء عن إجراءات جديدة للحد من ارتفاع الأسعار.",
}


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize(("code", "text"), PARAGRAPHS.items())
def test_short_paragraphs_are_detected(identifier, code, text):
    assert identifier.detect(text) == code


def test_too_short_text_gives_no_language(identifier):
    assert identifier.detect("OK, 12:30") is None


def test_declared_language_kept_when_plausible_replaced_when_wrong(identifier):
    english = PARAGRAPHS["en"] + " Officials said the plan would start next month."
    assert identifier.resolve("en-GB", english) == "en-GB"
    assert identifier.resolve("it", english) == "en"
    assert identifier.resolve(None, english) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "Biden meets Merkel\nJoe Biden met Angela Merkel in Berlin on Monday.",
        "SQUASH - HONG KONG OPEN QUARTER-FINAL RESULTS . HONG KONG",
    ],
)
def test_declared_language_kept_on_short_text(identifier, text):
    assert identifier.resolve("en", text) == "en"
    assert identifier.resolve("en-GB", text) == "en-GB"


def test_declared_language_corrected_on_long_text(identifier):
    danish = (
        "Regeringen har tirsdag fremlagt en ny plan for at bremse de stigende priser. "
        "Ifølge ministeren skal planen træde i kraft allerede næste måned, og den vil "
        "blive fulgt tæt af både virksomheder og forbrugere."
    )
    assert identifier.resolve("it", danish) == "da"


LONG_ENGLISH = (
    "The government announced new measures on Tuesday to curb rising prices, and officials said "
    "that the plan would start next month. It is the third package this year, and it was "
    "welcomed by business groups that have warned for months of the cost of energy. The "
    "opposition said the measures were too late and that they would do little for the families "
    "who are hit hardest by the rise in the price of food, rent and heating this winter."
)


class _NoLingua:
    def compute_language_confidence_values(self, text: str) -> list[object]:
        raise AssertionError("lingua was asked")


def test_plain_english_is_settled_without_lingua(monkeypatch):
    identifier = LanguageIdentifier()
    monkeypatch.setattr(identifier, "_detector", _NoLingua())
    assert identifier.resolve("en-GB", LONG_ENGLISH) == "en-GB"
    assert identifier.resolve(None, LONG_ENGLISH) == "en"
    assert identifier.detect(LONG_ENGLISH) == "en"
    with pytest.raises(AssertionError, match="lingua was asked"):
        identifier.resolve("de", LONG_ENGLISH)  # a declared language it contradicts: lingua judges


def test_close_languages_are_left_to_lingua(monkeypatch):
    danish = (
        "Regeringen har tirsdag fremlagt en ny plan for at bremse de stigende priser, og det er "
        "ifølge ministeren den største plan i mange år. Den skal træde i kraft allerede næste "
        "måned, og den vil blive fulgt tæt af både virksomheder og forbrugere, som har været "
        "hårdt ramt af priserne på energi og mad i det seneste år. Der er ikke enighed om planen."
    )
    identifier = LanguageIdentifier()
    detector = identifier._detector
    asked: list[str] = []

    def confidences(text: str) -> list[object]:
        asked.append(text)
        return detector.compute_language_confidence_values(text)

    monkeypatch.setattr(identifier, "_detector", SimpleNamespace(
        compute_language_confidence_values=confidences))
    # Danish and Norwegian share most function words: only lingua tells them apart.
    assert identifier.resolve(None, danish) == "da"
    assert identifier.resolve("nb", danish) == "da"
    assert len(asked) == 2
