"""scopes for every operation, exam grants, log-in failures per username and address, audit source address

- ``exam_grants``: a school admin gives a teacher (the exam's subject leader) the right to change an exam's key.
- ``login_attempts``: failed log-ins per username (known or not) and per client address; the lock moves here
  from ``users.failed_logins`` / ``users.locked_until`` (locks in force are carried over).
- ``audit_log.address``: the client address of every entry (NULL for entries made before, and by the CLI).
- API keys: a municipal key holding every scope of the old vocabulary gets every scope of the new one (the new
  scopes split what the old ones left unchecked); other keys keep exactly what they hold, and an empty list now
  means no scope at all (it used to mean every scope).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 13:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_OLD_MUNICIPAL = ("schools:write", "exams:write", "aggregates:read", "scores:export", "users:write")
_NEW_MUNICIPAL = ("schools:read", "schools:write", "roster:read", "roster:write", "users:read", "users:write",
                  "keys:read", "keys:write", "exams:read", "exams:write", "exams:grade", "review:read",
                  "results:read", "scores:export", "aggregates:read", "audit:read")


def upgrade() -> None:
    op.create_table('login_attempts',
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kind', 'key')
    )
    op.create_table('exam_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('right', sa.String(length=20), nullable=False),
    sa.Column('granted_by', sa.String(length=120), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exam_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exam_grants_exam_id'), ['exam_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exam_grants_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exam_grants_user_id'), ['user_id'], unique=False)
    # ALTER TABLE ADD COLUMN, never a batch copy: a copied audit_log would lose its append-only triggers
    op.add_column('audit_log', sa.Column('address', sa.String(length=64), nullable=True))

    bind = op.get_bind()
    op.execute('INSERT INTO login_attempts (kind, "key", failures, window_start, locked_until) '
               "SELECT 'username', username, 0, locked_until, locked_until FROM users WHERE locked_until IS NOT NULL")
    op.drop_column('users', 'locked_until')
    op.drop_column('users', 'failed_logins')
    _rescope(bind, _OLD_MUNICIPAL, _NEW_MUNICIPAL)


def _rescope(bind, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    keys = sa.table('api_keys', sa.column('id', sa.Integer), sa.column('role', sa.String),
                    sa.column('scopes', sa.JSON))
    for key_id, scopes in bind.execute(sa.select(keys.c.id, keys.c.scopes).where(keys.c.role == 'municipal')):
        if set(scopes or ()) == set(old):
            bind.execute(keys.update().where(keys.c.id == key_id).values(scopes=list(new)))


def downgrade() -> None:
    _rescope(op.get_bind(), _NEW_MUNICIPAL, _OLD_MUNICIPAL)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.drop_column('audit_log', 'address')
    with op.batch_alter_table('exam_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exam_grants_user_id'))
        batch_op.drop_index(batch_op.f('ix_exam_grants_school_id'))
        batch_op.drop_index(batch_op.f('ix_exam_grants_exam_id'))
    op.drop_table('exam_grants')
    op.drop_table('login_attempts')
