"""Sign up, sign in, sign out, and the hook that loads ``g.user`` from the session cookie."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, render_template, request, session, url_for
from quart.typing import ResponseReturnValue

from app.db import SAFE_METHODS, get_db
from app.domain import Conflict, Invalid, InvalidCredentials, users
from app.domain.views import Account
from app.errors import is_api_path
from app.site.common import add_errors, check_csrf, current_user, safe_next
from app.site.forms import SignInForm, SignUpForm

blueprint = Blueprint("auth", __name__)
blueprint.before_request(check_csrf)


@blueprint.before_app_request
async def load_signed_in_user() -> None:
    """``g.user`` for every page (None when anonymous), with one query and only with a cookie.

    The JSON API never trusts the cookie (it authenticates by token), and static files need no
    user, so neither pays for the lookup.
    """
    if is_api_path():
        return
    g.user = None
    user_id = session.get("user_id")
    if user_id is None or request.endpoint == "static":
        return
    db = get_db()
    g.user = await users.get_account(db, int(user_id))
    if g.user is None:  # the account was deleted: forget it
        session.clear()
    if request.method not in SAFE_METHODS:
        # End the transaction now: on SQLite a writer's session began with BEGIN IMMEDIATE, and
        # the lock must not be held while the form is read or a password is hashed.
        await db.rollback()


def _sign_in(account: Account) -> None:
    # A fresh session on sign-in (new CSRF secret too): nothing set before it carries over.
    session.clear()
    session["user_id"] = account.id


@blueprint.route("/register", methods=["GET", "POST"])
async def register() -> ResponseReturnValue:
    if current_user() is not None:
        return redirect(url_for("site.home"))
    form = await SignUpForm.create_form()
    if not form.is_submitted:
        form.next.data = request.args.get("next", "")
    if await form.validate_on_submit():
        try:
            account = await users.register(get_db(), username=form.username.data,
                                           email=form.email.data, password=form.password.data)
        except (Invalid, Conflict) as error:
            add_errors(form, error)
        else:
            _sign_in(account)
            await flash(f"Welcome to Conduit, {account.username}!", "success")
            return redirect(safe_next(form.next.data, url_for("site.home")))
    return await render_template("auth/register.html", form=form)


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> ResponseReturnValue:
    if current_user() is not None:
        return redirect(url_for("site.home"))
    form = await SignInForm.create_form()
    if not form.is_submitted:
        form.next.data = request.args.get("next", "")
    if await form.validate_on_submit():
        try:
            account = await users.authenticate(get_db(), email=form.email.data,
                                               password=form.password.data)
        except InvalidCredentials:
            # One message whichever half was wrong: a sign-in form must not reveal who has an account.
            form.form_errors.append("Wrong e-mail or password.")
        else:
            _sign_in(account)
            await flash(f"Welcome back, {account.username}.", "success")
            return redirect(safe_next(form.next.data, url_for("site.home")))
    return await render_template("auth/login.html", form=form)


@blueprint.post("/logout")
async def logout() -> ResponseReturnValue:
    session.clear()
    await flash("You are signed out.", "info")
    return redirect(url_for("site.home"))
