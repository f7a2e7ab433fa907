"""The admin area (/admin): users (paginated, searchable), grant/revoke admin, delete any article
or comment. Every route is admin_required: anonymous visitors sign in first, others get 403."""

from __future__ import annotations

from quart import flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from app.domain import admin, article_lists, articles, users
from app.domain.limits import ID_MAX
from app.infra.database import get_db
from app.site import admin_blueprint as blueprint
from app.site.confirm import unconfirmed
from app.site.next_url import form_next
from app.site.pager import requested_page
from app.site.signed_in import admin_required, signed_in_user

SEARCH_MAX = 100


@blueprint.get("/")
@admin_required
async def user_list() -> ResponseReturnValue:
    query = (request.args.get("q") or "").strip()[:SEARCH_MAX]
    pager = requested_page()
    result = await admin.list_users(get_db(), query=query or None, limit=pager.size,
                                    offset=pager.offset)
    return await render_template(
        "admin/users.html", result=result, query=query, section="users",
        pager=pager.counted(result.total),
        page_args={"q": query} if query else {},
    )


@blueprint.post("/users/<username>/admin")
@admin_required
async def set_admin(username: str) -> ResponseReturnValue:
    back = await form_next(url_for("admin.user_list"))
    grant = (await request.form).get("grant") == "1"
    if not grant and username.lower() == signed_in_user().username.lower():
        # Revoking one's own rights could leave the site with no administrator at all.
        await flash("You cannot revoke your own admin rights.", "error")
        return redirect(back)
    account = await users.set_admin(get_db(), username, grant)
    verb = "is now an administrator" if grant else "is no longer an administrator"
    await flash(f"{account.username} {verb}.", "success")
    return redirect(back)


@blueprint.get("/articles")
@admin_required
async def article_list() -> ResponseReturnValue:
    pager = requested_page()
    result = await article_lists.list_articles(get_db(), limit=pager.size, offset=pager.offset)
    return await render_template(
        "admin/articles.html", result=result, section="articles", page_args={},
        pager=pager.counted(result.total),
    )


@blueprint.post("/articles/<slug>/delete")
@admin_required
async def delete_article(slug: str) -> ResponseReturnValue:
    back = await form_next(url_for("admin.article_list"))
    asking = await unconfirmed(f"Delete the article {slug}?", back,
                               detail="Its comments and favorites go with it. This cannot be undone.")
    if asking is not None:
        return asking
    await articles.delete_article(get_db(), slug, signed_in_user().id, as_admin=True)
    await flash("The article is deleted.", "info")
    return redirect(back)


@blueprint.get("/comments")
@admin_required
async def comment_list() -> ResponseReturnValue:
    pager = requested_page()
    result = await admin.recent_comments(get_db(), limit=pager.size, offset=pager.offset)
    return await render_template(
        "admin/comments.html", result=result, section="comments", page_args={},
        pager=pager.counted(result.total),
    )


@blueprint.post(f"/comments/<int(max={ID_MAX}):comment_id>/delete")
@admin_required
async def delete_comment(comment_id: int) -> ResponseReturnValue:
    back = await form_next(url_for("admin.comment_list"))
    if (asking := await unconfirmed("Delete this comment?", back)) is not None:
        return asking
    await admin.delete_comment(get_db(), comment_id)
    await flash("The comment is deleted.", "info")
    return redirect(back)
