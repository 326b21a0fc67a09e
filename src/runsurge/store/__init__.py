"""Durable coordinator state: SQLAlchemy models, migrations, queries and the blob store."""
