"""kept token: the API token that changed a password stays valid after that change

Adds ``users.kept_token`` (a fingerprint of that token; NULL for every existing account).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy on SQLite: it would lose the expression index on users).
    op.add_column("users", sa.Column("kept_token", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "kept_token")
