"""The WSGI target at the process edge (`gunicorn web.wsgi:app`): the one module-level app."""

import gc

from web.app import create_app

app = create_app()
# What the app holds from now on lives as long as the process: keep it out of the
# collector's scans (each request's garbage is collected as before).
gc.freeze()
