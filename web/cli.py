"""The `carnation` command line: database, stations, users, calendar, workflow, processes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml
from sqlalchemy.exc import SQLAlchemyError

from config.settings import SettingsError, load_settings
from workflow.definition import DefinitionError, load_definition
from workflow.errors import CarnationError
from workflow.runtime import Runtime, bootstrap

F = TypeVar("F", bound=Callable[..., Any])


class CliFailure(Exception):
    """A one-line reason to stop with exit status 1."""


def _fields_line(error: CarnationError) -> str:
    fields = (error.details or {}).get("fields")
    if fields:
        return "; ".join(f"{name}: {why}" for name, why in fields.items())
    return error.message


def one_line_errors(func: F) -> F:
    """Turn every expected failure into one line on stderr and a non-zero exit, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CliFailure as exc:
            click.echo(f"error: {exc}", err=True)
        except SettingsError as exc:
            click.echo(f"error: {exc}", err=True)
        except CarnationError as exc:
            click.echo(f"error: {_fields_line(exc)}", err=True)
        except DefinitionError as exc:
            click.echo(f"error: {exc}", err=True)
        except SQLAlchemyError as exc:
            reason = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
            hint = ""
            if "no such table" in reason or "does not exist" in reason:
                hint = " (did you run `carnation db upgrade`?)"
            click.echo(f"error: database: {reason}{hint}", err=True)
        except BrokenPipeError:
            # `carnation calendar show 2027 | head`: the reader left; not a failure.
            sys.stderr.close()
            sys.exit(0)
        except OSError as exc:
            click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(1)

    return wrapper  # type: ignore[return-value]


def make_runtime() -> Runtime:
    return bootstrap(load_settings())


@contextmanager
def transaction(rt: Runtime) -> Iterator[Any]:
    with rt.sessions() as session, session.begin():
        yield session


@click.group(help="Carnation (康乃馨): rights-protection case workflow engine.")
def main() -> None:
    """Entry point of the `carnation` console script."""


# -- database -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    from workflow.storage.migrate import upgrade

    rt = make_runtime()
    upgrade(rt.engine)
    with transaction(rt) as session:
        key = rt.active_workflow(session).definition.key
    click.echo(f"database at the latest schema; active workflow {key}")


# -- stations and users --------------------------------------------------------------------


@main.group()
def station() -> None:
    """Service stations and court panels."""


@station.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(["district", "town", "village", "court"]))
@click.option("--parent", "parent", default=None)
@one_line_errors
def station_create(code: str, name: str, kind: str, parent: str | None) -> None:
    """Add a station (village → town → district) or a court panel."""
    from workflow.services.admin import create_station

    rt = make_runtime()
    with transaction(rt) as session:
        created = create_station(session, code, name, kind, parent)
        click.echo(f"station {created.code} ({created.kind}) created")


@main.group()
def user() -> None:
    """User accounts."""


def _password(given: str | None) -> str:
    password = given or os.environ.get("CARNATION_PASSWORD")
    if not password:
        raise CliFailure("give a password with --password or CARNATION_PASSWORD")
    return password


@user.command("create")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["caseworker", "volunteer", "supervisor", "court_liaison", "admin"]),
)
@click.option("--station", "station_code", required=True)
@click.option("--password", default=None)
@click.option("--email", default=None)
@click.option("--phone", default=None)
@click.option("--language", default="zh", type=click.Choice(["zh", "en"]))
@one_line_errors
def user_create(
    username: str,
    role: str,
    station_code: str,
    password: str | None,
    email: str | None,
    phone: str | None,
    language: str,
) -> None:
    """Add a user."""
    from workflow.services.admin import create_user

    secret = _password(password)
    rt = make_runtime()
    with transaction(rt) as session:
        created = create_user(
            session, rt, username, role, station_code, secret, email, phone, language
        )
        click.echo(f"user {created.username} ({created.role}) created, id {created.id}")


@user.command("deactivate")
@click.argument("username")
@one_line_errors
def user_deactivate(username: str) -> None:
    """Disable an account; its tokens stop working."""
    from workflow.services.admin import deactivate_user

    rt = make_runtime()
    with transaction(rt) as session:
        deactivate_user(session, rt, username)
    click.echo(f"user {username} deactivated")


