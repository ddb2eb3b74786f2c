"""Respondent settings: "Don't know" on agreement questions, and the sectors the trust matrix asks about.

Existing surveys and waves keep going without "Don't know" (their data and questions do
not change); surveys made from now on offer it unless the coordinator turns it off.

Revision ID: 0008r
Revises: 0007
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008r'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_dont_know', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('trust_sector_ids', sa.JSON(), nullable=True))
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_dont_know', sa.Boolean(), nullable=True))
    # Waves that exist now keep the questions they had: no "Don't know".
    op.execute(sa.text("UPDATE waves SET offer_dont_know = :off").bindparams(off=False))


def downgrade() -> None:
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.drop_column('offer_dont_know')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('trust_sector_ids')
        batch_op.drop_column('offer_dont_know')
