"""ninjs 1.x, 2.x, 3.x and Superdesk-flavoured ninjs (also the native JSON article) to drafts."""

from __future__ import annotations

from typing import Any

from shared.article import Association, Entity, Headline, Subject
from shared.identifiers import UNSAFE_IN_ID

from ingest import markup, values
from ingest.draft import Draft, raw_hash
from ingest.errors import InvalidArticle
from ingest.formats.jsonshape import item_hash

_CAMEL_3X = frozenset({"versionCreated", "firstCreated", "pubStatus", "contentCreated"})
_SUPERDESK = frozenset({"guid", "_id", "body_html", "description_text", "priority", "_items"})
_ENTITY_KEYS = {
    "people": ("person", "people", "persons"),
    "organisations": ("organisation", "organisations", "organization", "organizations"),
    "places": ("place", "places"),
}


def dialect(item: dict[str, Any]) -> str:
    """ninjs generation, judged from the keys (2.x and 3.x differ only in key casing)."""
    keys = set(item)
    if _CAMEL_3X & keys or any(
        isinstance(b, dict) and "contentType" in b for b in _as_list(item.get("bodies"))
    ):
        return "3.x"
    if _SUPERDESK & keys:
        return "superdesk"
    if "headlines" in keys or "bodies" in keys or "subjects" in keys:
        return "2.x"
    return "1.x"


def drafts(items: list[Any], document: bytes, single: bool) -> list[Draft]:
    result = []
    for index, item in enumerate(items):
        digest = raw_hash(document) if single else item_hash(item)
        if not isinstance(item, dict):
            problem = InvalidArticle(f"item #{index + 1} is not a JSON object", field="item")
            result.append(Draft(label=f"#{index + 1}", raw_hash=digest, problem=problem))
            continue
        result.append(draft(item, label=f"#{index + 1}", digest=digest))
    return result


def draft(item: dict[str, Any], *, label: str, digest: str) -> Draft:
    """One ninjs (or native) object; keys are matched case- and underscore-insensitively."""
    keys = {_key(k): v for k, v in item.items()}
    uri = _uri(keys)
    text_body, html_body = _body(keys)
    return Draft(
        label=repr(uri) if uri else label,
        raw_hash=digest,
        uri=uri,
        version=keys.get("version"),
        version_created=keys.get("versioncreated"),
        first_created=keys.get("firstcreated") or keys.get("contentcreated"),
        pub_status=keys.get("pubstatus"),
        embargoed=_first(keys, "embargoeduntil", "embargoed", "embargo"),
        urgency=_first(keys, "urgency", "priority"),
        language=_first(keys, "language", "lang"),
        type=values.text(keys.get("type")),
        headlines=_headlines(keys),
        body_text=text_body,
        body_html=html_body,
        slugline=values.text(keys.get("slugline")),
        byline=_byline(keys),
        ed_notes=[n for n in _as_list(keys.get("ednote") or keys.get("ednotes")) if n],
        signals=_signals(keys.get("signals") or keys.get("signal")),
        subjects=[s for s in map(_subject, _as_list(_first(keys, "subjects", "subject"))) if s],
        people=_entities(keys, "people", "person"),
        organisations=_entities(keys, "organisations", "organisation"),
        places=_entities(keys, "places", "place") + _located(keys.get("located")),
        associations=_associations(keys.get("associations")),
    )


def _associations(raw: Any) -> list[Association]:
    """ninjs 3 `associations` (a list of objects with a `name`) or ninjs 1/2 (an object of
    named items); members without a usable uri are left out."""
    named = (
        [(None, v) for v in raw]
        if isinstance(raw, list)
        else list(raw.items())
        if isinstance(raw, dict)
        else []
    )
    result = []
    for name, member in named:
        if not isinstance(member, dict):
            continue
        keys = {_key(k): v for k, v in member.items()}
        uri = _uri(keys)
        if not uri or len(uri) > 2048 or UNSAFE_IN_ID.search(uri):
            continue
        headlines = [Headline(value=text[:1000]) for _, text in _headlines(keys)]
        result.append(
            Association(
                name=values.text(keys.get("name") or name),
                uri=uri,
                version=values.version(keys.get("version")),
                rel=values.text(keys.get("rel")),
                type=values.text(keys.get("type")),
                headlines=headlines,
            )
        )
    return result


