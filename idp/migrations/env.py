"""Alembic environment: the URL comes from the settings (see federation.migrations)."""

from alembic import context

from federation.database import make_engine
from idp.storage import registry_models, self_service_models  # noqa: F401 - registers their tables
from idp.storage.models import AccountRow

config = context.config
engine = make_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=AccountRow.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
