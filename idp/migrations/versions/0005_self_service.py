"""self-service: confirmed e-mail addresses, single-use links, audited client address, reported child links

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_emails',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    with op.batch_alter_table('account_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_emails_address'), ['address'], unique=False)

    op.create_table('self_service_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('self_service_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_self_service_tokens_account_purpose', ['account_id', 'purpose'], unique=False)

    with op.batch_alter_table('registry_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_address', sa.String(length=64), nullable=True))

    with op.batch_alter_table('child_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('child_links', schema=None) as batch_op:
        batch_op.drop_column('reported_at')
    with op.batch_alter_table('registry_audit', schema=None) as batch_op:
        batch_op.drop_column('client_address')
    with op.batch_alter_table('self_service_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_self_service_tokens_account_purpose')
    op.drop_table('self_service_tokens')
    with op.batch_alter_table('account_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_emails_address'))
    op.drop_table('account_emails')
