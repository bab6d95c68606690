"""Alembic migrations of the history database (run at start-up by storage.engine.migrate)."""
