"""Storage adapters: SQLAlchemy models, the engine factory and migrations."""
