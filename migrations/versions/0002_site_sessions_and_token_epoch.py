"""revocable sign-ins: site_sessions (one row per signed-in browser) and users.token_epoch

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must not change when app/models.py does.
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("token_epoch", sa.Integer(), server_default=sa.text("0"),
                                     nullable=False))
    op.create_table(
        "site_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_site_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_sessions")),
    )
    op.create_index("ix_site_sessions_user_id", "site_sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_site_sessions_user_id", table_name="site_sessions")
    op.drop_table("site_sessions")
    # A plain DROP COLUMN (SQLite has it since 3.35): batch mode would rebuild the table and lose
    # the lower(username) unique index, which SQLite cannot reflect.
    op.drop_column("users", "token_epoch")
