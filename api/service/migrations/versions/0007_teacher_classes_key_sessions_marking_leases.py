"""Teachers' classes, key sessions, marking leases and pooled city marking

- ``teacher_classes``: the classes a teacher teaches (their class views and downloads);
- ``key_sessions``: browser sessions opened with an API key (the cookie holds the session, not the key);
- ``marking_tasks.lease_until``: a task in hand returns to the pool when its lease runs out;
- ``marking_setups.pooled``: a city's pooled marking of one question across its schools (联考).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 17:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('teacher_classes',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'class_id')
    )
    op.create_index('ix_teacher_classes_class_id', 'teacher_classes', ['class_id'], unique=False)
    op.create_table('key_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_key_sessions_key_id', 'key_sessions', ['key_id'], unique=False)
    # Plain ADD COLUMN (no table rebuild: SQLite could not drop a table other tables' rows refer to).
    op.add_column('marking_tasks', sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('marking_setups', sa.Column('pooled', sa.Boolean(), server_default=sa.text('false'),
                                              nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('marking_setups') as batch:
        batch.drop_column('pooled')
    with op.batch_alter_table('marking_tasks') as batch:
        batch.drop_column('lease_until')
    op.drop_index('ix_key_sessions_key_id', table_name='key_sessions')
    op.drop_table('key_sessions')
    op.drop_index('ix_teacher_classes_class_id', table_name='teacher_classes')
    op.drop_table('teacher_classes')
