"""People, organisations and places of an article: Newsflow's entity model plus a few rules.

The model (see `spacy_model`) labels each mention on its own. Around it, a few steps, each kept
because switching it off loses entity F1 on both halves of one era of the development data and
does not consistently gain on the other (`bench/ner_eval.py` prints the table); two are there
by design, which those data cannot confirm:

- `dateline`: the places of the dateline ("LONDON 1996-08-30", "ANKARA (Reuters) -") are places,
  whatever the model makes of a word in capitals, and the rest of it (date, agency) gives no
  entity (the model already finds most dateline places: the step is neutral on the data);
- `bylines`: "By Jane Doe", "(Reporting by ...)" and picture credits give no entities (the
  scored sets have no bylines);
- `trim`: "the", titles, possessives and stray punctuation are cut off a mention;
- `capitals`: a mention whose first word has no capital, or a code such as "FY19", is dropped;
- `place_nouns`: a name before "region", "province", ... is a place ("the Sumy region");
- `merge`: variants of one name make one entity ("Putin" with "Vladimir Putin",
  "Zelensky" with "Zelenskyy", "NATO" with its long form);
- `titles`: a title before or after a name ("President", ", spokesman for") makes it a person;
- `preposition`: a lone word the model calls a person but only ever meets after a preposition
  is a place when one is of place ("in Vegas"), a service when all are "on" or "via" ("on
  Twitter"); after others ("of God", "for Saddam") it stays as it was;
- `headings`: a name met only in section headings or a title-case headline, each of whose
  words is an English word or one the body writes in lower case, is title case, not a name
  ("Small Wins", "Hopes for Breakthrough");
- `lone_person`: a person named once by one word, with no first name or title anywhere in the
  story, is left out (mostly a place, a service or a capitalised word, on recent news);
- `common_word`: a one-word name that is an English word the body also writes in lower case
  ("the Republic" beside "a republic"), or that English knows only as an adjective (an
  "Indigenous" place or organisation), is a capitalised word, not a name, unless a title or the
  dateline backs it.

An entity takes the kind the model gave its longest mention. Every step is linear in the
mentions of an article (`merge` looks names up by their words, it does not compare all pairs);
no step scans the text again. Counts, first position and salience follow. Only English text
goes through here: the model is English.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.article import Entity, Mention

from enrich.cleaning import is_title_case
from enrich.word_classes import word_classes

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

    from enrich.cleaning import CleanText

PERSON, ORGANISATION, PLACE, MISC = "person", "organisation", "place", "misc"
# Model labels to Newsflow kinds: Newsflow's model gives PERSON, ORG, LOC and MISC; the other
# (OntoNotes) labels are there for any spaCy English model. NORP ("Russian") is never a place.
LABELS = {
    "PERSON": PERSON,
    "ORG": ORGANISATION,
    "GPE": PLACE,
    "LOC": PLACE,
    "FAC": PLACE,
    "NORP": MISC,
    "EVENT": MISC,
    "PRODUCT": MISC,
    "LAW": MISC,
    "WORK_OF_ART": MISC,
    "LANGUAGE": MISC,
    "MISC": MISC,  # Newsflow's own model, trained on CoNLL-2003 labels
}
ENTITY_NEEDED_LABELS = tuple(LABELS)
# Words before a name that make it a person ("President Putin", "spokesperson Dmitry Peskov").
TITLES = frozenset(
    [
        "president",
        "mr",
        "mr.",
        "mrs",
        "mrs.",
        "ms",
        "ms.",
        "dr",
        "dr.",
        "prof",
        "prof.",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "king",
        "queen",
        "prince",
        "princess",
        "pope",
        "sen.",
        "senator",
        "rep.",
        "representative",
        "congressman",
        "congresswoman",
        "gov.",
        "governor",
        "mayor",
        "minister",
        "chancellor",
        "premier",
        "spokesperson",
        "spokesman",
        "spokeswoman",
        "adviser",
        "advisor",
        "secretary",
        "gen.",
        "general",
        "lt.",
        "col.",
        "colonel",
        "capt.",
        "captain",
        "sgt.",
        "sergeant",
        "judge",
        "coach",
        "manager",
        "striker",
        "midfielder",
        "defender",
        "goalkeeper",
        "batsman",
        "bowler",
        "chairman",
        "chairwoman",
        "chairperson",
        "ceo",
        "ambassador",
        "envoy",
        "actor",
        "actress",
        "singer",
        "rapper",
        "archbishop",
        "bishop",
        "rabbi",
        "imam",
        "cardinal",
        "commander",
        "officer",
        "inspector",
        "detective",
        "lawyer",
        "attorney",
        "prosecutor",
        "leader",
        "deputy",
        "vice-president",
        "journalist",
        "correspondent",
        "analyst",
        "economist",
    ]
)
_PLACE_NOUNS = frozenset(
    [
        "region",
        "province",
        "oblast",
        "district",
        "county",
        "city",
        "town",
        "village",
        "state",
        "island",
        "islands",
        "valley",
        "river",
        "mountains",
        "peninsula",
        "prefecture",
        "municipality",
        "governorate",
    ]
)
_DETERMINERS = frozenset({"the", "a", "an"})
_PREPOSITIONS = frozenset(
    ["in", "at", "on", "from", "to", "for", "of", "into", "onto", "near", "across", "inside",
     "outside", "throughout", "around", "after", "before", "during", "since", "via", "with",
     "without", "towards", "toward"]
)
_LOCATIVE = frozenset(["in", "at", "from", "near", "inside", "outside", "throughout", "around",
                       "into", "across", "towards", "toward"])
_SERVICE = frozenset(["on", "via"])  # "on Twitter", "via WhatsApp"
_POSSESSIVE = frozenset({"'s", "’s", "'", "’"})
_NOT_ALNUM = re.compile(r"[\W_]+")
_MERGE_STOPWORDS = frozenset({"of", "the", "and", "for", "de", "la", "&"})
# The place names at the start of a dateline, before its date or agency: "SAN JOSE, Costa Rica".
_NAME_WORD = r"[A-Z][\w'’.\-]*"
_DATELINE_SPLIT = re.compile(rf"{_NAME_WORD}(?:\s+{_NAME_WORD})*")
_DATELINE_PLACES = re.compile(
    rf"{_DATELINE_SPLIT.pattern}(?:\s*[/,]\s*{_DATELINE_SPLIT.pattern})*"
)
_MONTH_WORD = re.compile(
    r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?$"
)
# The post-processing steps around the model (see the module docstring); all on by default.
STEPS = frozenset(
    ["dateline", "bylines", "trim", "capitals", "place_nouns", "merge", "titles",
     "preposition", "headings", "lone_person", "common_word"]
)
# Kept by design though the scored data cannot confirm them (see the module docstring).
DESIGN_STEPS = frozenset(["dateline", "bylines"])
# Salience: how often, how early, and whether the headline names it.
_W_FREQUENCY, _W_LEAD, _W_HEADLINE = 0.4, 0.35, 0.25
# Not kept (see bench/ner_eval.py): a kind voted by all mentions and titles (turned people into
# organisations), "Japan" before a lowercase word as a nationality, and finding missed mentions
# again (no effect); a one-word place met only after "on" or "via" as a service ("on Facebook";
# lost F1 on every half).


@dataclass(slots=True)
class _Mention:
    field: str
    start: int
    end: int
    text: str
    kind: str
    titled: bool = False
    words: int = 1
    preposition: str = ""  # the word before it, when a preposition: "in Vegas", "on Twitter"
    dateline: bool = False
    weak: bool = False  # met in a section heading or a title-case headline


@dataclass(slots=True)
class _Cluster:
    mentions: list[_Mention] = field(default_factory=list)
    kind: str = MISC
    name: str = ""
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FoundEntity:
    """An entity of the article, including the `misc` kind the article model has no list for."""

    name: str
    kind: str
    count: int
    salience: float
    first_position: int
    mentions: tuple[Mention, ...]

    def to_entity(self) -> Entity:
        return Entity(
            name=self.name,
            type=self.kind,
            count=self.count,
            salience=self.salience,
            first_position=self.first_position,
            mentions=list(self.mentions),
        )


def find_entities(
    headline: Doc, body: Doc, clean: CleanText, steps: frozenset[str] = STEPS
) -> list[FoundEntity]:
    """Entities of one article, most salient first.

    `headline` and `body` are spaCy docs of the cleaned headline and `clean.text`; mention
    offsets refer to those texts. `steps` chooses the post-processing steps (all by default).
    """
    places = dateline_places(clean) if "dateline" in steps else []
    # The rest of a dateline (its date, the agency) and bylines are not story prose.
    skipped = [(0, clean.dateline_end)] if places else []
    if "bylines" in steps:
        skipped.extend((b.start, b.end) for b in clean.blocks if b.kind == "byline")
    weak_headline = "headings" in steps and is_title_case(headline.text)
    headings = [(b.start, b.end) for b in clean.blocks if b.kind == "heading"]
    mentions = [
        *_mentions(headline, headline.text, "headline", [], steps, weak_headline),
        *_mentions(body, clean.text, "body", skipped, steps,
                   headings if "headings" in steps else []),
        *(_Mention("body", s, e, clean.text[s:e], PLACE, words=len(clean.text[s:e].split()),
                   dateline=True) for s, e in places),
    ]
    clusters = _group(mentions)
    if "merge" in steps:
        clusters = _merge_variants(clusters)
    # Words the body writes in lower case: a capitalised one of them is a word, not a name.
    lowercase = ({t.lower_ for t in body if t.is_lower}
                 if {"headings", "common_word"} & steps else set())
    if "headings" in steps:
        clusters = _drop_heading_words(clusters, lowercase)
    for cluster in clusters:
        _settle(cluster, steps)
    if "lone_person" in steps:
        clusters = [c for c in clusters if not _lone_person(c)]
    if "common_word" in steps:
        clusters = _drop_common_words(clusters, lowercase)
    return _finish(clusters, len(clean.text))


def located(clean: CleanText) -> str | None:
    """Where the story was filed: the first place of its dateline ("LONDON" gives "London")."""
    places = dateline_places(clean)
    if not places:
        return None
    start, end = places[0]
    return _display_name(clean.text[start:end])


def dateline_places(clean: CleanText) -> list[tuple[int, int]]:
    """Character spans of the places a dateline names: "LONDON" in "LONDON 1996-08-30",
    "SAN JOSE" and "Costa Rica" in "SAN JOSE, Costa Rica (Reuters) -"."""
    if not clean.dateline_end:
        return []
    match = _DATELINE_PLACES.match(clean.text, 0, clean.dateline_end)
    if match is None:
        return []
    return [
        (part.start(), part.end())
        for part in _DATELINE_SPLIT.finditer(match.group(0))
        if not _MONTH_WORD.match(part.group(0).split()[0])
    ]


def split_by_kind(found: list[FoundEntity]) -> tuple[list[Entity], list[Entity], list[Entity]]:
    """People, organisations and places for the article (misc entities are left out)."""
    by_kind: dict[str, list[Entity]] = {PERSON: [], ORGANISATION: [], PLACE: []}
    for item in found:
        if item.kind in by_kind:
            by_kind[item.kind].append(item.to_entity())
    return by_kind[PERSON], by_kind[ORGANISATION], by_kind[PLACE]


def merge_with_source(
    given: list[Entity], found: list[Entity], elsewhere: set[str]
) -> list[Entity]:
    """The agency's entities first (their names, codes and types kept, our counts added), then ours.

    `elsewhere` holds name keys the agency put in another list: the agency's typing wins, so ours
    of the same name is dropped.
    """
    by_key = {name_key(e.name): e for e in found}
    merged: list[Entity] = []
    for entity in given:
        ours = by_key.pop(name_key(entity.name), None)
        if ours is None:
            merged.append(entity)
            continue
        merged.append(
            entity.model_copy(
                update={
                    "type": entity.type or ours.type,
                    "count": ours.count,
                    "salience": ours.salience,
                    "first_position": ours.first_position,
                    "mentions": ours.mentions,
                }
            )
        )
    merged.extend(e for key, e in by_key.items() if key not in elsewhere)
    return merged


def name_key(name: str) -> str:
    """Normalised form of a name: case, accents, punctuation and a leading "the" ignored."""
    folded = name.casefold()
    if not folded.isascii():
        folded = "".join(
            ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch)
        )
    words = _NOT_ALNUM.sub(" ", folded).split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _display_name(text: str) -> str:
    """A dateline's capitals as a name: "NEW YORK" gives "New York"."""
    return text.title() if text.isupper() and len(text) > 3 else text


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def _mentions(
    doc: Doc,
    text: str,
    field_name: str,
    skipped: list[tuple[int, int]],
    steps: frozenset[str],
    weak: bool | list[tuple[int, int]] = False,
) -> list[_Mention]:
    """The model's mentions in one field; `weak` says which of them are weak evidence: all
    (a title-case headline) or those within the given spans (section headings)."""
    out = []
    for ent in doc.ents:
        kind = LABELS.get(ent.label_)
        if kind is None:
            continue
        mention = _trim(ent, text, kind, field_name, steps)
        if mention is not None and not _overlaps(mention.start, mention.end, skipped):
            mention.weak = weak if isinstance(weak, bool) else _overlaps(
                mention.start, mention.end, weak)
            out.append(mention)
    return out


