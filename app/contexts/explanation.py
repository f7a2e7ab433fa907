"""docs/contexts.md rendered for the lab page (trusted file, still rendered without raw HTML)."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt

from app.infra.settings import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "contexts.md"
MISSING = "<p><em>docs/contexts.md is not present in this installation.</em></p>"


@lru_cache(maxsize=4)
def _render(mtime_ns: int) -> str:
    del mtime_ns  # the cache key: a changed file renders again
    markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    html: str = markdown.render(DOC.read_text(encoding="utf-8"))
    return html


def explanation_html() -> str:
    """Blocking (a stat and maybe a read): call it off the loop."""
    try:
        mtime_ns = DOC.stat().st_mtime_ns
    except FileNotFoundError:
        return MISSING
    return _render(mtime_ns)
