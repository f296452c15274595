import time

import pytest

from enrich.cleaning import clean_line, clean_text, html_to_text, is_title_case
from enrich.entities import dateline_places, located


def test_sample_loses_trailer_comments_and_flags(enriched_sample):
    body = enriched_sample.body_text
    assert "Edited and published by" not in body
    assert not body.rstrip().endswith("Comments")
    assert "🇷🇺" not in body and "🇺🇦" not in body
    assert "Kremlin: Talks Will Be “Very Difficult”" in body
    assert "Ukraine is expected to raise the issue" in body


def test_paragraphs_are_separated_by_one_blank_line_and_spaces_normalised():
    clean = clean_text("First  para\u00a0here.\n\n\n\n   Second para.  \nThird line.\n")
    assert clean.text == "First para here.\n\nSecond para.\n\nThird line."


def test_hard_wrapped_lines_join_into_one_paragraph():
    clean = clean_text("The minister said on Tuesday that the plan would\ngo ahead next year.")
    assert clean.text == "The minister said on Tuesday that the plan would go ahead next year."


def test_headings_are_kept_but_marked():
    clean = clean_text(
        "Intro paragraph that is long enough to be prose, with a verb.\n\n"
        "Small Wins, No Big Moves\n\n"
        "Past rounds achieved limited success, such as prisoner swaps and returned bodies."
    )
    kinds = [(clean.text[b.start : b.end], b.kind) for b in clean.blocks]
    assert ("Small Wins, No Big Moves", "heading") in kinds
    assert kinds[0][1] == "paragraph"


@pytest.mark.parametrize(
    "line",
    [
        "LONDON 1996-08-30",  # a dateline on a line of its own
        "TAVILDARA , Tajikistan 1996-08-30",
        "Belgium beat Turkey 2-1",  # a score line
        "W L PCT GB",  # a table's header row
        "JAKARTA POST",  # a press digest's source, in capitals
    ],
)
def test_datelines_scores_and_table_rows_are_not_headings(line):
    raw = f"Shares rose on Monday as investors cheered.\n\n{line}\n\nThe index climbed 1.2 percent."
    assert blocks_of(raw)[1] == (line, "paragraph")


def test_a_title_case_line_among_table_rows_is_not_a_heading():
    kinds = blocks_of(
        "Results of matches played on Saturday.\n\nNational League\n\nAtlanta 4 Chicago 2\n\n"
        "Houston 3 Denver 1"
    )
    assert ("National League", "paragraph") in kinds


@pytest.mark.parametrize(
    ("line", "title_case"),
    [
        ("Russia and Ukraine Resume Peace Talks in Türkiye Amid Low Hopes for Breakthrough", True),
        ("Ukraine Ready to Push for Ceasefire", True),
        ("U.N. Ambassador Albright arrives in Chile .", False),
        ("SOCCER - JAPAN GET LUCKY WIN", False),
        ("Talks resume in Istanbul", False),
    ],
)
def test_title_case_is_every_word_capitalised_but_the_small_ones(line, title_case):
    assert is_title_case(line) is title_case


def test_boilerplate_lines_go_anywhere_copyright_and_share_included():
    raw = "Real news sentence here.\n\nShare this article\n\nMore news.\n\n© 2024 Example Media Ltd"
    assert clean_text(raw).text == "Real news sentence here.\n\nMore news."


def test_dateline_is_marked_not_removed():
    clean = clean_text("LONDON (Reuters) - The Bank of England held rates.")
    assert clean.text.startswith("LONDON (Reuters) - ")
    assert clean.text[: clean.dateline_end] == "LONDON (Reuters) - "


@pytest.mark.parametrize(
    ("raw", "dateline"),
    [
        ("(CNN)They may be close to finding alien life.", "(CNN)"),
        ("(CNN) -- The storm moved north.", "(CNN) -- "),
        ("Boston (CNN)Guilty across the board.", "Boston (CNN)"),
        ("New Delhi, India (CNN)As the earth shook, tremors were felt.", "New Delhi, India (CNN)"),
        ("(The Hollywood Reporter)Stan Freberg has died.", "(The Hollywood Reporter)"),
        ("(Mental Floss) -- Here are ten facts.", "(Mental Floss) -- "),
        # prose that opens with a name or a parenthesis has no dateline
        ("Apple (AAPL) shares rose on Monday.", ""),
        ("(Updated) The storm hit the coast.", ""),
        ("Boston Celtics fans cheered the win.", ""),
    ],
)
def test_mixed_case_datelines_and_publishers_are_marked(raw, dateline):
    clean = clean_text(raw)
    assert clean.text == raw
    assert clean.text[: clean.dateline_end] == dateline