def _trim(
    ent: Span, doc_text: str, kind: str, field_name: str, steps: frozenset[str]
) -> _Mention | None:
    """Cut determiners, titles, possessives and stray punctuation off a span."""
    doc = ent.doc
    first, last = ent.start, ent.end  # token indices, end exclusive
    before = doc[first - 1].lower_ if first > 0 else ""
    titled = before in TITLES
    if "trim" in steps:
        while first < last and (
            (lower := doc[first].lower_) in _DETERMINERS
            or doc[first].is_punct
            or (lower in TITLES and last - first > 1 and doc[first + 1].is_title)
        ):
            titled = titled or lower in TITLES
            first += 1
        while last > first and (doc[last - 1].text in _POSSESSIVE or doc[last - 1].is_punct):
            last -= 1
        if first >= last:
            return None
        if first != ent.start:
            before = doc[first - 1].lower_
    start = doc[first].idx
    end = doc[last - 1].idx + len(doc[last - 1])
    text = doc_text[start:end]
    newline = text.find("\n")
    if newline >= 0:
        text = text[:newline].rstrip()
        end = start + len(text)
    close = text.find(")")
    if "trim" in steps and close >= 0 and "(" not in text[:close]:
        glued = len(text) - len(text[close + 1 :].lstrip())  # "(CNN)Sofia Vergara"
        start, text = start + glued, text[glued:]
        if text.lower() in _DETERMINERS:
            return None
    if not text.strip():
        return None
    # A name starts with a capital, somewhere in its first word: "Kyiv", "eBay", "al-Qaeda".
    if "capitals" in steps and (
        len(text) < 2
        or not any(ch.isupper() for ch in text.split()[0])
        or (any(ch.isdigit() for ch in text)
            and (kind == PERSON or (kind == PLACE and " " not in text)))
    ):
        return None  # not a name, or a code: "FY19", "Q3", "B2"
    after_preposition = before in _PREPOSITIONS
    if (not after_preposition and last + 1 < len(doc) and doc[last].text == ","
            and doc[last + 1].lower_ in TITLES):
        titled = True  # "Rustem Umerov, Secretary of ...", not "In Kyiv, President ..."
    if ("place_nouns" in steps and kind != PLACE and ent.label_ not in ("NORP", "MISC")
            and last < len(doc) and doc[last].lower_ in _PLACE_NOUNS):
        kind = PLACE  # "the Sumy region", not "French state railway"
    return _Mention(field_name, start, end, text, kind, titled,
                    len(text.split()), before if after_preposition else "")


