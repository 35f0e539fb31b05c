"""网上阅卷: marking set-ups per written question, their markers, the answers to mark and the marking tasks

- ``marking_setups``: one school's marking of one subjective question of an exam (its template regions, full
  marks, score step, 双评 and 误差阈值, final-score rule, 自评 share, leader);
- ``marking_markers``: the markers of a set-up;
- ``marking_items``: one sheet's answer to a set-up's question, its state and final score, its cached crop;
- ``marking_tasks``: one score asked of one marker (first, third, ruling, self), by an opaque token.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('marking_setups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=32), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('full_marks', sa.Float(), nullable=False),
    sa.Column('step', sa.Float(), nullable=False),
    sa.Column('double', sa.Boolean(), nullable=False),
    sa.Column('tolerance', sa.Float(), nullable=False),
    sa.Column('final_rule', sa.String(length=20), nullable=False),
    sa.Column('self_check_rate', sa.Float(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], ),
    sa.ForeignKeyConstraint(['leader_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('school_id', 'exam_id', 'question')
    )
    op.create_index('ix_marking_setups_exam_id', 'marking_setups', ['exam_id'], unique=False)
    op.create_index('ix_marking_setups_school_id', 'marking_setups', ['school_id'], unique=False)
    op.create_table('marking_markers',
    sa.Column('setup_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['setup_id'], ['marking_setups.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('setup_id', 'user_id')
    )
    op.create_index('ix_marking_markers_user_id', 'marking_markers', ['user_id'], unique=False)
    op.create_table('marking_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('setup_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('final_score', sa.Float(), nullable=True),
    sa.Column('final_how', sa.String(length=30), nullable=True),
    sa.Column('crop_sha256', sa.String(length=64), nullable=True),
    sa.Column('finalised_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['crop_sha256'], ['blobs.sha256'], ),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], ),
    sa.ForeignKeyConstraint(['setup_id'], ['marking_setups.id'], ),
    sa.ForeignKeyConstraint(['sheet_id'], ['sheets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('setup_id', 'sheet_id')
    )
    op.create_index('ix_marking_items_school_id', 'marking_items', ['school_id'], unique=False)
    op.create_index('ix_marking_items_sheet_id', 'marking_items', ['sheet_id'], unique=False)
    op.create_table('marking_tasks',
    sa.Column('id', _BIG_ID, nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('setup_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('marker_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('problem', sa.String(length=20), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['marking_items.id'], ),
    sa.ForeignKeyConstraint(['marker_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], ),
    sa.ForeignKeyConstraint(['setup_id'], ['marking_setups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'marker_id', 'kind'),
    sa.UniqueConstraint('token')
    )
    op.create_index('ix_marking_tasks_item_id', 'marking_tasks', ['item_id'], unique=False)
    op.create_index('ix_marking_tasks_claim', 'marking_tasks', ['setup_id', 'kind', 'status', 'marker_id'],
                    unique=False)
    op.create_index('ix_marking_tasks_marker', 'marking_tasks', ['marker_id', 'status', 'scored_at'], unique=False)


def downgrade() -> None:
    op.drop_table('marking_tasks')
    op.drop_table('marking_items')
    op.drop_table('marking_markers')
    op.drop_table('marking_setups')
