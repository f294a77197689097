"""Chinese by default, English on request: catalogs complete, compiled at start, really used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import update

from tests.console.conftest import Console, register
from tests.support import tx
from web.console import i18n
from workflow.runtime import Runtime
from workflow.storage.models import User

ROOT = Path(__file__).resolve().parents[2]


def _source_messages() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(locale: str) -> dict[str, object]:
    path = ROOT / "web" / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source)
    return {(m.id[0] if isinstance(m.id, tuple) else m.id): m.string for m in catalog if m.id}


def test_every_console_string_has_a_chinese_translation() -> None:
    messages = _source_messages()
    catalog = _catalog("zh_Hans_CN")
    missing = sorted(m for m in messages if not catalog.get(m) or catalog[m] in ("", ("",)))
    assert not missing, f"untranslated (run pybabel extract/update, then translate): {missing}"


def test_the_english_catalog_knows_every_string() -> None:
    assert _source_messages() <= set(_catalog("en"))


def test_the_login_page_is_chinese_by_default(app: Flask) -> None:
    body = app.test_client().get("/login").get_data(as_text=True)
    assert '<html lang="zh-Hans">' in body
    assert "<h1>登录</h1>" in body and "用户名" in body and "密码" in body
    assert "Sign in" not in body


def test_a_signed_in_page_is_chinese_throughout(console: Console, rt: Runtime) -> None:
    case = register(rt)
    console.login("cw1")
    queue = console.text("/queue")
    assert "<h1>我的待办</h1>" in queue and "登记待受理" in queue and "婚姻家庭" in queue
    page = console.text(f"/cases/{case['id']}")
    for text in ("受理决定期限", "剩余", "办理记录", "显示个人信息", "现在可以办理", "受理"):
        assert text in page, text
    assert "Acceptance decision" not in page and "Timeline" not in page


def test_the_language_switch_is_kept_in_the_session(console: Console) -> None:
    console.login("cw1")
    assert "我的待办" in console.text("/queue")
    response = console.post("/language", {"lang": "en", "next": "/queue"})
    assert response.status_code == 302 and response.headers["Location"] == "/queue"
    body = console.text("/queue")
    assert '<html lang="en">' in body and "<h1>My queue</h1>" in body
    console.post("/language", {"lang": "zh", "next": "/queue"})
    assert "我的待办" in console.text("/queue")


def test_the_switch_works_before_signing_in(app: Flask) -> None:
    console = Console(app, app.extensions["carnation"])
    console.get("/login")
    console.post("/language", {"lang": "en", "next": "/login"})
    assert "<h1>Sign in</h1>" in console.text("/login")


def test_a_users_preferred_language_is_the_default(console: Console, rt: Runtime) -> None:
    with tx(rt) as session:
        session.execute(update(User).where(User.username == "cw2").values(language="en"))
    console.login("cw2")
    assert "<h1>My queue</h1>" in console.text("/queue")
    console.post("/language", {"lang": "zh", "next": "/queue"})
    assert "我的待办" in console.text("/queue")


def test_an_unknown_language_is_ignored_and_next_stays_on_site(console: Console) -> None:
    console.login("cw1")
    response = console.post("/language", {"lang": "fr", "next": "https://evil.example.org/"})
    assert response.headers["Location"] == "/"
    assert "我的待办" in console.text("/queue")


def test_error_pages_are_translated(console: Console) -> None:
    console.login("cw1")
    assert "未找到" in console.text("/cases/424242", status=404)


def test_catalogs_are_compiled_when_missing_or_stale(tmp_path: Path) -> None:
    source = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, source, ignore=shutil.ignore_patterns("*.mo"))
    mo = source / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"
    assert i18n.compile_catalogs(source) == source
    assert mo.exists()
    compiled_at = mo.stat().st_mtime_ns
    i18n.compile_catalogs(source)
    assert mo.stat().st_mtime_ns == compiled_at  # fresh: left alone
    po = mo.with_suffix(".po")
    po.touch()
    import os

    os.utime(mo, ns=(compiled_at - 10**9, compiled_at - 10**9))
    i18n.compile_catalogs(source)
    assert mo.stat().st_mtime_ns > compiled_at - 10**9


def test_a_read_only_package_compiles_into_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, source, ignore=shutil.ignore_patterns("*.mo"))
    real = i18n._compile

    def read_only(po: Path, mo: Path) -> None:
        if source in mo.parents:
            raise PermissionError("read-only file system")
        real(po, mo)

    monkeypatch.setattr(i18n, "_compile", read_only)
    fallback = tmp_path / "instance" / "translations"
    assert i18n.compile_catalogs(source, fallback) == fallback
    assert (fallback / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").exists()