def _key(name: object) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def _first(keys: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = keys.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def _uri(keys: dict[str, Any]) -> str | None:
    for name in ("uri", "guid"):
        if name in keys and keys[name] is not None and not isinstance(keys[name], dict | list):
            return str(keys[name])
    return None


def _headlines(keys: dict[str, Any]) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    if isinstance(keys.get("headline"), str | int | float):
        result.append(("main", str(keys["headline"])))
    for entry in _as_list(keys.get("headlines")):
        if isinstance(entry, dict):
            entry_keys = {_key(k): v for k, v in entry.items()}
            value = values.text(entry_keys.get("value"))
            if value:
                result.append((values.text(entry_keys.get("role")) or "main", value))
        elif isinstance(entry, str):
            result.append(("main", entry))
    return result


def _body(keys: dict[str, Any]) -> tuple[str | None, str | None]:
    text = _string(keys.get("bodytext"))
    html = _string(keys.get("bodyhtml")) or _string(keys.get("bodyxhtml"))
    for entry in _as_list(keys.get("bodies")):
        if not isinstance(entry, dict):
            continue
        entry_keys = {_key(k): v for k, v in entry.items()}
        value = _string(entry_keys.get("value"))
        kind = str(entry_keys.get("contenttype") or "text/plain").lower()
        if value and ("html" in kind or "xml" in kind):
            html = html or value
        elif value:
            text = text or value
    plain = _string(keys.get("body"))
    if plain and markup.looks_like_html(plain):
        html = html or plain
    elif plain:
        text = text or plain
    if not text and not html:
        # A picture or a teaser: its description (caption, summary) is the only text it has.
        return _descriptions(keys)
    return text, html


def _descriptions(keys: dict[str, Any]) -> tuple[str | None, str | None]:
    text = html = None
    for entry in _as_list(keys.get("descriptions")):
        if not isinstance(entry, dict):
            continue
        entry_keys = {_key(k): v for k, v in entry.items()}
        value = _string(entry_keys.get("value"))
        kind = str(entry_keys.get("contenttype") or "text/plain").lower()
        if value and ("html" in kind or "xml" in kind or markup.looks_like_html(value)):
            html = html or value
        elif value:
            text = text or value
    return text or _string(keys.get("descriptiontext")), html


def _byline(keys: dict[str, Any]) -> str | None:
    byline = keys.get("byline") or keys.get("by")
    if isinstance(byline, list):
        names = [values.text(b.get("name") if isinstance(b, dict) else b) for b in byline]
        return ", ".join(n for n in names if n) or None
    return values.text(byline)


def _signals(raw: Any) -> list[str]:
    result = []
    for entry in _as_list(raw):
        code = entry.get("code") or entry.get("qcode") if isinstance(entry, dict) else entry
        if isinstance(code, str) and code.strip():
            result.append(values.qcode_code(code.strip()))
    return result


def _subject(entry: Any) -> Subject | None:
    if isinstance(entry, str):
        return Subject(name=entry) if entry.strip() else None
    if not isinstance(entry, dict):
        return None
    fields = {k: values.text(entry.get(k)) for k in ("uri", "code", "name", "scheme", "rel")}
    # ninjs 3 identifies a concept by `uri` or by a free-text `literal`.
    fields["code"] = fields["code"] or values.text(entry.get("qcode") or entry.get("literal"))
    if not any(fields.values()):
        return None
    return Subject(**fields)


def _entities(keys: dict[str, Any], kind: str, singular: str) -> list[Entity]:
    result = []
    for name in _ENTITY_KEYS[kind]:
        for entry in _as_list(keys.get(name)):
            if isinstance(entry, str) and entry.strip():
                result.append(Entity(name=entry, type=singular))
            elif isinstance(entry, dict):
                label = values.text(entry.get("name") or entry.get("literal") or entry.get("code"))
                if label:
                    result.append(
                        Entity(
                            name=label,
                            type=values.text(entry.get("type")) or singular,
                            uri=values.text(entry.get("uri")),
                            code=values.text(entry.get("code") or entry.get("qcode")),
                            scheme=values.text(entry.get("scheme")),
                        )
                    )
    return result


def _located(value: Any) -> list[Entity]:
    """ninjs `located`: the name of the place the content originates from."""
    name = values.text(value) if isinstance(value, str) else None
    return [Entity(name=name, type="place")] if name else []


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
