"""Carnation's web entry point: the Flask app factory (`web.app.create_app`) and its API."""
