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
