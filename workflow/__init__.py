"""Carnation's domain: definitions, the state machine, clocks, the calendar and the services."""
