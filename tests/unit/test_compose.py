"""The docker-compose file's structure (no Docker engine runs here to try it)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
CARNATION_PROCESSES = ("web", "worker", "beat")


def test_every_part_of_a_deployment_is_there() -> None:
    assert set(SERVICES) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
        "flower",
        "mailpit",
    }


def test_the_processes_wait_for_healthy_services_and_a_finished_migration() -> None:
    for name in CARNATION_PROCESSES:
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert SERVICES["migrate"]["command"] == ["carnation", "db", "upgrade"]
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_services_others_wait_for_have_healthchecks() -> None:
    for name in ("postgres", "redis", "web", "worker", "mailpit"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_the_processes_run_the_carnation_commands_from_one_image() -> None:
    commands = {name: SERVICES[name]["command"][:2] for name in CARNATION_PROCESSES}
    assert commands == {
        "web": ["carnation", "web"],
        "worker": ["carnation", "worker"],
        "beat": ["carnation", "beat"],
    }
    images = {SERVICES[name]["image"] for name in (*CARNATION_PROCESSES, "migrate")}
    assert images == {"carnation:latest"}
    assert (ROOT / "Dockerfile").exists()


def test_workers_scale_because_nothing_pins_their_name_or_port() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_flower_and_mailpit_stay_on_the_internal_interface() -> None:
    for name in ("flower", "mailpit"):
        for mapping in SERVICES[name].get("ports", []):
            assert mapping.startswith("127.0.0.1:"), mapping


def test_the_example_env_file_names_every_setting_the_processes_need() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = {
        line.split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    for required in (
        "CARNATION_DATABASE_URL",
        "CARNATION_BROKER_URL",
        "CARNATION_SECRET_KEY",
        "CARNATION_ENCRYPTION_KEYS",
        "CARNATION_SMTP_URL",
    ):
        assert required in names
    assert all(SERVICES[name]["env_file"] == ".env" for name in (*CARNATION_PROCESSES, "migrate"))
