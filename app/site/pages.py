"""The ``site`` blueprint: home (feeds, tags, pages), profiles and follows, settings.

Article pages, the editor, comments and favorites are in ``app.site.articles`` (same blueprint).
Views stay thin: read the request, call one or two domain functions, render or redirect.
"""

from __future__ import annotations

from quart import flash, redirect, render_template, request, session, url_for
from quart.typing import ResponseReturnValue

from app.domain import Conflict, Forbidden, Invalid, article_lists, users
from app.domain.users import UNSET
from app.infra.database import get_db
from app.infra.rate_limits import limit
from app.live import get_live
from app.site import blueprint
from app.site.domain_errors import add_errors
from app.site.forms import SettingsForm
from app.site.next_url import form_next, here
from app.site.pager import requested_position
from app.site.signed_in import current_user, login_required, login_url, signed_in_user

POPULAR_TAGS = 20


@blueprint.get("/")
async def home() -> ResponseReturnValue:
    """Global Feed, Your Feed (?feed=following, signed in) or one tag (?tag=...), ?page=N."""
    user = current_user()
    feed = request.args.get("feed")
    tag = request.args.get("tag") or None
    if feed == "following" and user is None:
        return redirect(login_url(here()))
    position = requested_position()
    db = get_db()
    # The first page is told of new articles (static/live.js), from the event read before it.
    live_after = await get_live().hub.position() if position.first else None
    if feed == "following" and user is not None:
        tab = "following"
        result = await article_lists.feed(db, user.id, **position.args())
    else:
        tab = "tag" if tag else "global"
        result = await article_lists.list_articles(db, viewer_id=user.id if user else None, tag=tag,
                                              **position.args())
    tags = await article_lists.tags_in_use(db, limit=POPULAR_TAGS)
    return await render_template(
        "site/home.html", result=result, tags=tags, tab=tab, tag=tag, first=position.first,
        page_args={"feed": "following"} if tab == "following" else {"tag": tag} if tag else {},
        live_after=live_after,
        live_args={"feed": "yours" if tab == "following" else "global", **({"tag": tag} if tag else {})},
    )


async def _profile_page(username: str, tab: str) -> ResponseReturnValue:
    user = current_user()
    viewer_id = user.id if user else None
    db = get_db()
    profile = await users.get_profile(db, username, viewer_id)
    result = await article_lists.list_articles(
        db, viewer_id=viewer_id, **requested_position().args(),
        author=profile.username if tab == "articles" else None,
        favorited=profile.username if tab == "favorited" else None,
    )
    return await render_template(
        "site/profile.html", profile=profile, result=result, tab=tab,
        is_self=user is not None and user.username.lower() == profile.username.lower(),
    )


@blueprint.get("/profile/<username>")
async def profile(username: str) -> ResponseReturnValue:
    return await _profile_page(username, "articles")


@blueprint.get("/profile/<username>/favorites")
async def profile_favorites(username: str) -> ResponseReturnValue:
    return await _profile_page(username, "favorited")


@blueprint.post("/profile/<username>/follow")
@login_required
async def follow(username: str) -> ResponseReturnValue:
    back = await form_next(url_for("site.profile", username=username))
    try:
        profile = await users.follow(get_db(), signed_in_user().id, username)
    except Forbidden as error:  # following yourself
        await flash(f"You cannot do that: {error}.", "error")
    else:
        await flash(f"You follow {profile.username} now.", "success")
    return redirect(back)


@blueprint.post("/profile/<username>/unfollow")
@login_required
async def unfollow(username: str) -> ResponseReturnValue:
    back = await form_next(url_for("site.profile", username=username))
    profile = await users.unfollow(get_db(), signed_in_user().id, username)
    await flash(f"You no longer follow {profile.username}.", "info")
    return redirect(back)


@blueprint.route("/settings", methods=["GET", "POST"])
@login_required
async def settings() -> ResponseReturnValue:
    user = signed_in_user()
    form = await SettingsForm.create_form(obj=user)
    if await form.validate_on_submit():
        if form.password.data:
            await limit("password", user.id)
        try:
            account = await users.update_account(
                get_db(), user.id, username=form.username.data, email=form.email.data,
                bio=form.bio.data, image=form.image.data,
                password=form.password.data or UNSET,  # blank: keep the current password
                keep_session=session.get("sid"),  # a new password signs out every other browser
            )
        except (Invalid, Conflict) as error:
            add_errors(form, error)
        else:
            await flash("Your settings are saved.", "success")
            return redirect(url_for("site.profile", username=account.username))
    return await render_template("site/settings.html", form=form)
