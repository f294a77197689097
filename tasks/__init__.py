"""Celery entry points: the app factory, the tasks, the outbox relay and the processes."""
