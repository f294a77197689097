"""Idempotent registration: a retried request gets the first answer instead of a second case."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.runtime import Runtime
from workflow.storage.models import IdempotencyKey

KEY_TTL = timedelta(hours=24)


class KeyTaken(Exception):
    """Another request holds this key (committed, or committing now): replay its answer."""


def request_digest(data: Any) -> str:
    """The same request in another key order is the same request."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claim_key(rt: Runtime, session: Session, user_id: int, key: str, digest: str) -> IdempotencyKey:
    """Insert the key row first, in the registration's transaction.

    A duplicate fails here before anything else is written: on PostgreSQL a concurrent
    insert of the same key waits for the first transaction and then hits the unique key;
    on SQLite writers are serialized anyway. Keys older than a day are free again.
    """
    now = rt.now()
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < now - KEY_TTL,
        )
    )
    row = IdempotencyKey(user_id=user_id, key=key, request_hash=digest, created_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise KeyTaken(key) from None
    return row


def stored_answer(rt: Runtime, session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    """The completed first answer under ``key``, if one is still kept."""
    row = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if row is None or row.status_code is None or row.created_at < rt.now() - KEY_TTL:
        return None
    return row