def test_a_mixed_case_dateline_names_where_the_story_was_filed():
    clean = clean_text("New Delhi, India (CNN)As the earth shook, India sent aid.")
    assert [clean.text[s:e] for s, e in dateline_places(clean)] == ["New Delhi", "India"]
    assert located(clean) == "New Delhi"


def test_headline_and_html_cleaning():
    assert clean_line("  🇺🇦 Ukraine   ready ") == "Ukraine ready"
    text = html_to_text("<p>One &amp; two.</p><script>x()</script><p>Three</p>")
    assert clean_text(text).text == "One & two.\n\nThree"


def blocks_of(raw: str) -> list[tuple[str, str]]:
    clean = clean_text(raw)
    return [(clean.text[b.start : b.end], b.kind) for b in clean.blocks]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("By John Smith", "byline"),
        ("BY JOHN SMITH", "byline"),
        ("By Jane Doe, Economics Correspondent", "byline"),
        ("(Reporting by Jane Doe in London; Editing by Mark Potter)", "byline"),
        ("Reporting by Jane Doe; Writing by Tom Roe; Editing by Mark Potter", "byline"),
        ("Additional reporting by Ali Saleh in Kyiv", "byline"),
        ("Compiled by Mark Potter", "byline"),
        ("Photo: Getty Images", "byline"),
        ("Photo: Reuters/Toby Melville", "byline"),
        ("Associated Press writer Jane Doe in London contributed to this report.", "byline"),
        # prose that starts like a byline stays a paragraph
        ("By Friday, the rebels had taken the city.", "paragraph"),
        ("Reporting by the BBC revealed that the minister had misled parliament.", "paragraph"),
        ("Compiled by hand, the list includes 40 names.", "paragraph"),
    ],
)
def test_bylines_and_credits_are_marked_and_stay_in_the_text(line, kind):
    raw = f"Shares rose on Monday as investors cheered.\n\n{line}\n\nThe index climbed 1.2 percent."
    assert blocks_of(raw)[1] == (line, kind)


def test_a_byline_line_is_not_joined_to_its_neighbours():
    clean = clean_text(
        "Markets rally as the Bank of England signals a cut this summer\n"
        "By John Smith\n"
        "LONDON (Reuters) - Shares rose on Monday."
    )
    assert [clean.text[b.start : b.end] for b in clean.blocks] == [
        "Markets rally as the Bank of England signals a cut this summer",
        "By John Smith",
        "LONDON (Reuters) - Shares rose on Monday.",
    ]


def test_dateline_after_an_opening_byline_is_marked():
    clean = clean_text("By John Smith\n\nLONDON (Reuters) - Shares rose on Monday.")
    assert clean.text[: clean.dateline_end] == "By John Smith\n\nLONDON (Reuters) - "


def test_agency_sign_off_gives_no_entities_and_no_summary_sentence(enricher, make_article):
    article = make_article(
        "Bank of England holds rates",
        "LONDON (Reuters) - The Bank of England held interest rates at 5.25 percent on "
        "Thursday, as expected by economists.\n\n"
        "Photo: Reuters/Toby Melville\n\n"
        "(Reporting by Jane Doe in London; Editing by Mark Potter)",
    )
    result = enricher.enrich(article)
    assert "(Reporting by Jane Doe in London; Editing by Mark Potter)" in result.body_text
    names = {e.name for e in (*result.people, *result.organisations, *result.places)}
    assert not names & {"Jane Doe", "Mark Potter", "Toby Melville", "Reuters"}
    london = next(e for e in result.places if e.name == "London")  # the dateline's place
    assert [(m.start, m.end) for m in london.mentions] == [(0, 6)]
    summary = " ".join(d.value for d in result.descriptions)
    assert "Reporting by" not in summary and "Photo:" not in summary


