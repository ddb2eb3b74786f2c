"""Running a wave: schedules, reminders, reissued and revoked links, privacy contact, remembered import mapping.

Revision ID: 0008i
Revises: 0007
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import core.db


revision: str = '0008i'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('replaced_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('replaced_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_replaced_links_invitation_id_invitations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replaced_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_replaced_links_token_hash'))
    )
    with op.batch_alter_table('replaced_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replaced_links_invitation_id'), ['invitation_id'], unique=False)

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_nonce', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminders_sent', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_reminded_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminders_stopped_at', core.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grace_minutes', sa.Integer(), server_default='60', nullable=False))
        batch_op.add_column(sa.Column('reminders_automatic', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('reminder_delay_days', sa.Integer(), server_default='7', nullable=False))
        batch_op.add_column(sa.Column('reminder_limit', sa.Integer(), server_default='2', nullable=False))
        batch_op.add_column(sa.Column('erase_after_days', sa.Integer(), server_default='30', nullable=False))

    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), server_default='', nullable=False))
        batch_op.add_column(sa.Column('import_mapping', sa.JSON(), nullable=True))
    op.execute("UPDATE surveys SET import_mapping = '{}'")
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.alter_column('import_mapping', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('import_mapping')
        batch_op.drop_column('contact_email')

    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.drop_column('erase_after_days')
        batch_op.drop_column('reminder_limit')
        batch_op.drop_column('reminder_delay_days')
        batch_op.drop_column('reminders_automatic')
        batch_op.drop_column('grace_minutes')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('reminders_stopped_at')
        batch_op.drop_column('last_reminded_at')
        batch_op.drop_column('reminders_sent')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('token_nonce')

    with op.batch_alter_table('replaced_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replaced_links_invitation_id'))

    op.drop_table('replaced_links')
