"""How ``POST /v1/articles`` is described in ingest's OpenAPI document.

The handler reads the raw body (any supported format, detected from the content), so FastAPI
cannot infer it: the JSON form is the canonical article (or an array of them), taken from the
model itself, and every other format is a document sent as it is.
"""

from __future__ import annotations

from typing import Any

from shared.article import Article

# Set from the source key, never by the sender.
_SET_BY_INGEST = ("source",)


def articles_request_body() -> dict[str, Any]:
    """The ``requestBody`` object of ``POST /v1/articles``."""
    article = _article_schema()
    document = {"type": "string", "description": "a NewsML-G2, NITF, NewsML 1.2, RSS, Atom or "
                                                 "plain-text document, as it is"}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {
            "description": "one article (ninjs 3 field names), an array of them, ninjs 1.x/2.x "
                           "or a JSON Feed",
            "anyOf": [article, {"type": "array", "items": article, "minItems": 1}]}},
        "application/xml": {"schema": document},
        "text/plain": {"schema": document},
    }}}


def _article_schema() -> dict[str, Any]:
    schema = Article.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})
    for name in _SET_BY_INGEST:
        schema["properties"].pop(name, None)
        schema["required"] = [r for r in schema.get("required", []) if r != name]
    inlined: dict[str, Any] = _inline(schema, definitions)
    return inlined


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """The schema with each ``#/$defs/`` reference replaced by its definition (none recurse)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = definitions[ref.removeprefix("#/$defs/")]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return _inline({**target, **rest}, definitions)
        return {k: _inline(v, definitions) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, definitions) for v in node]
    return node
