"""The IdP's durable data (SQLAlchemy 2, Alembic migrations under idp/migrations)."""
