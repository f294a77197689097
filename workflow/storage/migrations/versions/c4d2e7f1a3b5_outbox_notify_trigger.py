"""PostgreSQL: a new outbox row wakes the relays (NOTIFY by trigger, at commit)

Revision ID: c4d2e7f1a3b5
Revises: 7c1e2f0a9b31
Create Date: 2026-11-29 23:20:00
"""

from __future__ import annotations

from alembic import op

revision = "c4d2e7f1a3b5"
down_revision = "7c1e2f0a9b31"
branch_labels = None
depends_on = None

# Once per statement, not per row: NOTIFY folds identical notices of one transaction
# into one, and the relay claims every row it finds anyway. Sent in the writer's own
# statement, so a transition needs no round trip of its own for it.
CREATE_FUNCTION = """
CREATE FUNCTION carnation_outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('carnation_outbox', '');
    RETURN NULL;
END;
$$
"""
CREATE_TRIGGER = """
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION carnation_outbox_wake()
"""


def upgrade() -> None:
    # SQLite has no other process to wake: the in-process relay is nudged after commit.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CREATE_FUNCTION)
    op.execute(CREATE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_wake ON outbox")
    op.execute("DROP FUNCTION IF EXISTS carnation_outbox_wake()")
