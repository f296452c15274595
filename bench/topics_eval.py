"""Top-3 accuracy of Newsflow's IPTC Media Topic predictions against the subjects editors assigned.

Gold labels come from real agency items in the development feeds (parsed with
`ingest.parsing.parse`): IPTC subject codes (`subj:`), mapped to their Media Topic top level with
the table below, medtop codes (second level mapped to their parent through Newsflow's vocabulary),
and dpa's own `dpacat:sp` (sport). Items with under 100 characters of body text (pictures,
advisories) are skipped. An item counts as a hit when one of the three top-level topics Newsflow
predicts is among its gold top levels. Predictions are made from the article text alone (the
agency's subjects are removed first).

    uv run python bench/topics_eval.py [--feeds /work/shared/data/feeds]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from enrich.enrichment import Enricher
from ingest.parsing import parse

DEFAULT_FEEDS = Path(__file__).resolve().parents[2] / "shared/data/feeds"
MIN_BODY_CHARS = 100
# IPTC Subject Codes top level -> IPTC Media Topics top level.
SUBJECT_TO_MEDTOP = {
    "01": "01",  # arts, culture and entertainment
    "02": "03",  # crime, law and justice
    "03": "04",  # disaster and accident
    "04": "05",  # economy, business and finance
    "05": "06",  # education
    "06": "16",  # environmental issue -> environment
    "07": "07",  # health
    "08": "08",  # human interest
    "09": "09",  # labour
    "10": "10",  # lifestyle and leisure
    "11": "11",  # politics
    "12": "12",  # religion and belief -> religion
    "13": "13",  # science and technology
    "14": "14",  # social issue -> society
    "15": "15",  # sport
    "16": "02",  # unrest, conflicts and war -> conflict, war and peace
    "17": "17",  # weather
}
PROVIDER_CODES = {"dpacat:sp": "15"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, default=DEFAULT_FEEDS)
    args = parser.parse_args()
    enricher = Enricher()
    parents = {c: t.parent for c, t in enricher.topics.topics.items()}
    items = []
    for path in sorted(p for p in args.feeds.rglob("*") if p.is_file()):
        try:
            articles = parse(path.read_bytes(), None, provider="bench")
        except Exception:  # the bench reads what the parser can read
            continue
        for article in articles:
            gold = _gold(article.subjects, parents)
            if gold and len(article.body_text) >= MIN_BODY_CHARS:
                items.append((path.name, article.model_copy(update={"subjects": []}), gold))
    hits = 0
    print(f"{'item':50}{'lang':7}{'gold':18}predicted top 3")
    for name, article, gold in items:
        result = enricher.enrich(article)
        top = [s.code.split(":")[1][:2] for s in result.subjects if s.level == 1][:3]
        hit = bool(set(top) & gold)
        hits += hit
        print(
            f"{name[:49]:50}{result.language or '-':7}{','.join(sorted(gold)):18}"
            f"{','.join(top) or '-':12}{'hit' if hit else 'miss'}"
        )
    print(f"\ntop-3 accuracy: {hits}/{len(items)} = {hits / max(len(items), 1):.2f}")


def _gold(subjects, parents: dict[str, str | None]) -> set[str]:
    gold = set()
    for subject in subjects:
        code = subject.code or ""
        if code.startswith("subj:") and code[5:7] in SUBJECT_TO_MEDTOP:
            gold.add(SUBJECT_TO_MEDTOP[code[5:7]])
        elif code.startswith("medtop:"):
            top = code if code.endswith("000000") else parents.get(code)
            if top:
                gold.add(top.split(":")[1][:2])
        elif code in PROVIDER_CODES:
            gold.add(PROVIDER_CODES[code])
    return gold


if __name__ == "__main__":
    main()
