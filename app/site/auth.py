"""Sign up, sign in and sign out (the ``auth`` blueprint)."""

from __future__ import annotations

from quart import flash, redirect, render_template, request, session, url_for
from quart.typing import ResponseReturnValue

from app.domain import Conflict, Invalid, InvalidCredentials, sessions, users
from app.domain.records import Account
from app.infra.database import get_db
from app.infra.rate_limits import limit, limit_signin, signed_in, signin_failed
from app.site import auth_blueprint as blueprint
from app.site.domain_errors import add_errors
from app.site.forms import SignInForm, SignUpForm
from app.site.next_url import safe_next
from app.site.signed_in import current_user, login_required, signed_in_user


async def _sign_in(account: Account) -> None:
    # A fresh session on sign-in (new CSRF secret too): nothing set before it carries over. The
    # cookie names a server-side session, which signing out ends.
    session.clear()
    session["sid"] = await sessions.start_session(get_db(), account.id)


@blueprint.route("/register", methods=["GET", "POST"])
async def register() -> ResponseReturnValue:
    if current_user() is not None:
        return redirect(url_for("site.home"))
    form = await SignUpForm.create_form()
    if not form.is_submitted:
        form.next.data = request.args.get("next", "")
    if await form.validate_on_submit():
        await limit("register")
        try:
            account = await users.register(get_db(), username=form.username.data,
                                           email=form.email.data, password=form.password.data)
        except (Invalid, Conflict) as error:
            add_errors(form, error)
        else:
            await signed_in(form.email.data)
            await _sign_in(account)
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
        await limit_signin(form.email.data)  # as the API's login
        try:
            account = await users.authenticate(get_db(), email=form.email.data,
                                               password=form.password.data)
        except InvalidCredentials:
            await signin_failed(form.email.data)
            # One message whichever half was wrong: a sign-in form must not reveal who has an account.
            form.form_errors.append("Wrong e-mail or password.")
        else:
            await signed_in(form.email.data)
            await _sign_in(account)
            await flash(f"Welcome back, {account.username}.", "success")
            return redirect(safe_next(form.next.data, url_for("site.home")))
    return await render_template("auth/login.html", form=form)


@blueprint.post("/logout")
async def logout() -> ResponseReturnValue:
    if "sid" in session:
        await sessions.end_session(get_db(), session["sid"])
    session.clear()
    await flash("You are signed out.", "info")
    return redirect(url_for("site.home"))


@blueprint.post("/logout/everywhere")
@login_required
async def logout_everywhere() -> ResponseReturnValue:
    """Every browser signed in as this user is signed out, and every API token is revoked."""
    await sessions.sign_out_everywhere(get_db(), signed_in_user().id)
    session.clear()
    await flash("You are signed out everywhere: every browser and every API token.", "info")
    return redirect(url_for("auth.login"))
