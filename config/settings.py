"""The frozen settings object, built once from the CARNATION_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WORKFLOWS_DIR = Path(__file__).resolve().parent / "workflows"
DEFAULT_WORKFLOW_FILE = WORKFLOWS_DIR / "rights-protection.yaml"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    encryption_keys: tuple[str, ...]
    broker_url: str | None = None
    base_url: str = "http://localhost:5000"
    smtp_url: str | None = None
    smtp_from: str = "carnation@localhost"
    sms_gateway_url: str | None = None
    timezone: str = "Asia/Shanghai"
    sweep_seconds: float = 60.0
    token_hours: float = 12.0
    # How long a relay's hand-out of an outbox row lasts before it is handed out again
    # (a worker killed mid-task): above the longest task, short enough to recover fast.
    outbox_lease_seconds: float = 60.0
    instance_dir: Path = Path("instance")
    workflow_file: Path = DEFAULT_WORKFLOW_FILE
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _read_or_create_key(path: Path, make: Callable[[], str]) -> str:
    """Return the key stored at ``path``, creating it once (embedded default only)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value: str = make()
    # Exclusive create: two processes starting together must not write two keys.
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(value + "\n")
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    return value


def _new_encryption_key() -> str:
    # A key id (so values name the key they were sealed with) and 32 random bytes.
    return f"k{secrets.token_hex(3)}:{secrets.token_urlsafe(32)}"


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    instance_dir = Path(env.get("CARNATION_INSTANCE_DIR") or "instance").resolve()
    database_url = env.get("CARNATION_DATABASE_URL") or ""
    embedded = not database_url
    if embedded:
        instance_dir.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance_dir / 'carnation.sqlite3'}"
    is_sqlite_file = database_url.startswith("sqlite")

    secret_key = env.get("CARNATION_SECRET_KEY") or ""
    raw_keys = env.get("CARNATION_ENCRYPTION_KEYS") or ""
    if not secret_key:
        if not is_sqlite_file:
            raise SettingsError("CARNATION_SECRET_KEY is required with a non-SQLite database")
        secret_key = _read_or_create_key(instance_dir / "secret_key", lambda: secrets.token_hex(32))
    if not raw_keys:
        if not is_sqlite_file:
            raise SettingsError("CARNATION_ENCRYPTION_KEYS is required with a non-SQLite database")
        raw_keys = _read_or_create_key(instance_dir / "encryption_keys", _new_encryption_key)
    encryption_keys = tuple(key.strip() for key in raw_keys.split(",") if key.strip())

    timezone = env.get("CARNATION_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"CARNATION_TIMEZONE is not a known time zone: {timezone!r}") from None

    workflow_file = Path(env.get("CARNATION_WORKFLOW_FILE") or DEFAULT_WORKFLOW_FILE)
    return Settings(
        database_url=database_url,
        secret_key=secret_key,
        encryption_keys=encryption_keys,
        broker_url=env.get("CARNATION_BROKER_URL") or None,
        base_url=(env.get("CARNATION_BASE_URL") or "http://localhost:5000").rstrip("/"),
        smtp_url=env.get("CARNATION_SMTP_URL") or None,
        smtp_from=env.get("CARNATION_SMTP_FROM") or "carnation@localhost",
        sms_gateway_url=env.get("CARNATION_SMS_GATEWAY_URL") or None,
        timezone=timezone,
        sweep_seconds=_positive_float(env, "CARNATION_SWEEP_SECONDS", 60.0),
        token_hours=_positive_float(env, "CARNATION_TOKEN_HOURS", 12.0),
        outbox_lease_seconds=_positive_float(env, "CARNATION_OUTBOX_LEASE_SECONDS", 60.0),
        instance_dir=instance_dir,
        workflow_file=workflow_file,
    )