def _group(mentions: list[_Mention]) -> list[_Cluster]:
    groups: dict[str, _Cluster] = defaultdict(_Cluster)
    for mention in mentions:
        key = name_key(mention.text)
        if key:
            groups[key].mentions.append(mention)
    for key, cluster in groups.items():
        cluster.tokens = tuple(key.split())
    return list(groups.values())


def _merge_variants(clusters: list[_Cluster]) -> list[_Cluster]:
    """Merge short and variant names into the longer name of the same thing.

    Longest names first; a name is compared only with the longer names that hold one of its
    words (spelling variants such as "Zelensky"/"Zelenskyy" squeezed to one form) or whose
    initials it is ("NATO"), so the cost stays linear in the names of the article."""
    clusters.sort(key=lambda c: (-len(c.tokens), -len(c.mentions)))
    votes = {id(c): Counter(m.kind for m in c.mentions) for c in clusters}
    kinds = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    roots: list[_Cluster] = []
    index: dict[str, list[_Cluster]] = defaultdict(list)  # a word, squeezed, or ^initials
    for cluster in clusters:
        kind = kinds[id(cluster)]
        pool = {id(r): r for word in cluster.tokens for r in index.get(_squeeze(word), ())}
        if len(cluster.tokens) == 1:
            pool.update((id(r), r) for r in index.get("^" + cluster.tokens[0], ()))
        candidates = [
            root
            for root in pool.values()
            if _compatible(kind, votes[id(cluster)], kinds[id(root)])
            and _same_name(cluster.tokens, root.tokens, kinds[id(root)])
        ]
        if candidates:
            best = max(candidates, key=lambda c: len(c.mentions))
            if sum(len(c.mentions) == len(best.mentions) for c in candidates) == 1:
                best.mentions.extend(cluster.mentions)
                continue
            if len(candidates) > 1:
                continue  # "Vladimir" alone, with two Vladimirs in the story: leave it out
        roots.append(cluster)
        for key in {_squeeze(word) for word in cluster.tokens} | {"^" + _initials(
                cluster.tokens)}:
            index[key].append(cluster)
    return roots


