"""Adapters to the outside world: SMTP mail and an HTTP SMS gateway."""
