"""The process edge for `celery -A tasks.worker ...` (inspect, ping): the only module-level app."""

from __future__ import annotations

from config.settings import load_settings
from tasks.app import create_celery

app = create_celery(load_settings())
