"""People, organisations and places of an article, from spaCy NER plus article-level evidence.

spaCy labels each mention on its own; an article says more. This module trims mentions (titles,
"the", possessives), skips text that is not story prose (datelines, bylines, section headings,
title-case headlines), merges the variants of one name ("Putin" into "Vladimir Putin",
"Zelensky"/"Zelenskyy", "NATO" with its long form), gives each cluster the type most of its
mentions (and the titles before them) vote for, then finds the mentions spaCy missed by looking
for the cluster's names elsewhere in the article. Counts, first position and salience follow.

Only English text goes through here: the spaCy model is English.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from shared.article import Entity, Mention

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

    from enrich.cleaning import CleanText

PERSON, ORGANISATION, PLACE, MISC = "person", "organisation", "place", "misc"
# spaCy (OntoNotes) labels to Newsflow kinds; NORP (nationalities, "Russian") is never a place.
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
_POSSESSIVE = frozenset({"'s", "’s", "'", "’"})
_DEMONYM_SUFFIXES = ("ian", "ean", "ese", "ish", "ic", "an", "i")
_MERGE_STOPWORDS = frozenset({"of", "the", "and", "for", "de", "la", "&"})
_FUZZY_MERGE_LIMIT = 400  # distinct names in one article; real stories have far fewer
_DISPLAY_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "of",
        "on",
        "or",
        "over",
        "the",
        "to",
        "vs",
        "with",
        "amid",
        "after",
    ]
)
# Salience: how often, how early, and whether the headline names it.
_W_FREQUENCY, _W_LEAD, _W_HEADLINE = 0.4, 0.35, 0.25


@dataclass(slots=True)
class _Mention:
    field: str
    start: int
    end: int
    text: str
    kind: str
    weak: bool
    titled: bool = False
    demonym: bool = False
    words: tuple[str, ...] = ()
    preposition: str = ""  # the word before it, when a preposition: "in Vegas", "on Twitter"


@dataclass(slots=True)
class _Cluster:
    mentions: list[_Mention] = field(default_factory=list)
    kind: str = MISC
    name: str = ""
    tokens: tuple[str, ...] = ()

    @property
    def strong(self) -> list[_Mention]:
        return [m for m in self.mentions if not m.weak]


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


def find_entities(headline: Doc, body: Doc, clean: CleanText) -> list[FoundEntity]:
    """Entities of one article, most salient first.

    `headline` and `body` are spaCy docs of the cleaned headline and `clean.text`; mention
    offsets refer to those texts.
    """
    headline_text = headline.text  # Doc.text rebuilds the string on every access
    display_headline = is_display_case(headline_text)
    excluded = _excluded_spans(clean)
    weak = [(b.start, b.end) for b in clean.blocks if b.kind == "heading"]
    mentions = [
        *_mentions(
            headline, headline_text, "headline", [], [(0, len(headline_text))] * display_headline
        ),
        *_mentions(body, clean.text, "body", excluded, weak),
    ]
    clusters = _merge_variants(_group(mentions))
    clusters = [c for c in clusters if c.strong]
    for cluster in clusters:
        _vote(cluster)
    _propagate(clusters, headline, headline_text, "headline", [], display=display_headline)
    _propagate(clusters, body, clean.text, "body", excluded, display=False)
    return _finish(clusters, len(clean.text))


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
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    words = letters.split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def is_display_case(text: str) -> bool:
    """Title Case Or ALL CAPS text, where capitals say nothing about names."""
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    if len(words) < 3:
        return False
    if sum(w.isupper() for w in words) >= 0.7 * len(words):
        return True
    content = [w for w in words[1:] if w.lower() not in _DISPLAY_SMALL_WORDS]
    if not content:
        return False
    return sum(w[0].isupper() for w in content) >= 0.8 * len(content)


def _excluded_spans(clean: CleanText) -> list[tuple[int, int]]:
    spans = [(0, clean.dateline_end)] if clean.dateline_end else []
    spans.extend((b.start, b.end) for b in clean.blocks if b.kind == "byline")
    return spans


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def _mentions(
    doc: Doc,
    text: str,
    field_name: str,
    excluded: list[tuple[int, int]],
    weak: list[tuple[int, int]],
) -> list[_Mention]:
    out = []
    for ent in doc.ents:
        kind = LABELS.get(ent.label_)
        if kind is None:
            continue
        mention = _trim(ent, text, kind, field_name)
        if mention is None or _inside(mention.start, mention.end, excluded):
            continue
        mention.weak = _inside(mention.start, mention.end, weak)
        out.append(mention)
    return out


def _trim(ent: Span, doc_text: str, kind: str, field_name: str) -> _Mention | None:
    """Cut determiners, titles, possessives and stray punctuation off a span."""
    doc = ent.doc
    first, last = ent.start, ent.end  # token indices, end exclusive
    titled = first > 0 and doc[first - 1].lower_ in TITLES
    while first < last and (
        doc[first].lower_ in _DETERMINERS
        or doc[first].is_punct
        or (doc[first].lower_ in TITLES and last - first > 1 and doc[first + 1].is_title)
    ):
        titled = titled or doc[first].lower_ in TITLES
        first += 1
    while last > first and (doc[last - 1].text in _POSSESSIVE or doc[last - 1].is_punct):
        last -= 1
    if first >= last:
        return None
    start = doc[first].idx
    end = doc[last - 1].idx + len(doc[last - 1].text)
    text = doc_text[start:end]
    newline = text.find("\n")
    if newline >= 0:
        text = text[:newline].rstrip()
        end = start + len(text)
    words = tuple(t.text for t in doc[first:last] if t.idx < end)
    close = text.find(")")
    if close >= 0 and "(" not in text[:close]:  # "(CNN)Sofia Vergara": a credit glued on
        glued = len(text) - len(text[close + 1 :].lstrip())
        start, text = start + glued, text[glued:]
        words = tuple(text.split())
        if text.lower() in _DETERMINERS:
            return None
    # A name starts with a capital, somewhere in its first word: "Kyiv", "eBay", "al-Qaeda".
    if len(text) < 2 or not any(ch.isupper() for ch in text.split()[0]):
        return None
    if any(ch.isdigit() for ch in text) and (kind == PERSON or (kind == PLACE and " " not in text)):
        return None  # a code, not a name: "FY19", "Q3", "B2"
    after = doc[last : last + 3]
    after_preposition = first > 0 and doc[first - 1].lower_ in _PREPOSITIONS
    if (len(after) >= 2 and after[0].text == "," and after[1].lower_ in TITLES
            and not after_preposition):
        titled = True  # "Rustem Umerov, Secretary of ...", not "In Kyiv, President ..."
    if (kind != PLACE and ent.label_ != "NORP" and last < len(doc)
            and doc[last].lower_ in _PLACE_NOUNS):
        kind = PLACE  # "the Sumy region", not "French state railway"
    demonym = (
        kind == PLACE
        and last - first == 1
        and text.lower().endswith(_DEMONYM_SUFFIXES)
        and last < len(doc)
        and doc[last].is_alpha
        and doc[last].is_lower
    )
    preposition = doc[first - 1].lower_ if after_preposition else ""
    return _Mention(field_name, start, end, text, kind, False, titled, demonym, words,
                    preposition)


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

    Each name is compared with every longer one, fuzzily, up to `_FUZZY_MERGE_LIMIT` names.
    A list of thousands of names (victims, results) would make that quadratic, so above the
    limit a name is only compared with the names that hold its rarest word (transliteration
    variants included) or that it abbreviates."""
    clusters.sort(key=lambda c: (-len(c.tokens), -len(c.mentions)))
    votes = {id(c): Counter(m.kind for m in c.mentions) for c in clusters}
    kinds = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    fuzzy = len(clusters) <= _FUZZY_MERGE_LIMIT
    roots: list[_Cluster] = []
    index: dict[str, list[_Cluster]] = defaultdict(list)  # a word, squeezed, or initials
    for cluster in clusters:
        kind = kinds[id(cluster)]
        if fuzzy:
            pool = roots
        else:
            holders = min((index.get(_squeeze(word), []) for word in cluster.tokens), key=len)
            pool = list({id(r): r for r in (*holders, *index.get("^" + cluster.tokens[0], []))}
                        .values())
        candidates = [
            root
            for root in pool
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
        if not fuzzy:
            for key in {_squeeze(word) for word in cluster.tokens} | {"^" + _initials(
                    cluster.tokens)}:
                index[key].append(cluster)
    return roots


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
    if a == b:
        return True
    if len(a) < 5 or len(b) < 5 or a[0] != b[0] or abs(len(a) - len(b)) > 2:
        return False
    return _squeeze(a) == _squeeze(b) or SequenceMatcher(None, a, b).ratio() >= 0.85


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


def _vote(cluster: _Cluster) -> None:
    """The cluster's kind by majority of its mentions; a title before a name votes person."""
    votes: dict[str, float] = {}
    for m in cluster.mentions:
        weight = 0.5 if m.weak else 1.0
        kind = MISC if m.demonym else m.kind
        votes[kind] = votes.get(kind, 0.0) + weight
        if m.titled:
            votes[PERSON] = votes.get(PERSON, 0.0) + 2 * weight
    longest = max(cluster.strong or cluster.mentions, key=lambda m: (len(m.text), -m.start))
    best = max(votes.values())
    tied = [k for k, v in votes.items() if v == best]
    cluster.kind = longest.kind if longest.kind in tied else tied[0]
    if cluster.kind == PERSON and all(
        m.preposition and len(m.words) == 1 and not m.titled for m in cluster.mentions
    ):
        # A lone word only ever met as "in Vegas" or "on Twitter" is a place or a service,
        # not someone: people are not where or what things happen on.
        places = any(m.preposition in _LOCATIVE for m in cluster.mentions)
        cluster.kind = PLACE if places else ORGANISATION
    forms = Counter(m.text for m in cluster.strong or cluster.mentions)
    cluster.name = max(forms, key=lambda t: (len(t.split()), forms[t], len(t)))


def _propagate(
    clusters: list[_Cluster],
    doc: Doc,
    doc_text: str,
    field_name: str,
    excluded: list[tuple[int, int]],
    *,
    display: bool,
) -> None:
    """Add the mentions spaCy missed: other occurrences of a cluster's own surface forms.

    In display-case text (a title-case headline) every word is capitalised, so a capitalised
    neighbour says nothing about a longer name.
    """
    lookup: dict[tuple[str, ...], _Cluster] = {}
    for cluster in clusters:
        for m in cluster.strong:
            words = m.words
            if len(m.text) >= 3 and words:
                lookup.setdefault(words, cluster)
                lookup.setdefault(tuple(w.upper() for w in words), cluster)
    if not lookup:
        return
    longest = max(len(k) for k in lookup)
    covered = [False] * len(doc)
    for cluster in clusters:
        for m in cluster.mentions:
            if m.field == field_name:
                span = doc.char_span(m.start, m.end, alignment_mode="expand")
                if span is not None:
                    for i in range(span.start, span.end):
                        covered[i] = True
    texts = [t.text for t in doc]
    i = 0
    while i < len(texts):
        if covered[i] or not texts[i][:1].isupper():
            i += 1
            continue
        for n in range(min(longest, len(texts) - i), 0, -1):
            found = lookup.get(tuple(texts[i : i + n]))
            if found is None or any(covered[i : i + n]):
                continue
            after = texts[i + n] if i + n < len(texts) else ""
            if not display and after[:1].isupper() and after.isalpha() and not after.isupper():
                continue  # part of a longer name: "Kent" in "Kent Smith"
            start = doc[i].idx
            end = doc[i + n - 1].idx + len(texts[i + n - 1])
            if _inside(start, end, excluded):
                continue
            text = doc_text[start:end]
            found.mentions.append(_Mention(field_name, start, end, text, found.kind, True))
            i += n - 1
            break
        i += 1


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
