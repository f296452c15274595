"""Tighten a summary sentence: drop the asides, attributions and scene-setting a teaser can lose.

Readers' highlights are short and compressive ("Police: ...", no "on Tuesday", no ages in commas),
so each chosen sentence loses, in this order: parenthetical asides ("(the Russian space agency)"),
dash asides ("-- perhaps from pesticide exposure --"), ages in commas ("Leon Yeaman, 55, was"),
non-restrictive relative clauses (", who stars in Veep,"), a trailing attribution (", police said
Tuesday.", ", according to the report."), a trailing relative clause (", which violates TSA
policy.") or dash tail (" - exactly eight weeks after ..."), the speaker after a quotation
('"...," she said.' keeps the quotation) and an opening adverbial or conjunction ("On Tuesday,",
"Recently,", "But"). The rules read only punctuation and a few function words, so they hold for
any English story; a sentence they would leave with fewer than MIN_WORDS words is kept whole.
Each rule was kept only if it raised ROUGE on both halves of the dev stories
(bench/summary_eval.py).
"""

from __future__ import annotations

import re

MIN_WORDS = 5
# A clause the rules may drop is at most this long, so a mis-read comma never takes half a story.
_CLAUSE = 150
_DASH = r"(?:--|—|–)"
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tonight)"
_SPEECH = r"(?:said|says|told\s+[^,\"“”]{1,40}|reported|announced|confirmed)"
_END = r"(?=[.!?]$)"

# After an aside in commas the sentence goes on with its verb ("The actress, who stars in Veep,
# praised ..."); a determiner, a conjunction or a name there means the comma was a list's.
_RESUMES = (
    r"(?=\s+(?!(?:the|a|an|and|or|but|his|her|their|its|this|that|these|those|some|many)\b)"
    r"[a-z])"
)
_PARENTHESIS = re.compile(r"\s*\([^()]{1,80}\)(?=[\s,.;:!?])")
_DASH_ASIDE = re.compile(rf"\s+{_DASH}\s+[^-—–]{{1,120}}?\s+{_DASH}(?=\s)")
_AGE = re.compile(rf",\s+\d{{1,3}},{_RESUMES}")
_RELATIVE_ASIDE = re.compile(rf",\s+(?:who|which|whose)\s+[^,;:\"“”]{{1,100}},{_RESUMES}")
# ", police said Tuesday." / ", a NASA scientist says." / ", according to a new study."
_ATTRIBUTION = re.compile(
    rf",\s+(?:according\s+to\s+[^,]{{1,60}}"
    rf"|[^,\"“”]{{1,60}}?\s+{_SPEECH}(?:\s+(?:on|in|at|during|late|early|last|this|{_DAY})\b"
    rf"[^,\"“”]{{0,40}})?){_END}"
)
# A tail holds no comma: one would mean the clause ends and the sentence goes on after it.
_RELATIVE_TAIL = re.compile(rf",\s+(?:which|who|where|whose)\s+[^,\"“”]{{1,{_CLAUSE}}}?{_END}")
_DASH_TAIL = re.compile(rf"\s+(?:-|{_DASH})\s+[^,\-—–\"“”]{{1,{_CLAUSE}}}?{_END}")
# A spaced dash before the tail's means the tail closes an aside and holds the sentence's verb
# ("the burden of a divorce – its costs, its debts – does not fade away.").
_SPACED_DASH = re.compile(rf"\s(?:-|{_DASH})\s")
# '"...," she said.' and "'...,' Julia explained." keep the quotation and its closing mark.
_SPEAKER = re.compile(
    r",([\"”’'])\s+[^\"“”]{1,60}?\s+(?:said|says|added|told\s+[^,\"“”]{1,40}|explained|wrote"
    r"|insisted|claimed)(?:\s+[^,\"“”]{0,40})?[.!?]$"
)
_OPENING = re.compile(
    r"^(?:(?:On|By|Last|This|Earlier|Later|Late|Early|In|Since|Until|Over|During|After|Before|At)"
    r"\s+(?:[\w'’-]+\s+){0,4}[\w'’-]+"
    r"|Recently|However|Meanwhile|Yesterday|Today|Now|Still|Also|But|And|So)\s*,\s+"
)
_OPENING_REST = 20  # characters that must follow an opening for it to go
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def compress(sentence: str) -> str:
    """`sentence` without the parts a summary can lose; whole if too little would be left."""
    tight = _PARENTHESIS.sub("", sentence)
    tight = _DASH_ASIDE.sub("", tight)
    tight = _AGE.sub("", tight)
    tight = _RELATIVE_ASIDE.sub("", tight)
    tight = _ATTRIBUTION.sub("", tight)
    tight = _RELATIVE_TAIL.sub("", tight)
    tail = _DASH_TAIL.search(tight)
    if tail and not _SPACED_DASH.search(tight, 0, tail.start()):
        tight = tight[: tail.start()] + tight[tail.end() :]
    speaker = _SPEAKER.search(tight)
    if speaker:
        tight = f"{tight[: speaker.start()]}.{speaker.group(1)}"
    opening = _OPENING.match(tight)
    if opening and len(tight) - opening.end() > _OPENING_REST:
        rest = tight[opening.end() :]
        tight = rest[0].upper() + rest[1:]
    tight = tight.strip()
    return tight if len(_WORD.findall(tight)) >= MIN_WORDS else sentence
