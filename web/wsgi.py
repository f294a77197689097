"""The WSGI target at the process edge (`gunicorn web.wsgi:app`): the one module-level app."""

from web.app import create_app

app = create_app()
