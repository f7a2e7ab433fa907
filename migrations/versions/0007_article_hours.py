"""article hours: how many articles each hour has, so a deep offset skips hours, not rows

Creates ``article_hours`` and fills it from the articles in one statement (a GROUP BY over the
articles' creation times: about a second at 1M articles; on PostgreSQL it reads without blocking
writers, on SQLite it is one short write transaction).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The hour an article was created in, as each backend stores times (frozen here, as in 0006).
HOUR = {"postgresql": "date_trunc('hour', created_at, 'UTC')",
        "sqlite": "substr(created_at, 1, 13) || ':00:00.000000'"}


def upgrade() -> None:
    op.create_table(
        "article_hours",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_article_hours")),
    )
    bind = op.get_bind()
    hour = HOUR[bind.dialect.name]
    bind.execute(sa.text(f"INSERT INTO article_hours (hour, articles) SELECT {hour}, count(*) "
                         f"FROM articles GROUP BY {hour}"))


def downgrade() -> None:
    op.drop_table("article_hours")
