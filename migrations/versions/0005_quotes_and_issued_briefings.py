"""Quotes reviewed from free-text answers, with their decisions; briefings as issued.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('issued_briefings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('reference_wave_id', sa.Integer(), nullable=False),
    sa.Column('current_wave_id', sa.Integer(), nullable=False),
    sa.Column('baseline_wave_id', sa.Integer(), nullable=True),
    sa.Column('foreword', sa.Text(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data_version', sa.String(length=64), nullable=False),
    sa.Column('verdicts', sa.JSON(), nullable=False),
    sa.Column('headline', sa.Text(), nullable=False),
    sa.Column('issued_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_by_email', sa.String(length=254), nullable=True),
    sa.ForeignKeyConstraint(['baseline_wave_id'], ['waves.id'], name=op.f('fk_issued_briefings_baseline_wave_id_waves')),
    sa.ForeignKeyConstraint(['current_wave_id'], ['waves.id'], name=op.f('fk_issued_briefings_current_wave_id_waves')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_issued_briefings_issued_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_issued_briefings_place_id_places')),
    sa.ForeignKeyConstraint(['reference_wave_id'], ['waves.id'], name=op.f('fk_issued_briefings_reference_wave_id_waves')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_issued_briefings_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_briefings'))
    )
    with op.batch_alter_table('issued_briefings', schema=None) as batch_op:
        batch_op.create_index('ix_issued_briefings_survey_id_issued_at', ['survey_id', 'issued_at'], unique=False)

    op.create_table('quotes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=40), nullable=False),
    sa.Column('original', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('in_briefings', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_quotes_response_id_responses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_quotes_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes')),
    sa.UniqueConstraint('response_id', 'item_code', name=op.f('uq_quotes_response_id'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quotes_wave_id'), ['wave_id'], unique=False)

    op.create_table('quote_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quote_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_email', sa.String(length=254), nullable=True),
    sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_quote_decisions_quote_id_quotes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_quote_decisions_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_decisions'))
    )
    with op.batch_alter_table('quote_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quote_decisions_quote_id'), ['quote_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('quote_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quote_decisions_quote_id'))

    op.drop_table('quote_decisions')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quotes_wave_id'))

    op.drop_table('quotes')
    with op.batch_alter_table('issued_briefings', schema=None) as batch_op:
        batch_op.drop_index('ix_issued_briefings_survey_id_issued_at')

    op.drop_table('issued_briefings')
