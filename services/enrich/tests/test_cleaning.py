from enrich.cleaning import clean_line, clean_text, html_to_text


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


def test_boilerplate_lines_go_anywhere_copyright_and_share_included():
    raw = "Real news sentence here.\n\nShare this article\n\nMore news.\n\n© 2024 Example Media Ltd"
    assert clean_text(raw).text == "Real news sentence here.\n\nMore news."


def test_dateline_is_marked_not_removed():
    clean = clean_text("LONDON (Reuters) - The Bank of England held rates.")
    assert clean.text.startswith("LONDON (Reuters) - ")
    assert clean.text[: clean.dateline_end] == "LONDON (Reuters) - "


def test_headline_and_html_cleaning():
    assert clean_line("  🇺🇦 Ukraine   ready ") == "Ukraine ready"
    text = html_to_text("<p>One &amp; two.</p><script>x()</script><p>Three</p>")
    assert clean_text(text).text == "One & two.\n\nThree"