def _drop_heading_words(clusters: list[_Cluster], lowercase: set[str]) -> list[_Cluster]:
    """Leave out a name met only in section headings or a title-case headline when each of its
    words is an English word (WordNet's lists) or one the body writes in lower case: in
    "Small Wins, No Big Moves" or "... Hopes for Breakthrough" title case, not a name, gave
    the capitals. A name the body also mentions, or with a word of its own ("Türkiye"), stays."""
    weak = [c for c in clusters if all(m.weak for m in c.mentions)]
    if not weak:
        return clusters
    words = word_classes()
    common = {
        id(c) for c in weak
        if all(word in lowercase or words.known(word) for word in c.tokens)
    }
    return [c for c in clusters if id(c) not in common]


def _compatible(kind: str, short_votes: Counter[str], long_kind: str) -> bool:
    if kind == long_kind:
        return True
    if long_kind == PERSON and kind != MISC:
        # A lone surname is often labelled ORG or GPE; a place named twice as one stays a place.
        return not (kind == PLACE and short_votes[PLACE] >= 2 and not short_votes[PERSON])
    return False


def _same_name(short: tuple[str, ...], long: tuple[str, ...], long_kind: str = PERSON) -> bool:
    """Whether `short` names what `long` names: a spelling variant, an acronym, or (people only)
    a part of the full name. A place or an organisation within a longer name is another one:
    "Britain" is not "Open Britain", nor "Korea" "North Korea"."""
    if len(short) > len(long):
        return False
    if len(short) == 1 and len(long) > 1 and _is_acronym(short[0], long):
        return True
    if len(short) < len(long) and long_kind != PERSON:
        return False
    for offset in range(len(long) - len(short) + 1):
        window = long[offset : offset + len(short)]
        if all(_same_word(a, b) for a, b in zip(short, window, strict=True)):
            return not (len(short) == 1 and short[0] in _MERGE_STOPWORDS)
    return False


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(a) >= 5 and len(b) >= 5 and _squeeze(a) == _squeeze(b))


