"""A small HTML page per story at ``GET /stories/{uri}``: what a feed reader's entry links to.

Headline, byline, dateline, the sanitized HTML body (or the text in paragraphs), and the story's
topics and entities as links to the feeds filtered on them. Self-contained: one inline style
allowed by its hash, nothing loaded from elsewhere (the Content-Security-Policy says so, so even
an image left in a body stays unloaded). Links start at the configured public URL, never at the
request's Host. A killed story answers 410, an unknown one 404: as HTML to a browser, as the
usual JSON error to anything else.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from shared.filters import topics_of

from publish.store import ArticleStore

STYLE = (
    "body{font:1.1rem/1.6 Georgia,serif;max-width:42rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a;background:#fff}"
    "h1{font-size:2rem;line-height:1.25;margin:0 0 .5rem}"
    ".meta{font:.95rem/1.4 system-ui,sans-serif;color:#4a4a4a}"
    "nav{font:.95rem/1.4 system-ui,sans-serif;border-top:1px solid #ccc;margin-top:2rem}"
    "nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1rem}"
    "a{color:#0645ad}a:focus{outline:3px solid #1a1a1a;outline-offset:2px}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "public, max-age=30",
}
_ENTITY_KINDS = (("people", "People"), ("organisations", "Organisations"), ("places", "Places"))


def story_path(uri: str) -> str:
    """The page's path for a story uri (every reserved character but ``:`` and ``,`` escaped)."""
    return "/stories/" + quote(uri, safe=":,")


def article_path(uri: str) -> str:
    """The story's path in the read API (JSON)."""
    return "/v1/articles/" + quote(uri, safe=":,")


def pages_router(store: ArticleStore, base_url: str) -> APIRouter:
    router = APIRouter(tags=["pages"])

    @router.get("/stories/{uri:path}", response_class=HTMLResponse, responses={
        404: {"description": "no story with this uri"},
        410: {"description": "the story was withdrawn (killed)"}})
    async def story_page(request: Request, uri: str) -> Response:
        """The story as a web page (the `alternate` link of feed entries)."""
        story = await store.get(uri)
        if story is None or story.killed:
            status, code = (404, "not_found") if story is None else (410, "killed")
            message = (f"no story with uri {uri!r}" if story is None
                       else "this story was withdrawn")
            if _wants_html(request.headers.get("accept", "")):
                return HTMLResponse(render_notice(message), status_code=status, headers=HEADERS)
            return JSONResponse({"error": {"code": code, "message": message, "field": "uri"}},
                                status_code=status)
        return HTMLResponse(render_story(story.article, base_url), headers=HEADERS)

    return router


def render_story(a: dict[str, Any], base_url: str) -> str:
    """The whole page; every value from the story is escaped, except the sanitized HTML body."""
    title = headline(a) or str(a.get("uri", ""))
    parts = [_head(title, a, base_url), "<main><article><header>",
             f"<h1>{escape(title)}</h1>"]
    byline = str(a.get("byline") or "").strip()
    if byline:
        by = "" if byline[:3].casefold() == "by " else "By "  # agencies often write it in
        parts.append(f'<p class="meta byline">{by}{escape(byline)}</p>')
    parts.append(_dateline(a))
    parts.append("</header>")
    parts.append(_body(a))
    parts.append("</article>")
    parts.append(_links(a, base_url))
    parts.append("</main></body></html>")
    return "".join(parts)


def render_notice(message: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(message)}</title><style>{STYLE}</style></head>"
            f"<body><main><h1>{escape(message)}</h1></main></body></html>")


def _head(title: str, a: dict[str, Any], base_url: str) -> str:
    lang = escape(str(a.get("language") or "und"))
    uri = str(a.get("uri", ""))
    json_url = base_url + article_path(uri)
    return ('<!DOCTYPE html>'
            f'<html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title>"
            f'<link rel="canonical" href="{escape(base_url + story_path(uri))}">'
            f'<link rel="alternate" type="application/json" href="{escape(json_url)}">'
            f'<link rel="alternate" type="application/atom+xml" title="Newsflow: latest stories"'
            f' href="{escape(base_url)}/feeds/all.atom">'
            f"<style>{STYLE}</style></head><body>")


def _dateline(a: dict[str, Any]) -> str:
    """Place, time and provider, as a dateline reads: ``BERLIN, 2 December 2026 (dpa)``."""
    pieces = []
    place = _dateline_place(a)
    if place:
        pieces.append(f'<span class="place">{escape(place.upper())}</span>')
    when = a.get("versionCreated") or a.get("firstCreated")
    parsed = _datetime(when)
    if parsed is not None:
        label = f"{parsed.day} {parsed:%B %Y, %H:%M} UTC"
        pieces.append(f'<time datetime="{escape(str(when))}">{escape(label)}</time>')
    provider = (a.get("source") or {}).get("provider")
    text = ", ".join(pieces)
    if provider:
        text += f" ({escape(str(provider))})"
    return f'<p class="meta dateline">{text}</p>' if text else ""


def _dateline_place(a: dict[str, Any]) -> str | None:
    """The place mentioned first (a dateline opens the story), else the most salient one."""
    places = [p for p in a.get("places") or [] if p.get("name")]
    if not places:
        return None
    positioned = [p for p in places if isinstance(p.get("firstPosition"), int)]
    if positioned:
        return str(min(positioned, key=lambda p: p["firstPosition"])["name"])
    return str(max(places, key=lambda p: p.get("salience") or 0)["name"])


def headline(a: dict[str, Any]) -> str:
    """The main headline (else the first one), or empty."""
    headlines = a.get("headlines") or []
    for h in headlines:
        if h.get("role", "main") == "main":
            return str(h.get("value", ""))
    return str(headlines[0].get("value", "")) if headlines else ""


def bodies(a: dict[str, Any]) -> tuple[str | None, str]:
    """The first HTML body (or None) and the first plain-text body (or empty)."""
    html = text = None
    for body in a.get("bodies") or []:
        kind = body.get("contentType", "text/plain")
        if kind == "text/html" and html is None:
            html = body.get("value")
        elif kind == "text/plain" and text is None:
            text = body.get("value")
    return html, text or ""


def _body(a: dict[str, Any]) -> str:
    html, text = bodies(a)
    if html:
        return f'<div class="body">{html}</div>'  # sanitized at ingest; the CSP is the backstop
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return '<div class="body">' + "".join(
        f"<p>{escape(p)}</p>" for p in paragraphs) + "</div>"


def _links(a: dict[str, Any], base_url: str) -> str:
    sections = []
    names = {s.get("code"): s.get("name") for s in a.get("subjects") or [] if s.get("code")}
    topics = sorted(topics_of(a))
    if topics:
        items = "".join(
            f'<li><a href="{escape(base_url)}/feeds/{quote(code, safe=":")}.atom">'
            f"{escape(str(names.get(code) or code))}</a></li>" for code in topics)
        sections.append(f"<h2>Topics</h2><ul>{items}</ul>")
    for field, title in _ENTITY_KINDS:
        entities = sorted({str(e["name"]) for e in a.get(field) or [] if e.get("name")})
        if entities:
            items = "".join(
                f'<li><a href="{escape(base_url)}/feeds/all.atom?entity='
                f'{escape(quote(name, safe=""))}">{escape(name)}</a></li>' for name in entities)
            sections.append(f"<h2>{title}</h2><ul>{items}</ul>")
    if not sections:
        return ""
    return '<nav aria-label="Feeds of this story\'s topics and names">' + "".join(
        sections) + "</nav>"


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _wants_html(accept: str) -> bool:
    return "text/html" in accept.lower()
