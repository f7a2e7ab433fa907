"""counters and recency columns: every read O(page) at any size (app.domain.counters)

Adds the counters (articles: favorites, comments; users: articles, favorites; tags: articles; the
site's totals), the article's creation time copied into its tag links and favorites, and the
indexes whose order is a list's order. Then fills them from the base tables in batches of
``BATCH`` keys, each statement its own transaction (both engines run these statements in
autocommit mode), so on a large database the site keeps serving while it runs: no table is
locked for longer than one batch, and PostgreSQL builds the new indexes CONCURRENTLY.

Writes made meanwhile by code that does not keep the counters yet can leave them off by the
writes' size: ``quart --app app db recount`` after the new code is serving repairs that.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 20_000
Stamp = sa.DateTime(timezone=True)  # frozen here: a migration must not change with app/models.py
COUNTERS = (("articles", "favorites_count"), ("articles", "comments_count"),
            ("users", "articles_count"), ("users", "favorites_count"), ("tags", "articles_count"))
# (table, key column, statement filling the rows whose key is in (:lo, :hi]).
FILLS = (
    ("articles", "id", "UPDATE articles SET "
     "favorites_count = (SELECT count(*) FROM favorites f WHERE f.article_id = articles.id), "
     "comments_count = (SELECT count(*) FROM comments c WHERE c.article_id = articles.id) "
     "WHERE id > :lo AND id <= :hi"),
    ("users", "id", "UPDATE users SET "
     "articles_count = (SELECT count(*) FROM articles a WHERE a.author_id = users.id), "
     "favorites_count = (SELECT count(*) FROM favorites f WHERE f.user_id = users.id) "
     "WHERE id > :lo AND id <= :hi"),
    ("tags", "id", "UPDATE tags SET "
     "articles_count = (SELECT count(*) FROM article_tags l WHERE l.tag_id = tags.id) "
     "WHERE id > :lo AND id <= :hi"),
    ("article_tags", "article_id", "UPDATE article_tags SET created_at = "
     "(SELECT a.created_at FROM articles a WHERE a.id = article_tags.article_id) "
     "WHERE article_id > :lo AND article_id <= :hi"),
    ("favorites", "article_id", "UPDATE favorites SET article_created_at = "
     "(SELECT a.created_at FROM articles a WHERE a.id = favorites.article_id) "
     "WHERE article_id > :lo AND article_id <= :hi"),
)
INDEXES = (
    ("ix_article_tags_tag_id_created_at", "article_tags", ["tag_id", "created_at", "article_id"]),
    ("ix_favorites_user_id_article_created_at", "favorites",
     ["user_id", "article_created_at", "article_id"]),
    ("ix_articles_author_id_created_at_id", "articles", ["author_id", "created_at", "id"]),
    ("ix_comments_article_id_created_at_id", "comments", ["article_id", "created_at", "id"]),
    ("ix_comments_created_at_id", "comments", ["created_at", "id"]),
)
REPLACED = (("ix_article_tags_tag_id", "article_tags", ["tag_id"]),
            ("ix_articles_author_id_created_at", "articles", ["author_id", "created_at"]),
            ("ix_comments_article_id_created_at", "comments", ["article_id", "created_at"]))


def _concurrently() -> dict[str, Any]:
    return {"postgresql_concurrently": True} if op.get_bind().dialect.name == "postgresql" else {}


def upgrade() -> None:
    for table, column in COUNTERS:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    op.add_column("article_tags", sa.Column("created_at", Stamp, nullable=True))
    op.add_column("favorites", sa.Column("article_created_at", Stamp, nullable=True))
    op.create_table(
        "site_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_site_counters")),
    )
    bind = op.get_bind()
    for table, key, fill in FILLS:
        top = bind.execute(sa.text(f"SELECT max({key}) FROM {table}")).scalar() or 0
        for lo in range(0, top, BATCH):
            bind.execute(sa.text(fill), {"lo": lo, "hi": lo + BATCH})
    for name, table in (("articles", "articles"), ("comments", "comments"), ("users", "users")):
        bind.execute(sa.text(f"INSERT INTO site_counters (name, value) "
                             f"SELECT '{name}', count(*) FROM {table}"))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, **_concurrently())
    op.create_index("ix_tags_articles_count", "tags", [sa.text("articles_count DESC"), "name"],
                    **_concurrently())
    for name, table, _columns in REPLACED:
        op.drop_index(name, table_name=table, **_concurrently())
    if bind.dialect.name == "postgresql":
        # The backfill left a dead version of every row it updated: until a vacuum marks the
        # pages all-visible again, index-only scans fetch the heap and the planner avoids them.
        bind.execute(sa.text("VACUUM (ANALYZE) articles, users, tags, article_tags, favorites"))


def downgrade() -> None:
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    op.drop_index("ix_tags_articles_count", table_name="tags")
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table("site_counters")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of users would lose its
    # expression index (the case-insensitive unique username).
    op.drop_column("favorites", "article_created_at")
    op.drop_column("article_tags", "created_at")
    for table, column in reversed(COUNTERS):
        op.drop_column(table, column)