def _squeeze(word: str) -> str:
    """Transliteration variants: "zelenskyy"/"zelensky"/"zelenskiy" become one."""
    out: list[str] = []
    for ch in word.replace("iy", "y").replace("ij", "y"):
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def _is_acronym(word: str, long: tuple[str, ...]) -> bool:
    return 2 <= len(word) <= 6 and word == _initials(long)


def _initials(words: tuple[str, ...]) -> str:
    return "".join(w[0] for w in words if w not in _MERGE_STOPWORDS)


def _settle(cluster: _Cluster, steps: frozenset[str]) -> None:
    """The cluster's name and kind: those of its longest mention, unless a title says person."""
    mentions = cluster.mentions
    longest = max(mentions, key=lambda m: (len(m.text), -m.start))
    cluster.kind = longest.kind
    if "titles" in steps and any(m.titled for m in mentions) and cluster.kind != MISC:
        cluster.kind = PERSON
    if "preposition" in steps and cluster.kind == PERSON and all(
        m.preposition and m.words == 1 and not m.titled for m in mentions
    ):
        # A lone word only ever met as "in Vegas" or "on Twitter" is a place or a service,
        # not someone: people are not where or what things happen on. Other prepositions
        # ("of God", "for Saddam") say nothing of it.
        if any(m.preposition in _LOCATIVE for m in mentions):
            cluster.kind = PLACE
        elif all(m.preposition in _SERVICE for m in mentions):
            cluster.kind = ORGANISATION
    forms = Counter(_display_name(m.text) if m.dateline else m.text for m in mentions)
    # The longest form, then the most frequent, then one not in capitals.
    cluster.name = max(forms, key=lambda t: (len(t.split()), forms[t], not t.isupper(), len(t)))


