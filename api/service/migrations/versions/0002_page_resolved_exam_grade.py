"""unreadable pages can be resolved; exams name the grade (年级) that sits them

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('exams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grade', sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exams', schema=None) as batch_op:
        batch_op.drop_column('grade')
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('resolved')