@pytest.mark.parametrize(
    "sentence",
    [
        "Copyright law has not kept pace with generative AI, the judge wrote in a 40-page opinion.",
        "Published by Penguin in 1967, the novel sold millions of copies worldwide.",
        "Follow us, the officer shouted, and ran towards the gate.",
        "Subscribe and save offers drove a 20% rise in revenue last quarter.",
        "See more than 40 photographs in the exhibition at the Tate.",
        "Click here, the instructions say, and wait for the code.",
        "(c) The company shall pay the fee within 30 days.",
    ],
)
def test_story_sentences_that_start_like_boilerplate_are_kept(sentence):
    raw = f"The court ruled on Monday.\n\n{sentence}\n\nThe appeal is due in June."
    assert (
        clean_text(raw).text
        == f"The court ruled on Monday.\n\n{sentence}\n\nThe appeal is due in June."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Copyright 2024 Reuters. All rights reserved.",
        "© 2025 The Associated Press",
        "Copyright 2024 The Associated Press. All rights reserved. This material may not be "
        "published, broadcast, rewritten or redistributed.",
        "Edited and published by Veritas Global News to maintain accuracy and originality",
        "Published by Reuters",
        "Follow us on Twitter",
        "Follow us on Facebook, Twitter and Instagram",
        "Subscribe to our newsletter",
        "Sign up for the Morning Briefing newsletter",
        "Click here to read more.",
        "See also: Ukraine war latest",
        "Read more: Putin and Zelensky to meet in Istanbul",
        "View all comments (24)",
        "Comments",
    ],
)
def test_boilerplate_lines_are_removed(line):
    raw = f"The court ruled on Monday.\n\n{line}\n\nThe appeal is due in June."
    assert clean_text(raw).text == "The court ruled on Monday.\n\nThe appeal is due in June."


def test_long_hard_wrapped_block_without_punctuation_cleans_in_linear_time():
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda"]
    lines = [" ".join(words[(i + j) % 9] for j in range(9)) for i in range(16_000)]
    started = time.perf_counter()
    clean = clean_text("\n".join(lines))  # about 900 KB: quadratic joining took over 20 s
    assert time.perf_counter() - started < 3
    assert clean.text == " ".join(lines)


def test_html_entities_are_decoded_once():
    text = html_to_text("<p>Write &amp;lt;b&amp;gt; for bold; &amp;pound;5 &lt;i&gt; &#169;</p>")
    assert clean_text(text).text == "Write &lt;b&gt; for bold; &pound;5 <i> ©"


def test_control_and_bidi_override_characters_are_removed():
    raw = "Joe\x00 Biden\x07 met \x1b\u202eAngela\u202c \u2066Merkel\u2069\x7f\x9d.\tThen\x0bmore."
    assert clean_text(raw).text == "Joe Biden met Angela Merkel. Then more."


def test_a_next_line_character_breaks_the_line_and_persian_keeps_its_non_joiner():
    assert clean_text("First line.\x85Second line.") == clean_text("First line.\nSecond line.")
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want", spelt with ZWNJ
    assert clean_line(persian) == persian


def test_musical_signs_card_suits_and_symbols_stay():
    line = "A sonata in C♯ minor, B♭ major and D♮; bridge hand ♠ A K 5 ♥ Q J ♦ 7 ♣ 2; © ™ ★ ♀"
    assert clean_line(line) == line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("▶️ Watch: 🅰️ 🆘 ‼️ ⁉️ ↩️ ⬅️ 〰️ ▪️ the story", "Watch: the story"),
        ("🇺🇦 Kyiv 🏴󠁧󠁢󠁳󠁣󠁴󠁿 Glasgow 1️⃣ first #️⃣ tag", "Kyiv Glasgow first tag"),
        ("Firefighters 👩‍🚒 👍🏽 ❤️‍🔥 🏳️‍🌈 arrived", "Firefighters arrived"),
        ("Hearts ♥️ and stars ⭐ ✅", "Hearts ♥ and stars"),
    ],
)
def test_emoji_flags_keycaps_and_sequences_are_removed(raw, expected):
    assert clean_line(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Two\u00a0\u2003spaces\tand\x0b\x0ctabs \u3000", "Two spaces and tabs"),
        ("Line\r\nbreaks\u2028and\x85NEL\x1c", "Line breaks and NEL"),
        # A paragraph separator is no space to cleaning: it stays, the spaces beside it go.
        ("Kept\u2029 separator  \u202fhere", "Kept\u2029 separator here"),
        ("Text without emoji: “quotes”, dashes — and 3 figures", "Text without emoji: “quotes”, "
         "dashes — and 3 figures"),
    ],
)
def test_each_run_of_spaces_becomes_one_space_and_other_characters_stay(raw, expected):
    assert clean_line(raw) == expected
