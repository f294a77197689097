"""The API's JSON, encoded by orjson, reads as the standard library's would have written it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import Flask

from web.jsonprovider import FastJSONProvider


@dataclass
class Point:
    x: int
    y: int


def _app(debug: bool = False) -> Flask:
    app = Flask(__name__)
    app.debug = debug
    app.json = FastJSONProvider(app)
    return app


def _stdlib(app: Flask, value: object, **kwargs: object) -> str:
    return json.dumps(value, default=app.json.default, ensure_ascii=False, **kwargs)  # type: ignore[attr-defined]


SAMPLE = {
    "名字": "张**",
    "nested": [1, 2.5, None, True, {"b": 1, "a": 2}],
    "at": datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
    "on": date(2026, 11, 30),
    "point": Point(1, 2),
    3: "int key",
}


def test_an_answer_is_the_compact_json_the_standard_library_writes() -> None:
    app = _app()
    with app.app_context():
        response = app.json.response(SAMPLE)
    body = response.get_data()
    assert response.mimetype == "application/json"
    # Same bytes as Flask's own provider would send: compact, UTF-8, keys as written,
    # dates as HTTP dates and dataclasses as objects through Flask's `default`.
    assert body == (_stdlib(app, SAMPLE, separators=(",", ":")) + "\n").encode()
    assert "张**".encode() in body


def test_debug_mode_answers_are_indented_and_sorted_keys_honoured() -> None:
    app = _app(debug=True)
    app.json.sort_keys = True  # type: ignore[attr-defined]
    value = {"b": [1, {"d": 1, "c": 2}], "a": "x"}
    with app.app_context():
        body = app.json.response(value).get_data(as_text=True)
    assert body == _stdlib(app, value, indent=2, sort_keys=True) + "\n"


def test_what_orjson_cannot_write_is_written_by_the_standard_library() -> None:
    app = _app()
    value = {"big": 2**70, "ascii": "é"}
    with app.app_context():
        assert json.loads(app.json.response(value).get_data()) == value
        # Arguments orjson has no equivalent of: the standard library, unchanged.
        assert app.json.dumps(value) == json.dumps(value, ensure_ascii=False)
        assert app.json.dumps(value, ensure_ascii=True) == json.dumps(value)
        assert app.json.dumps(value, indent=4) == json.dumps(value, ensure_ascii=False, indent=4)