@user.command("set-password")
@click.argument("username")
@click.option("--password", default=None)
@one_line_errors
def user_set_password(username: str, password: str | None) -> None:
    """Reset a password (from --password or CARNATION_PASSWORD)."""
    from workflow.services.admin import set_password

    secret = _password(password)
    rt = make_runtime()
    with transaction(rt) as session:
        set_password(session, rt, username, secret)
    click.echo(f"password of {username} changed; its tokens were revoked")


# -- calendar -------------------------------------------------------------------------------


def read_schedule(path: Path) -> tuple[int, list[tuple[date, str, str]]]:
    """A year's schedule file (YAML or JSON): ``{year, days: [{date, kind, name}]}``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CliFailure(f"{path}: not YAML/JSON: {str(exc).splitlines()[0]}") from None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("year"), int)
        or not isinstance(raw.get("days"), list)
    ):
        raise CliFailure(f"{path}: expected {{year: YYYY, days: [{{date, kind, name}}, ...]}}")
    year = raw["year"]
    days = []
    for index, item in enumerate(raw["days"]):
        where = f"{path}: days[{index}]"
        if not isinstance(item, dict):
            raise CliFailure(f"{where}: expected {{date, kind, name}}")
        day = item.get("date")
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError:
                raise CliFailure(f"{where}: date {day!r} is not YYYY-MM-DD") from None
        if not isinstance(day, date):
            raise CliFailure(f"{where}: date missing")
        if day.year != year:
            raise CliFailure(f"{where}: {day} is not in {year}")
        kind = item.get("kind")
        if kind not in ("rest", "work"):
            raise CliFailure(f"{where}: kind must be rest or work")
        days.append((day, kind, str(item.get("name") or "")))
    return year, days


@main.group()
def calendar() -> None:
    """The holiday calendar."""


@calendar.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@one_line_errors
def calendar_load(file: Path) -> None:
    """Add or correct a year's official schedule; open clocks are recomputed."""
    from workflow.services.admin import set_calendar_days

    year, days = read_schedule(file)
    rt = make_runtime()
    with transaction(rt) as session:
        moved = set_calendar_days(rt, session, days, official_year=year)
    click.echo(f"{year}: {len(days)} days loaded; {moved} open deadline(s) recomputed")


@calendar.command("show")
@click.argument("year", type=int)
@one_line_errors
def calendar_show(year: int) -> None:
    """Print a year's rest days and adjusted working days."""
    if not 1900 <= year <= 2200:
        raise CliFailure("year must lie between 1900 and 2200")
    rt = make_runtime()
    with transaction(rt) as session:
        view = rt.calendar(session).year_view(year)
    click.echo(f"{year} ({view.status})")
    for day, name in view.rest_days:
        click.echo(f"  rest {day.isoformat()} {name}")
    for day, name in view.working_days:
        click.echo(f"  work {day.isoformat()} {name}")


# -- workflow -----------------------------------------------------------------------------------


@main.group()
def workflow() -> None:
    """Workflow definitions."""


@workflow.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def workflow_check(file: Path) -> None:
    """Validate a definition; exit 1 with each problem and its place."""
    try:
        definition = load_definition(file)
    except DefinitionError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {file}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(
        f"{file}: ok ({definition.key}: {len(definition.states)} states, "
        f"{len(definition.events)} events, {len(definition.clocks)} clocks)"
    )


@workflow.command("activate")
@click.argument("file", type=click.Path(path_type=Path))
@one_line_errors
def workflow_activate(file: Path) -> None:
    """Make a definition the active one: new cases follow it, open cases keep theirs."""
    from workflow.services.admin import activate_workflow

    rt = make_runtime()
    try:
        with transaction(rt) as session:
            key = activate_workflow(rt, session, file)
    except ValueError as exc:
        raise CliFailure(str(exc)) from None
    click.echo(f"{key} is now the active workflow")


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# -- processes ----------------------------------------------------------------------------------


def _configure_logging(level: str) -> None:
    from config.logging import configure_logging

    configure_logging(level)


