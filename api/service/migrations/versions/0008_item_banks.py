"""Item banks

- ``item_banks``: each school's current item bank (题库), a blob named by its SHA-256, for the 错题本 downloads.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('item_banks',
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], ),
    sa.ForeignKeyConstraint(['sha256'], ['blobs.sha256'], ),
    sa.PrimaryKeyConstraint('school_id')
    )


def downgrade() -> None:
    op.drop_table('item_banks')
