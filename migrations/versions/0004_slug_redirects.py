"""slug redirects: an article's former slugs, so links made before a rename keep working

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slug_redirects",
        sa.Column("old_slug", sa.String(length=255), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"],
                                name=op.f("fk_slug_redirects_article_id_articles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("old_slug", name=op.f("pk_slug_redirects")),
    )
    op.create_index("ix_slug_redirects_article_id", "slug_redirects", ["article_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slug_redirects_article_id", table_name="slug_redirects")
    op.drop_table("slug_redirects")
