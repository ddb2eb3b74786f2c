"""Accounts and places, with the standard list of sectors.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import core.db


# The standard sector list from DESIGN.md; admins can edit it afterwards.
STANDARD_SECTORS = [
    "Voluntary and community",
    "Local authority",
    "Health and care",
    "Funder",
    "Business",
    "Faith",
    "Mutual aid / community group",
    "Education",
    "Police and fire",
    "Housing",
    "Other",
]

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('places',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_places')),
    sa.UniqueConstraint('name', name=op.f('uq_places_name'))
    )
    op.create_table('sectors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sectors')),
    sa.UniqueConstraint('name', name=op.f('uq_sectors_name'))
    )
    op.bulk_insert(
        sa.table("sectors", sa.column("name", sa.String), sa.column("position", sa.Integer)),
        [{"name": name, "position": i} for i, name in enumerate(STANDARD_SECTORS, start=1)],
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_token', sa.String(length=32), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sector_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_organisations_place_id_places')),
    sa.ForeignKeyConstraint(['sector_id'], ['sectors.id'], name=op.f('fk_organisations_sector_id_sectors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('place_id', 'name', name=op.f('uq_organisations_place_id'))
    )
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisations_place_id'), ['place_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_organisations_sector_id'), ['sector_id'], unique=False)

    op.create_table('set_password_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_set_password_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_set_password_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_set_password_tokens_token_hash'))
    )
    with op.batch_alter_table('set_password_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_set_password_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('user_places',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_user_places_place_id_places'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_places_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'place_id', name=op.f('pk_user_places'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('user_places')
    with op.batch_alter_table('set_password_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_set_password_tokens_user_id'))

    op.drop_table('set_password_tokens')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisations_sector_id'))
        batch_op.drop_index(batch_op.f('ix_organisations_place_id'))

    op.drop_table('organisations')
    op.drop_table('users')
    op.drop_table('sectors')
    op.drop_table('places')
