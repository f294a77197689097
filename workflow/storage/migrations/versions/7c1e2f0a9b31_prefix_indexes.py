"""Prefix (subtree) indexes usable by LIKE on PostgreSQL: varchar_pattern_ops

Revision ID: 7c1e2f0a9b31
Revises: d52bb5ea6c8e
Create Date: 2026-11-29 21:50:00
"""

from __future__ import annotations

from alembic import op

revision = "7c1e2f0a9b31"
down_revision = "d52bb5ea6c8e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite's LIKE optimisation needs no operator class: nothing to change there.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_stations_path", table_name="stations")
    op.create_index(
        "ix_stations_path", "stations", ["path"], postgresql_ops={"path": "varchar_pattern_ops"}
    )
    op.drop_index("ix_cases_station_path", table_name="cases")
    op.create_index(
        "ix_cases_station_path",
        "cases",
        ["station_path", "received_at"],
        postgresql_ops={"station_path": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_cases_station_path", table_name="cases")
    op.create_index("ix_cases_station_path", "cases", ["station_path", "received_at"])
    op.drop_index("ix_stations_path", table_name="stations")
    op.create_index("ix_stations_path", "stations", ["path"])
