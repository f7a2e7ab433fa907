"""The confirmation step of the site's destructive buttons: ``unconfirmed`` lets a delete (or any
POST that cannot be undone) go ahead only once its form says ``confirm=yes``. The page's <dialog>
asks first when JavaScript runs (static/site.js); without it, the view answers with the
confirm.html page instead, whose own button confirms, so no click destroys anything by accident.
"""

from __future__ import annotations

from quart import render_template, request

from app.site.next_url import is_safe_next, safe_next


async def unconfirmed(question: str, cancel: str, *, verb: str = "Delete",
                      detail: str = "This cannot be undone.") -> str | None:
    """A destructive POST goes ahead only when its form says ``confirm=yes``: the page's <dialog>
    adds it (static/site.js); without JavaScript this returns the page that asks, whose own
    button sends it. None: confirmed, go ahead."""
    form = await request.form
    if form.get("confirm") == "yes":
        return None
    back = form.get("next")
    return await render_template("confirm.html", question=question, detail=detail, verb=verb,
                                 action=request.path, next=back if is_safe_next(back) else None,
                                 cancel=safe_next(back, cancel))
