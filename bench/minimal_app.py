"""The API baseline: a minimal Flask endpoint doing one primary-key SELECT.

Gunicorn's target is ``bench.minimal_app:app``. It runs under exactly the gunicorn
settings of the real API and reads the same ``CARNATION_DATABASE_URL`` through the
same engine factory, so the difference between the two is what Carnation's request
path costs.
"""

from __future__ import annotations

import os

from flask import Flask, abort, jsonify
from sqlalchemy import text

from workflow.storage.db import make_engine


def create_app(database_url: str) -> Flask:
    engine = make_engine(database_url)
    app = Flask(__name__)
    statement = text("SELECT id, number, state, version, risk FROM cases WHERE id = :id")

    @app.get("/case/<int:case_id>")
    def case(case_id: int):  # noqa: ANN202 - a Flask view
        with engine.connect() as connection:
            row = connection.execute(statement, {"id": case_id}).first()
        if row is None:
            abort(404)
        return jsonify(dict(row._mapping))

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        return jsonify({"status": "ok"})

    return app


# The process edge (gunicorn's target), like web/wsgi.py.
app = create_app(os.environ["CARNATION_DATABASE_URL"])
