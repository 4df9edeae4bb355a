"""académie references of the legal representatives (FrEduCtRefId)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('legal_representatives', schema=None) as batch_op:
        batch_op.add_column(sa.Column('academie', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('aaf_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('legal_representatives', schema=None) as batch_op:
        batch_op.drop_column('aaf_id')
        batch_op.drop_column('academie')
