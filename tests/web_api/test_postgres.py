"""On PostgreSQL, where concurrent transactions really overlap: duplicates make one case."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.support import Network, registration
from web.app import create_app
from workflow.services.auth import issue_token
from workflow.storage.models import Case, User

pytestmark = pytest.mark.postgres


def test_concurrent_registrations_with_one_idempotency_key_make_one_case(
    pg_network: Network,
) -> None:
    rt = pg_network.rt
    app = create_app(runtime=rt)
    with rt.sessions() as session, session.begin():
        user = session.scalar(select(User).where(User.username == "cw1"))
        assert user is not None
        token = issue_token(rt, session, user).token
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "double-click"}
    barrier = threading.Barrier(8)

    def post(_: int) -> tuple[int, int]:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/cases", json=registration(), headers=headers)
        return response.status_code, response.get_json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(8)))
    assert {status for status, _ in answers} == {201}
    assert len({case_id for _, case_id in answers}) == 1
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_twenty_concurrent_http_triggers_with_one_version_let_exactly_one_through(
    pg_network: Network,
) -> None:
    rt = pg_network.rt
    app = create_app(runtime=rt)
    with rt.sessions() as session, session.begin():
        user = session.scalar(select(User).where(User.username == "cw1"))
        assert user is not None
        token = issue_token(rt, session, user).token
    headers = {"Authorization": f"Bearer {token}"}
    created = app.test_client().post("/api/v1/cases", json=registration(), headers=headers)
    case_id = created.get_json()["id"]
    barrier = threading.Barrier(20)

    def fire(_: int) -> int:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/cases/{case_id}/transitions",
            json={"event": "accept", "version": 1},
            headers=headers,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = sorted(pool.map(fire, range(20)))
    assert statuses == [200] + [409] * 19
    case = app.test_client().get(f"/api/v1/cases/{case_id}", headers=headers).get_json()
    assert case["version"] == 2 and case["state"] == "mediation"
