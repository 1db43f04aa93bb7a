"""Alembic migrations: they own the database schema (`salesbot db upgrade`)."""
