"""scanner profiles per school and scanner station, versioned; batches remember their station and profile

- ``scanner_profiles``: versions of a school's (or one station's) OMR decision profile, never changed once
  stored; at most one active per school/station (a partial unique index).
- ``batches.station_key_id`` (the station key that uploaded it) and ``batches.profile_id`` (the profile its files
  are read with, chosen at upload).
- API keys: a municipal key holding every scope of 0004's vocabulary also gets ``profiles:read``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 15:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_MUNICIPAL_0004 = ("schools:read", "schools:write", "roster:read", "roster:write", "users:read", "users:write",
                   "keys:read", "keys:write", "exams:read", "exams:write", "exams:grade", "review:read",
                   "results:read", "scores:export", "aggregates:read", "audit:read")
_MUNICIPAL_0005 = _MUNICIPAL_0004 + ("profiles:read",)


def upgrade() -> None:
    op.create_table('scanner_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('station_key_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=24), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_by', sa.String(length=120), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], ),
    sa.ForeignKeyConstraint(['station_key_id'], ['api_keys.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('school_id', 'target', 'version')
    )
    with op.batch_alter_table('scanner_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scanner_profiles_school_id'), ['school_id'], unique=False)
        batch_op.create_index('uq_scanner_profiles_active', ['school_id', 'target'], unique=True,
                              sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('station_key_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('profile_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_batches_station_key_id', 'api_keys', ['station_key_id'], ['id'])
        batch_op.create_foreign_key('fk_batches_profile_id', 'scanner_profiles', ['profile_id'], ['id'])
    _rescope(op.get_bind(), _MUNICIPAL_0004, _MUNICIPAL_0005)


def _rescope(bind, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    keys = sa.table('api_keys', sa.column('id', sa.Integer), sa.column('role', sa.String),
                    sa.column('scopes', sa.JSON))
    for key_id, scopes in bind.execute(sa.select(keys.c.id, keys.c.scopes).where(keys.c.role == 'municipal')):
        if set(scopes or ()) == set(old):
            bind.execute(keys.update().where(keys.c.id == key_id).values(scopes=list(new)))


def downgrade() -> None:
    _rescope(op.get_bind(), _MUNICIPAL_0005, _MUNICIPAL_0004)
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_constraint('fk_batches_profile_id', type_='foreignkey')
        batch_op.drop_constraint('fk_batches_station_key_id', type_='foreignkey')
        batch_op.drop_column('profile_id')
        batch_op.drop_column('station_key_id')
    with op.batch_alter_table('scanner_profiles', schema=None) as batch_op:
        batch_op.drop_index('uq_scanner_profiles_active', sqlite_where=sa.text('active'),
                            postgresql_where=sa.text('active'))
        batch_op.drop_index(batch_op.f('ix_scanner_profiles_school_id'))
    op.drop_table('scanner_profiles')
