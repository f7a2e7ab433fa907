"""Article pages, the editor, comments and favorites (routes of the ``site`` blueprint)."""

from __future__ import annotations

from quart import flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from app.domain import Conflict, Forbidden, Invalid, article_lists, articles, comments, favorites
from app.domain.limits import ID_MAX
from app.domain.records import ArticleRecord
from app.infra.database import get_db
from app.live import get_live
from app.site import blueprint
from app.site.confirm import unconfirmed
from app.site.domain_errors import add_errors
from app.site.forms import ArticleForm, CommentForm, tags_text
from app.site.next_url import form_next
from app.site.pager import requested_page
from app.site.rendering import prerender
from app.site.signed_in import current_user, login_required, signed_in_user

COMMENTS_PER_PAGE = 20

TAG_ERRORS = {"tagList": "tags"}  # the domain names the field as the JSON API does


@blueprint.get("/article/<slug>")
async def article(slug: str) -> ResponseReturnValue:
    user = current_user()
    viewer_id = user.id if user else None
    db = get_db()
    live_after = await get_live().hub.position()  # before the page's data: live.js goes on from it
    record = await article_lists.get_article(db, slug, viewer_id)  # a former slug: app.former_slugs
    form = await CommentForm.create_form() if user else None
    return await _article_page(record, viewer_id, form, live_after)


async def _article_page(record: ArticleRecord, viewer_id: int | None,
                        form: CommentForm | None, live_after: int | None = None) -> str:
    """The article and one page of its comments (?page=N, COMMENTS_PER_PAGE, oldest first: a conversation)."""
    pager = requested_page(COMMENTS_PER_PAGE).counted(record.comments_count)
    shown = await comments.comments_on(get_db(), record.id, viewer_id, limit=pager.size,
                                       offset=pager.offset)
    await prerender([record.body, *(c.body for c in shown)])
    return await render_template("site/article.html", article=record, comments=shown, form=form,
                                 pager=pager, live_after=live_after)


@blueprint.post("/article/<slug>/comments")
@login_required
async def add_comment(slug: str) -> ResponseReturnValue:
    form = await CommentForm.create_form()
    if await form.validate_on_submit():
        try:
            comment = await comments.add_comment(get_db(), signed_in_user().id, slug, form.body.data)
        except Invalid as error:
            add_errors(form, error)
        else:
            await flash("Your comment is posted.", "success")
            return redirect(url_for("site.article", slug=slug, _anchor=f"comment-{comment.id}"))
    # Invalid: the article page again, with the error beside the comment box (a GET reads it).
    record = await article_lists.get_article(get_db(), slug, signed_in_user().id)
    return await _article_page(record, signed_in_user().id, form)


@blueprint.post(f"/article/<slug>/comments/<int(max={ID_MAX}):comment_id>/delete")
@login_required
async def delete_comment(slug: str, comment_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    back = await form_next(url_for("site.article", slug=slug))  # the page of comments it was on
    if (asking := await unconfirmed("Delete this comment?", back)) is not None:
        return asking
    await comments.delete_comment(get_db(), slug, comment_id, user.id, as_admin=user.is_admin)
    await flash("The comment is deleted.", "info")
    return redirect(back + "#comments")


@blueprint.post("/article/<slug>/favorite")
@login_required
async def favorite(slug: str) -> ResponseReturnValue:
    back = await form_next(url_for("site.article", slug=slug))
    record = await favorites.favorite(get_db(), signed_in_user().id, slug)
    await flash(f"“{record.title}” is in your favorites.", "success")
    return redirect(back)


@blueprint.post("/article/<slug>/unfavorite")
@login_required
async def unfavorite(slug: str) -> ResponseReturnValue:
    back = await form_next(url_for("site.article", slug=slug))
    record = await favorites.unfavorite(get_db(), signed_in_user().id, slug)
    await flash(f"“{record.title}” is no longer in your favorites.", "info")
    return redirect(back)


@blueprint.post("/article/<slug>/delete")
@login_required
async def delete_article(slug: str) -> ResponseReturnValue:
    user = signed_in_user()
    asking = await unconfirmed("Delete this article?", url_for("site.article", slug=slug),
                               detail="Its comments and favorites go with it. This cannot be undone.")
    if asking is not None:
        return asking
    await articles.delete_article(get_db(), slug, user.id, as_admin=user.is_admin)
    await flash("The article is deleted.", "info")
    return redirect(url_for("site.home"))


@blueprint.route("/editor", methods=["GET", "POST"])
@login_required
async def new_article() -> ResponseReturnValue:
    form = await ArticleForm.create_form()
    if await form.validate_on_submit() and (preview := await _preview(form)) is not None:
        return await render_template("site/editor.html", form=form, article=None, preview=preview)
    if form.is_submitted and not form.errors:
        try:
            record = await articles.create_article(
                get_db(), signed_in_user().id, title=form.title.data,
                description=form.description.data, body=form.body.data, tags=form.tag_list())
        except (Invalid, Conflict) as error:
            add_errors(form, error, TAG_ERRORS)
        else:
            await flash("Your article is published.", "success")
            return redirect(url_for("site.article", slug=record.slug))
    return await render_template("site/editor.html", form=form, article=None, preview=None)


@blueprint.route("/editor/<slug>", methods=["GET", "POST"])
@login_required
async def edit_article(slug: str) -> ResponseReturnValue:
    user = signed_in_user()
    db = get_db()
    current: ArticleRecord = await article_lists.get_article(db, slug, user.id)
    if current.author.username != user.username:
        # Checked on GET as well: nobody sees an editor they could not save.
        raise Forbidden("article")
    form = await ArticleForm.create_form(
        data={"title": current.title, "description": current.description, "body": current.body,
              "tags": tags_text(current.tags)})
    if await form.validate_on_submit() and (preview := await _preview(form)) is not None:
        return await render_template("site/editor.html", form=form, article=current, preview=preview)
    if form.is_submitted and not form.errors:
        try:
            # update_article checks the author again, inside its own transaction.
            record = await articles.update_article(
                db, slug, user.id, title=form.title.data, description=form.description.data,
                body=form.body.data, tags=form.tag_list())
        except (Invalid, Conflict) as error:
            add_errors(form, error, TAG_ERRORS)
        else:
            await flash("Your article is updated.", "success")
            return redirect(url_for("site.article", slug=record.slug))
    return await render_template("site/editor.html", form=form, article=current, preview=None)


async def _preview(form: ArticleForm) -> str | None:
    """The body to show rendered (with the same sanitiser as the article page) when the Preview
    button sent the form; None when it was Publish or Update."""
    if (await request.form).get("preview") != "1":
        return None
    body = form.body.data or ""
    await prerender([body])
    return body

