"""Split one long story's model pass across worker processes that would otherwise idle.

Why: at low load a story comes alone, and one worker spends ~75-90 ms on it (nearly all of it the
NER model) while the other core idles, so its latency is that of one core. The model's cost is
linear in the text, and it labels a word from a few words either side of it, so the parts of a
body can go through it on several cores at once and give what the whole would.

When: `EnrichPool` splits a story when its batch leaves workers idle (fewer stories in flight
than worker processes); each story of the batch then gets its share of the idle workers, one per
part, fewer when it is short (each part at least MIN_PART_CHARS). A batch with as many stories
as workers, as under load, goes as it always did: in chunks, one model pass per story.

How, in two rounds through the pool:

1. each of `parts` workers cleans the story (`Enricher.model_texts`, as the unsplit path does)
   and runs the model over its part of the body (part 0 also over the headline), read with
   CONTEXT_CHARS of the text either side; it returns the entities that start within its part,
   as character spans of the whole body (`model_part`). Parts are cut near equal lengths at a
   paragraph break, else after a sentence's end, else at a space: always at whitespace, so the
   tokens of the parts are those of the whole text;
2. one worker enriches the story as usual, with the merged spans in place of the model: the
   tokenizer alone (about 2% of the model's cost) rebuilds the body's doc, the spans are set on
   it, and everything after the model (entities, keywords; summary and topics do not read the
   doc) runs on it as on an unsplit story. The parts' model seconds count against the story's
   time budget.

What it costs: the story's cleaning and language check once more per part, the context, the
tokenizer again and a second round trip (~1 ms). In CPU per story (bench/enrich_split.py),
split in 2: a 600-word story waits 0.58-0.63 of its unsplit time on two idle cores (the longer
part, then the second round) and costs the machine 1-11% more; a 300-word one would wait ~0.7
but cost ~20-25% more, hence MIN_PART_CHARS. The gain needs the other core idle: where other
work keeps it busy, a split story waits about a tenth longer than an unsplit one. On every dev
story (CNN/DailyMail articles, CoNLL dev documents, 600-word stories) in 2 or 3 parts the
model's spans, and so entities, keywords, summary and topics, equal the unsplit pass's.

Failures: a part whose model pass fails, or a story that is not English, makes the second round
an unsplit enrichment, so a failing story fails alone as it always did; a worker that dies
breaks the pool as with any task, and the story's outcome is that error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.article import Article

from enrich.enrichment import MAX_NER_CHARS, Enricher, EntitySpan, ModelPass

if TYPE_CHECKING:
    from spacy.tokens import Doc

# A part shorter than this is not worth a worker of its own (see bench/enrich_split.py): the
# story's cleaning again, a round trip and the tokenizer again cost a fifth to a quarter more
# CPU on a 300-word story, for ~10 ms less wait. 600-word stories (~3,500 characters) split.
MIN_PART_CHARS = 1_500
# A paragraph break this far (as a share of a part's length) from an even cut is close enough;
# further, the cut goes after the sentence end nearest the even cut.
PARAGRAPH_SLACK = 0.2
# Each part is read with this much of the text before and after it, so that the model meets its
# first and last words in the same context as in the whole text; only the entities that start
# within the part itself are kept. Without it 1-18% of the dev stories had other model spans
# near a cut (a few a different entity); with 50 characters none did (bench/enrich_split.py).
CONTEXT_CHARS = 100
# A sentence ends after a word of two letters or more ("O. Jones" is a name, not two sentences).
_SENTENCE_END = re.compile(r"(?<=[a-z0-9]{2})[.!?…][\"'”’»)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")


def parts(article: Article, workers: int) -> int:
    """Into how many parts to split this story's model pass given `workers` idle ones: one
    each, but no part shorter than MIN_PART_CHARS."""
    size = min(MAX_NER_CHARS, sum(len(body.value) for body in article.bodies))
    return max(1, min(workers, size // MIN_PART_CHARS))


def cuts(text: str, parts: int) -> list[int]:
    """Where parts 1 .. parts-1 of `text` start, near even lengths: after a paragraph break
    within PARAGRAPH_SLACK of a part's length, else after a sentence end, else after a space.
    Each cut follows whitespace, so no token spans one."""
    out: list[int] = []
    for index in range(1, parts):
        target = len(text) * index // parts
        slack = int(len(text) / parts * PARAGRAPH_SLACK)
        cut = _nearest(_paragraph_starts(text, target, slack), target)
        if cut is None:
            window = _SENTENCE_END.finditer(text, max(0, target - slack), target + slack)
            cut = _nearest([m.end() for m in window], target)
        if cut is None:
            spaces = [text.rfind(" ", 0, target), text.find(" ", target)]
            cut = _nearest([at + 1 for at in spaces if at >= 0], target)
        # With no space at all the text is one token: the parts after the first are empty.
        out.append(max(len(text) if cut is None else cut, out[-1] if out else 0))
    return out


def model_part(enricher: Enricher, article: Article, part: int, parts: int) -> ModelPass | None:
    """Runs in a worker: the model over part `part` of `parts` of the story's body (part 0 with
    the headline); None when the story gets no entities (not English)."""
    texts = enricher.model_texts(article)
    if texts is None:
        return None
    headline, body = texts
    bounds = [0, *cuts(body, parts), len(body)]
    start, end = bounds[part], bounds[part + 1]
    # The context either side, from and to whitespace: the tokens stay those of the whole text.
    first = body.rfind(" ", 0, max(0, start - CONTEXT_CHARS)) + 1 if part > 0 else 0
    last = body.find(" ", end + CONTEXT_CHARS) if part < parts - 1 else -1
    read = body[first : last if last >= 0 else len(body)]
    started = time.perf_counter()
    if part == 0:
        head_doc, body_doc = enricher.nlp.pipe([headline, read])
        head_spans = _spans(head_doc, 0, 0, len(headline))
    else:
        body_doc, head_spans = enricher.nlp(read), ()
    return ModelPass(head_spans, _spans(body_doc, first, start, end),
                     time.perf_counter() - started)


def merge(found: Sequence[ModelPass | None]) -> ModelPass | None:
    """The whole story's model output from its parts' (in order); None if a part has none.
    An entity that a part kept past its end wins over the next part's that overlap it."""
    if any(part is None for part in found):
        return None
    done = [part for part in found if part is not None]
    body: list[EntitySpan] = []
    for span in (span for part in done for span in part.body):
        if not body or span[0] >= body[-1][1]:
            body.append(span)
    return ModelPass(
        headline=tuple(span for part in done for span in part.headline),
        body=tuple(body),
        seconds=sum(part.seconds for part in done),
    )


def _spans(doc: Doc, offset: int, start: int, end: int) -> tuple[EntitySpan, ...]:
    """The entities of `doc` (read from `offset` on) that start within [start, end)."""
    return tuple((ent.start_char + offset, ent.end_char + offset, ent.label_) for ent in doc.ents
                 if start <= ent.start_char + offset < end)


def _paragraph_starts(text: str, target: int, slack: int) -> list[int]:
    before = text.rfind("\n\n", max(0, target - slack), target)
    after = text.find("\n\n", target, target + slack)
    return [_skip_space(text, at) for at in (before, after) if at >= 0]


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _nearest(candidates: list[int], target: int) -> int | None:
    return min(candidates, key=lambda at: abs(at - target), default=None)
