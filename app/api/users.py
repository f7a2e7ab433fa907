"""Users (register, login, the current user) and profiles (view, follow, unfollow)."""

from __future__ import annotations

from typing import Any

from quart import g

from app.api import blueprint
from app.api.answers import answers
from app.api.auth import current_user, login_required, settings, viewer_id
from app.api.schemas import (
    LoginBody,
    NewUserBody,
    ProfileEnvelope,
    UserChangesBody,
    UserEnvelope,
    profile_json,
    user_json,
)
from app.api.tokens import fingerprint, issue_token
from app.api.validation import json_body
from app.domain import users
from app.domain.errors import InvalidCredentials
from app.domain.users import UNSET
from app.infra.database import get_db
from app.infra.rate_limits import limit, limit_signin, signed_in, signin_failed

Json = dict[str, Any]


@blueprint.post("/users")
@json_body(NewUserBody)
@answers(UserEnvelope, 201, 409, 422)
async def register(data: NewUserBody) -> tuple[Json, int]:
    """Register: 201 with the new user and a token; 409 when the username or e-mail is taken."""
    new = data.user
    await limit("register")
    account = await users.register(get_db(), username=new.username, email=new.email,
                                   password=new.password)
    return user_json(account, issue_token(settings(), account)), 201


@blueprint.post("/users/login")
@json_body(LoginBody)
@answers(UserEnvelope, 200, 401, 422)
async def login(data: LoginBody) -> Json:
    """Sign in with e-mail and password: 401 ``credentials: invalid`` never says which was wrong."""
    # Before hashing: every try counts against the address, a wrong password against the account
    # (from here, and from anywhere); a stranger's guesses never lock the owner out (app.infra.rate_limits).
    await limit_signin(data.user.email)
    try:
        account = await users.authenticate(get_db(), email=data.user.email,
                                           password=data.user.password)
    except InvalidCredentials:
        await signin_failed(data.user.email)
        raise
    await signed_in(data.user.email)
    return user_json(account, issue_token(settings(), account))


@blueprint.get("/user")
@login_required
@answers(UserEnvelope, 200, 422)
async def get_user() -> Json:
    return user_json(current_user(), g.token)


@blueprint.put("/user")
@login_required
@json_body(UserChangesBody)
@answers(UserEnvelope, 200, 409, 422)
async def update_user(data: UserChangesBody) -> Json:
    """Partial: omitted fields stay (at least one is needed); "" or null clears bio and image.
    A new password signs the user out everywhere: every other token and site session ends."""
    changes = data.user
    given: dict[str, Any] = {name: getattr(changes, name) for name in changes.model_fields_set}
    if "password" in given:
        await limit("password", current_user().id)
    fields = {name: given.get(name, UNSET) for name in ("username", "email", "password", "bio", "image")}
    # A new password revokes every other token; this one stays valid (as Django keeps the session
    # that changed it), and the answer carries a fresh one.
    account = await users.update_account(get_db(), current_user().id, **fields,
                                         keep_token=fingerprint(g.token))
    same = account.token_epoch == current_user().token_epoch
    return user_json(account, g.token if same else issue_token(settings(), account))


@blueprint.get("/profiles/<username>")
@answers(ProfileEnvelope, 200, 401, 404, 422)
async def get_profile(username: str) -> Json:
    return {"profile": profile_json(await users.get_profile(get_db(), username, viewer_id()))}


@blueprint.post("/profiles/<username>/follow")
@login_required
@answers(ProfileEnvelope, 200, 403, 404, 422)
async def follow(username: str) -> Json:
    return {"profile": profile_json(await users.follow(get_db(), current_user().id, username))}


@blueprint.delete("/profiles/<username>/follow")
@login_required
@answers(ProfileEnvelope, 200, 404, 422)
async def unfollow(username: str) -> Json:
    return {"profile": profile_json(await users.unfollow(get_db(), current_user().id, username))}