@main.command("serve")
@click.option("--port", default=5000, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1")
@one_line_errors
def serve_command(port: int, host: str) -> None:
    """Everything on one machine: console and API, a Celery worker, the relay and the scheduler."""
    from tasks.processes import serve

    settings = load_settings()
    _configure_logging("INFO")
    click.echo(
        f"Carnation on http://{host}:{port}/  (database: {settings.database_url.split('://')[0]}, "
        f"broker: {settings.broker_url.split('://')[0] if settings.broker_url else 'embedded'})"
    )
    serve(settings, host, port)


def _require_broker() -> Any:
    settings = load_settings()
    if not settings.broker_url:
        raise CliFailure(
            "CARNATION_BROKER_URL is required: the embedded broker is in-process only "
            "(use `carnation serve` for one machine)"
        )
    return settings


@main.command("worker")
@click.option("--concurrency", default=2, type=click.IntRange(1, 64))
@click.option("--loglevel", default="INFO")
@one_line_errors
def worker_command(concurrency: int, loglevel: str) -> None:
    """A Celery worker (with the outbox relay) on CARNATION_BROKER_URL."""
    from tasks.processes import run_worker

    settings = _require_broker()
    _configure_logging(loglevel)
    run_worker(settings, concurrency, loglevel)


@main.command("beat")
@click.option("--loglevel", default="INFO")
@one_line_errors
def beat_command(loglevel: str) -> None:
    """The scheduler: the deadline sweep every CARNATION_SWEEP_SECONDS."""
    from tasks.processes import run_beat

    settings = _require_broker()
    _configure_logging(loglevel)
    run_beat(settings, loglevel)


@main.command("web")
@click.option("--port", default=5000, type=click.IntRange(1, 65535))
@click.option("--host", default="0.0.0.0")
@click.option("--workers", default=2, type=click.IntRange(1, 64))
@click.option("--threads", type=click.IntRange(1, 64), help="Threads per worker (default 2).")
@one_line_errors
def web_command(port: int, host: str, workers: int, threads: int | None) -> None:
    """The console and API under gunicorn."""
    from tasks.processes import WEB_THREADS, run_web

    settings = load_settings()
    _configure_logging("INFO")
    run_web(settings, host, port, workers, threads or WEB_THREADS)


if __name__ == "__main__":
    main()


# -- demo data ----------------------------------------------------------------------------------


@main.command("demo-data")
@click.option("--cases", default=200, type=click.IntRange(0, 2000), help="how many cases")
@one_line_errors
def demo_data_command(cases: int) -> None:
    """A demo network, users of every role and cases in every state; safe to run twice."""
    import time as timing
    from datetime import UTC, datetime

    from workflow.clock import MovableClock
    from workflow.services.demo import DEFAULT_PASSWORD, load_demo

    password = os.environ.get("CARNATION_DEMO_PASSWORD") or DEFAULT_PASSWORD
    settings = load_settings()
    # The demo walks a movable clock from about ninety days ago to now through the real
    # services; the runtime is built around that clock (make_runtime uses the wall clock).
    rt = bootstrap(settings, clock=MovableClock(datetime.now(UTC)))
    began = timing.monotonic()
    summary = load_demo(rt, cases=cases, password=password)
    if summary.created:
        click.echo(f"demo network created in {timing.monotonic() - began:.1f} s")
    else:
        click.echo("demo network already present (station D01 exists): nothing added")
    stations = ", ".join(f"{count} {kind}" for kind, count in summary.stations.items())
    users = ", ".join(f"{count} {role}" for role, count in summary.users.items())
    states = ", ".join(f"{state} {count}" for state, count in summary.states.items())
    click.echo(f"stations: {stations}")
    click.echo(f"users:    {users}")
    click.echo(f"cases:    {summary.cases} ({states})")
    click.echo(f"overdue:  {summary.overdue} cases; escalated: {summary.escalated} cases")
    if summary.pending_outbox:
        click.echo(
            f"outbox:   {summary.pending_outbox} notifications pending: "
            "the first `carnation serve` (or worker) delivers them"
        )
    for refusal in summary.refused:
        click.echo(f"note: a planned step was refused: {refusal}")
    if settings.sms_gateway_url:
        click.echo(
            "warning: an SMS gateway is configured; demo complainants have generated phone "
            "numbers that may belong to real subscribers",
            err=True,
        )
    shown = (
        "carnation-demo" if password == DEFAULT_PASSWORD else "the value of CARNATION_DEMO_PASSWORD"
    )
    if not summary.created:
        shown = f"as when the demo was made; by default {DEFAULT_PASSWORD}"
    click.echo(f"\nlogins (password: {shown}):")
    click.echo(f"  {'username':<16} {'role':<14} {'station':<8} {'lang':<5} email / station name")
    for login in summary.logins:
        extra = login.email or login.station_name
        click.echo(
            f"  {login.username:<16} {login.role:<14} {login.station:<8} "
            f"{login.language:<5} {extra}"
        )
