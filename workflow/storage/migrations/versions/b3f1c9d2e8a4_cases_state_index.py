"""Cases by state, newest first: the listing's state filter reads an index in page order

Revision ID: b3f1c9d2e8a4
Revises: c4d2e7f1a3b5
Create Date: 2026-11-29 23:40:00
"""

from __future__ import annotations

from alembic import op

revision = "b3f1c9d2e8a4"
# Planned to follow 7c1e2f0a9b31; c4d2e7f1a3b5 took that place first, and two heads
# would stop `carnation db upgrade`, so this one follows it.
down_revision = "c4d2e7f1a3b5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_state_received", "cases", ["state", "received_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_state_received", table_name="cases")
