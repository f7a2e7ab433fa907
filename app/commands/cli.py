"""Flask-style CLI commands: ``quart --app app db upgrade | seed | create-admin | demo``.

They are plain click commands (not wrapped in Quart's app context, which runs inside an event
loop) so that each can run its own ``asyncio.run`` and its own short-lived engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from alembic import command
from quart import Quart
from quart.cli import ScriptInfo, pass_script_info
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.commands import bulk_data
from app.commands.demo_data import database_is_empty, seed
from app.domain import DomainError, NotFound, counters, users
from app.domain.passwords import hash_password
from app.infra import migrations
from app.infra.database import make_engine
from app.infra.settings import Settings
from app.models import User

T = TypeVar("T")


def _settings(info: ScriptInfo) -> Settings:
    settings: Settings = info.load_app().config["CONDUIT"]
    return settings


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(settings, serving=False)
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@click.group("db")
def db_group() -> None:
    """Database migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@pass_script_info
def db_upgrade(info: ScriptInfo, revision: str) -> None:
    """Upgrade the database to REVISION (default: head)."""
    migrations.upgrade(_settings(info).database_url, revision)
    click.echo(f"database upgraded to {revision}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@pass_script_info
def db_downgrade(info: ScriptInfo, revision: str) -> None:
    """Downgrade the database to REVISION (default: one step back)."""
    migrations.downgrade(_settings(info).database_url, revision)
    click.echo(f"database downgraded to {revision}")


@db_group.command("recount")
@click.option("--batch", default=counters.BATCH, show_default=True, type=click.IntRange(100, 1_000_000),
              help="keys per transaction")
@pass_script_info
def db_recount(info: ScriptInfo, batch: int) -> None:
    """Recompute every counter and copied column from the base tables (after a bulk import or a
    restore, or to check): reports what was wrong and repairs it, a batch per transaction, while
    the site keeps serving."""

    async def run() -> dict[str, int]:
        engine = make_engine(_settings(info), serving=False)
        try:
            return await counters.recount(engine, batch=batch, progress=click.echo)
        finally:
            await engine.dispose()

    drift = asyncio.run(run())
    wrong = sum(drift.values())
    click.echo(f"recount done: {wrong} wrong row(s) repaired" if wrong else "recount done: no drift")


@db_group.command("current")
@pass_script_info
def db_current(info: ScriptInfo) -> None:
    """Show the database's current revision."""
    command.current(migrations.alembic_config(_settings(info).database_url), verbose=False)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
@pass_script_info
def db_revision(info: ScriptInfo, message: str, autogenerate: bool) -> None:
    """Write a new migration, by default compared against the models."""
    config = migrations.alembic_config(_settings(info).database_url)
    command.revision(config, message=message, autogenerate=autogenerate)


@click.command("seed")
@click.option("--users", "n_users", default=12, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--articles", default=40, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--comments", default=3, show_default=True, type=click.IntRange(0, 100),
              help="most comments per article")
@click.option("--seed", "seed_value", default=42, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="do nothing when the database already has users")
@click.option("--scale", type=click.IntRange(10, 10_000_000), metavar="ARTICLES",
              help="bulk-fill ARTICLES articles (and users, tags, favorites, follows and comments "
                   "in proportion) for benchmarks at size; ignores the other options")
@pass_script_info
def seed_command(info: ScriptInfo, n_users: int, articles: int, comments: int, seed_value: int,
                 if_empty: bool, scale: int | None) -> None:
    """Fill the database with deterministic demo data (password: conduit-demo)."""
    if scale is not None:
        click.echo(_seed_scale(_settings(info), scale, if_empty))
        return

    async def work(session: AsyncSession) -> str:
        if not await database_is_empty(session):
            if if_empty:
                return "database already has data: not seeding"
            raise click.ClickException("database already has data; seed an empty database")
        report = await seed(session, users=n_users, articles=articles, comments=comments,
                            seed_value=seed_value)
        return (f"seeded {report.users} users, {report.articles} articles, {report.comments} "
                f"comments, {report.favorites} favorites, {report.follows} follows "
                f"(every password: conduit-demo)")

    click.echo(_with_session(_settings(info), work))


def _seed_scale(settings: Settings, articles: int, if_empty: bool) -> str:
    async def run() -> str:
        engine = make_engine(settings, serving=False)
        try:
            if not await bulk_data.is_empty(engine):
                if if_empty:
                    return "database already has data: not seeding"
                raise click.ClickException("database already has data; seed an empty database")
            counts = await bulk_data.seed_scale(engine, bulk_data.Shape.for_articles(articles),
                                                 progress=click.echo)
        finally:
            await engine.dispose()
        return "seeded " + ", ".join(f"{n} {table}" for table, n in counts.items())

    return asyncio.run(run())


@click.command("create-admin")
@click.argument("username")
@click.option("--email", help="needed when the user does not exist yet")
@click.option("--password", help="for a new user (asked for when not given)")
@pass_script_info
def create_admin(info: ScriptInfo, username: str, email: str | None, password: str | None) -> None:
    """Make USERNAME an administrator, creating the account if it does not exist."""
    settings = _settings(info)

    async def promote(session: AsyncSession) -> str | None:
        try:
            account = await users.set_admin(session, username, True)
        except NotFound:
            return None
        return f"{account.username} is now an administrator"

    done = _with_session(settings, promote)
    if done is None:
        if not email:
            raise click.UsageError("no such user: give --email to create one")
        if password is None:  # asked here, before the event loop runs: input() blocks
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        new_password: str = password

        async def create(session: AsyncSession) -> str:
            try:
                password_ok = users.clean_password(new_password)
                account = await users.create_user(session, username=username, email=email,
                                                  password_hash=await hash_password(password_ok),
                                                  is_admin=True)
            except DomainError as error:
                raise click.ClickException(str(error)) from None
            return f"created administrator {account.username} <{account.email}>"

        done = _with_session(settings, create)
    click.echo(done)


@click.command("demo")
@click.pass_context
def demo_command(ctx: click.Context) -> None:
    """Upgrade the database to head, then seed the demo data if it is empty: what ``make run``
    needs, in one process (each ``quart`` command starts Python and imports the app again)."""
    ctx.invoke(db_upgrade)
    ctx.invoke(seed_command, if_empty=True)


LOAD_EMAILS = "%@load.test"  # every account conduit-loadtest makes (loadtest/) has such an address


@click.command("purge-load")
@pass_script_info
def purge_load(info: ScriptInfo) -> None:
    """Delete what conduit-loadtest wrote: its accounts (e-mail @load.test) with their articles,
    comments, favorites and follows; then recount the counters they moved."""

    async def run() -> int:
        engine = make_engine(_settings(info), serving=False)
        try:
            async with engine.begin() as conn:
                gone = (await conn.execute(delete(User).where(User.email.like(LOAD_EMAILS)))).rowcount
            await counters.recount(engine)
            return int(gone or 0)
        finally:
            await engine.dispose()

    click.echo(f"removed {asyncio.run(run())} load-test account(s) and everything they wrote")


def register_commands(app: Quart) -> None:
    for cmd in (db_group, seed_command, create_admin, demo_command, purge_load):
        app.cli.add_command(cmd)
