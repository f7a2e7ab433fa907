"""Jinja filters: markdown (parsed by markdown-it-py, then sanitised by nh3), dates, avatars."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from quart import Quart, g, has_request_context, request, url_for

from app.site.next_url import here

# html=False: raw HTML in the source is shown as text, not passed through. markdown-it also refuses
# javascript:/vbscript:/data: link targets; nh3 below is the second, independent line of defence.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"])

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}


CACHE_SIZE = 512
_cache: OrderedDict[str, Markup] = OrderedDict()  # touched only on the event loop's thread


def render_markdown(source: str | None) -> Markup:
    """The template filter: safe HTML for ``source``, from what ``prerender`` made for this request
    (however many bodies the page has) or from the cache."""
    if not source:
        return Markup("")
    prepared: dict[str, Markup] | None = g.get("markdown_html") if has_request_context() else None
    if prepared is not None and source in prepared:
        return prepared[source]
    hit = _cache.get(source)
    if hit is None:  # not prerendered (a template nobody prepared): render here, and remember
        hit = _remember(source, _render(source))
    else:
        _cache.move_to_end(source)
    return hit


async def prerender(sources: Sequence[str | None]) -> None:
    """Render a page's markdown in a worker thread before the template runs.

    Rendering is CPU work (a hostile 100 KB body takes over a second), so it must not run on the
    event loop; repeated views of the same text come from the cache.
    """
    wanted = [s for s in dict.fromkeys(sources) if s]
    prepared = {s: _cache[s] for s in wanted if s in _cache}
    for source in prepared:
        _cache.move_to_end(source)
    missing = [s for s in wanted if s not in prepared]
    if missing:
        rendered = await asyncio.to_thread(lambda: [_render(s) for s in missing])
        for source, html in zip(missing, rendered, strict=True):
            prepared[source] = _remember(source, html)
    # Kept for this request too: a page with more bodies than the cache holds never renders on the loop.
    g.markdown_html = prepared


def _remember(source: str, html: Markup) -> Markup:
    _cache[source] = html
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return html


def _render(source: str) -> Markup:
    """Markdown to HTML that is safe to put in a page: no script, no event handler, no js: URL."""
    html = _markdown.render(source)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    return Markup(clean)


def format_date(value: datetime | None, style: str = "long") -> str:
    """"January 5, 2026" (long) or "Jan 5, 2026" (short); dates are shown in UTC."""
    if value is None:
        return ""
    month = f"{value:%B}" if style == "long" else f"{value:%b}"
    return f"{month} {value.day}, {value.year}"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """"just now", "5 minutes ago", "3 hours ago", "yesterday", "12 days ago", then the date."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    for limit, unit, size in ((3600, "minute", 60), (86400, "hour", 3600)):
        if seconds < limit:
            count = int(seconds // size)
            if count < 1:
                return "just now"
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    days = int(seconds // 86400)
    if days == 1:
        return "yesterday"
    return f"{days} days ago" if days < 30 else format_date(value)


def exact_time(value: datetime | None) -> str:
    """"January 5, 2026, 14:05 UTC": what a hover over a relative time shows."""
    return "" if value is None else f"{format_date(value)}, {value:%H:%M} UTC"


def avatar_url(image: str | None) -> str:
    """The user's picture when it is a web address or an inline image, else the bundled default
    (works offline)."""
    if image and image.lower().startswith(("https://", "http://", "data:image/")):
        return image
    return cached_url_for("static", filename="img/avatar.svg")


URL_CACHE_SIZE = 4096
URL_VALUE_MAX = 128  # characters: a longer value is not remembered
_urls: OrderedDict[tuple[Any, ...], str] = OrderedDict()  # touched only on the event loop's thread


def cached_url_for(endpoint: str, **values: Any) -> str:
    """``url_for`` for templates, remembered: a page links the same few routes dozens of times
    (every tag pill, author and article), and building a URL from the map costs more than a
    quarter of a page's CPU. A relative URL depends only on the arguments and the app's root path.
    Built each time instead: ``.relative`` endpoints (they depend on the blueprint), ``_external``,
    ``_anchor``..., values that cannot be a key, and long ones (a ``next`` a visitor typed must not
    fill the cache); the least recently used entry goes first."""
    if endpoint.startswith(".") or any(
            name.startswith("_") or (isinstance(value, str) and len(value) > URL_VALUE_MAX)
            for name, value in values.items()):
        return url_for(endpoint, **values)
    try:
        key = (request.root_path, endpoint, *sorted(values.items()))
        url = _urls.get(key)
    except TypeError:  # a value that cannot be hashed
        return url_for(endpoint, **values)
    if url is None:
        url = _urls[key] = url_for(endpoint, **values)
        if len(_urls) > URL_CACHE_SIZE:
            _urls.popitem(last=False)
    else:
        _urls.move_to_end(key)
    return url


def init_app(app: Quart) -> None:
    app.jinja_env.globals["url_for"] = cached_url_for
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["exact_time"] = exact_time
    app.jinja_env.filters["avatar"] = avatar_url
    app.jinja_env.globals["here"] = here  # the current path + query: a safe `next` for buttons
