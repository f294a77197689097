"""Languages of the console: the locale of a request, and catalogs compiled at start-up.

Catalogs are committed as `.po` sources only; `compile_catalogs` writes each `.mo` when
it is missing or older than its source, so a fresh clone, `carnation serve` and the test
run all get them without a separate build step (`pybabel compile -d web/translations`
does the same by hand).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import session
from flask_login import current_user

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"
# The user-facing language codes (User.language) and the catalog folder of each.
# Flask-Babel finds Simplified Chinese under zh_Hans_CN; a zh_CN folder is not found.
LOCALES = {"zh": "zh_Hans_CN", "en": "en"}
HTML_LANG = {"zh": "zh-Hans", "en": "en"}
DEFAULT_LANGUAGE = "zh"
SESSION_KEY = "lang"


def _stale(po: Path, mo: Path) -> bool:
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def _compile(po: Path, mo: Path) -> None:
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name, domain=DOMAIN)
    partial = mo.with_name(f"{mo.name}.{os.getpid()}.part")
    with partial.open("wb") as target:
        write_mo(target, catalog, use_fuzzy=False)
    partial.replace(mo)  # atomic: a concurrent start never reads half a catalog


def compile_catalogs(source: Path = TRANSLATIONS, fallback: Path | None = None) -> Path:
    """Compile every stale catalog; returns the directory the `.mo` files are in.

    Normally beside the sources. Where that directory is read-only (an installed
    package), the catalogs are copied to ``fallback`` (the instance folder) and compiled
    there.
    """
    try:
        for po in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            mo = po.with_suffix(".mo")
            if _stale(po, mo):
                _compile(po, mo)
        return source
    except OSError:
        if fallback is None:
            raise
    log.info("translations folder is read-only: compiling the catalogs under %s", fallback)
    for po in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        target_po = fallback / po.relative_to(source)
        target_po.parent.mkdir(parents=True, exist_ok=True)
        if _stale(po, target_po):
            shutil.copyfile(po, target_po)
        mo = target_po.with_suffix(".mo")
        if _stale(target_po, mo):
            _compile(target_po, mo)
    return fallback


def language() -> str:
    """`zh` or `en`: the session's switch, else the user's preference, else Chinese."""
    chosen = session.get(SESSION_KEY)
    if chosen in LOCALES:
        return str(chosen)
    user = signed_in()
    if user is not None and user.actor.language in LOCALES:
        return str(user.actor.language)
    return DEFAULT_LANGUAGE


def signed_in() -> Any:
    """The signed-in user, or None (also when the database cannot tell just now)."""
    from web.errors import DATABASE_DOWN

    try:
        user = current_user._get_current_object()
    except DATABASE_DOWN:
        return None
    return user if user is not None and user.is_authenticated else None


def select_locale() -> str:
    return LOCALES[language()]
