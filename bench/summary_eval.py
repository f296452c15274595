"""ROUGE-1/2/L F1 of Newsflow's extractive summary against lead-3, on CNN/Daily Mail dev stories.

Both systems see the same cleaned text and the same sentence splitter; lead-3 is the first three
sentences. Scores use rouge-score with the Porter stemmer (its tokenizer lower-cases and drops
punctuation, so the tokenised references compare fairly); ROUGE-L is summary-level (Lsum) with
one sentence per line, as the references are written.

    uv run python bench/summary_eval.py [--data PATH/news_summaries_dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean

from rouge_score import rouge_scorer

from enrich.cleaning import clean_text
from enrich.summary import split_sentences, summarize

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared/data/summaries/news_summaries_dev.jsonl"
)
METRICS = ("rouge1", "rouge2", "rougeLsum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    items = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    systems: dict[str, list[dict[str, float]]] = {"lead-3": [], "newsflow": []}
    lengths: dict[str, list[int]] = {"lead-3": [], "newsflow": []}
    for item in items:
        clean = clean_text(item["article"])
        sentences = split_sentences(clean)
        outputs = {
            "lead-3": [clean.text[s.start : s.end] for s in sentences[:3]],
            "newsflow": summarize(clean),
        }
        for name, summary in outputs.items():
            scores = scorer.score(item["reference"], "\n".join(summary))
            systems[name].append({m: scores[m].fmeasure for m in METRICS})
            lengths[name].append(len(summary))
    print(f"{len(items)} stories; ROUGE F1 x100 (stemmed)")
    print(f"  {'system':10}{'R-1':>8}{'R-2':>8}{'R-L':>8}{'sents':>8}")
    for name, rows in systems.items():
        cells = "".join(f"{100 * mean(r[m] for r in rows):8.2f}" for m in METRICS)
        print(f"  {name:10}{cells}{mean(lengths[name]):8.2f}")


if __name__ == "__main__":
    main()
