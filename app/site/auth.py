"""Sign up, sign in and sign out (the ``auth`` blueprint)."""

from __future__ import annotations

from quart import flash, redirect, render_template, request, session, url_for
from quart.typing import ResponseReturnValue

from app.db import get_db
from app.domain import Conflict, Invalid, InvalidCredentials, users
from app.domain.records import Account
from app.site import auth_blueprint as blueprint
from app.site.common import add_errors, current_user, safe_next
from app.site.forms import SignInForm, SignUpForm


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