def _lone_person(cluster: _Cluster) -> bool:
    """A person named once by one word, with no first name or title anywhere in the story: on
    news unlike its training copy the model says person of a place ("Kigali"), a service
    ("Twitter") or a capitalised first word ("Initially") more often than of someone."""
    return (cluster.kind == PERSON and len(cluster.tokens) == 1 and len(cluster.mentions) == 1
            and not cluster.mentions[0].titled)


def _drop_common_words(clusters: list[_Cluster], lowercase: set[str]) -> list[_Cluster]:
    """Leave out a one-word name that is an English word (WordNet's lists) which the body also
    writes in lower case, or one WordNet knows only as an adjective: "the Republic" beside "a
    republic", "Indigenous" before "liaison". A title or the dateline keeps it."""
    single = [c for c in clusters if len(c.tokens) == 1]
    if not single:
        return clusters
    words = word_classes()
    common = {
        id(c) for c in single
        if not any(m.titled or m.dateline for m in c.mentions)
        and ((c.tokens[0] in lowercase and words.known(c.tokens[0]))
             or (c.kind != PERSON and words.classes(c.tokens[0]) == {"adj"}))
    }
    return [c for c in clusters if id(c) not in common]


def _finish(clusters: list[_Cluster], body_length: int) -> list[FoundEntity]:
    counts = [len(c.mentions) for c in clusters]
    top = max(counts, default=1)
    found = []
    for cluster in clusters:
        mentions = sorted(cluster.mentions, key=lambda m: (m.field != "headline", m.start))
        body_starts = [m.start for m in mentions if m.field == "body"]
        first = body_starts[0] if body_starts else 0
        in_headline = any(m.field == "headline" for m in mentions)
        lead = 1.0 - (first / body_length if body_starts and body_length else 0.0)
        salience = _W_FREQUENCY * len(mentions) / top + _W_LEAD * lead + _W_HEADLINE * in_headline
        found.append(
            FoundEntity(
                name=cluster.name,
                kind=cluster.kind,
                count=len(mentions),
                salience=round(min(1.0, salience), 3),
                first_position=first,
                mentions=tuple(Mention(field=m.field, start=m.start, end=m.end) for m in mentions),
            )
        )
    found.sort(key=lambda e: (-e.salience, e.first_position))
    return found
