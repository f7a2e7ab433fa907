"""Users (register, login, the current user) and profiles (view, follow, unfollow)."""

from __future__ import annotations

from typing import Any

from quart import g
from quart_schema import validate_response

from app.api.common import blueprint, current_user, json_body, login_required, settings, viewer_id
from app.api.schemas import (
    LoginBody,
    NewUserBody,
    ProfileEnvelope,
    UserChangesBody,
    UserEnvelope,
    profile_out,
    user_envelope,
)
from app.api.tokens import issue_token
from app.db import get_db
from app.domain import users
from app.domain.errors import Invalid
from app.domain.users import UNSET


@blueprint.post("/users")
@json_body(NewUserBody)
@validate_response(UserEnvelope, 201)
async def register(data: NewUserBody) -> tuple[UserEnvelope, int]:
    """Register: 201 with the new user and a token; 409 when the username or e-mail is taken."""
    new = data.user
    account = await users.register(get_db(), username=new.username, email=new.email,
                                   password=new.password)
    return user_envelope(account, issue_token(settings(), account.id)), 201


@blueprint.post("/users/login")
@json_body(LoginBody)
@validate_response(UserEnvelope)
async def login(data: LoginBody) -> UserEnvelope:
    """Sign in with e-mail and password: 401 ``credentials: invalid`` never says which was wrong."""
    email, password = data.user.email, data.user.password
    blank = {}
    if email is None or not email.strip():
        blank["email"] = ["can't be blank"]
    if not password:  # spaces may be a password; only nothing is blank
        blank["password"] = ["can't be blank"]
    if blank:
        raise Invalid(blank)
    account = await users.authenticate(get_db(), email=email, password=password)
    return user_envelope(account, issue_token(settings(), account.id))


@blueprint.get("/user")
@login_required
@validate_response(UserEnvelope)
async def get_user() -> UserEnvelope:
    return user_envelope(current_user(), g.token)


@blueprint.put("/user")
@login_required
@json_body(UserChangesBody)
@validate_response(UserEnvelope)
async def update_user(data: UserChangesBody) -> UserEnvelope:
    """Partial: omitted fields stay; "" or null clears bio and image; the token stays valid."""
    changes = data.user
    given: dict[str, Any] = {name: getattr(changes, name) for name in changes.model_fields_set}
    fields = {name: given.get(name, UNSET) for name in ("username", "email", "password", "bio", "image")}
    account = await users.update_account(get_db(), current_user().id, **fields)
    return user_envelope(account, g.token)


@blueprint.get("/profiles/<username>")
@validate_response(ProfileEnvelope)
async def get_profile(username: str) -> ProfileEnvelope:
    profile = await users.get_profile(get_db(), username, viewer_id())
    return ProfileEnvelope(profile=profile_out(profile))


@blueprint.post("/profiles/<username>/follow")
@login_required
@validate_response(ProfileEnvelope)
async def follow(username: str) -> ProfileEnvelope:
    profile = await users.follow(get_db(), current_user().id, username)
    return ProfileEnvelope(profile=profile_out(profile))


@blueprint.delete("/profiles/<username>/follow")
@login_required
@validate_response(ProfileEnvelope)
async def unfollow(username: str) -> ProfileEnvelope:
    profile = await users.unfollow(get_db(), current_user().id, username)
    return ProfileEnvelope(profile=profile_out(profile))
