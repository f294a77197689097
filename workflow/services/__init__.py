"""The service layer: what the entry points (web, tasks, CLI) call."""
