"""Surveys: constructs, instruments and items, surveys, waves, invitations, drafts, responses.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('constructs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('group', sa.String(length=10), nullable=False),
    sa.Column('scale_min', sa.Integer(), nullable=False),
    sa.Column('scale_max', sa.Integer(), nullable=False),
    sa.Column('default_margin', sa.Float(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_constructs')),
    sa.UniqueConstraint('code', name=op.f('uq_constructs_code'))
    )
    op.create_table('instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('builtin', sa.Boolean(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('published_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['previous_id'], ['instruments.id'], name=op.f('fk_instruments_previous_id_instruments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruments')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_instruments_code'))
    )
    op.create_table('surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('run_by', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('anonymity', sa.String(length=20), nullable=False),
    sa.Column('k_internal', sa.Integer(), nullable=False),
    sa.Column('k_briefing', sa.Integer(), nullable=False),
    sa.Column('min_organisations', sa.Integer(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys'))
    )
    op.create_table('items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('section', sa.String(length=120), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('hint', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('construct_id', sa.Integer(), nullable=True),
    sa.Column('reverse', sa.Boolean(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('breaks_trend', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['construct_id'], ['constructs.id'], name=op.f('fk_items_construct_id_constructs')),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_items_instrument_id_instruments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_items')),
    sa.UniqueConstraint('instrument_id', 'code', name=op.f('uq_items_instrument_id'))
    )
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_items_instrument_id'), ['instrument_id'], unique=False)

    op.create_table('margin_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('construct_id', sa.Integer(), nullable=False),
    sa.Column('old_margin', sa.Float(), nullable=False),
    sa.Column('new_margin', sa.Float(), nullable=False),
    sa.Column('changed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_margin_changes_changed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['construct_id'], ['constructs.id'], name=op.f('fk_margin_changes_construct_id_constructs')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_margin_changes_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_margin_changes'))
    )
    with op.batch_alter_table('margin_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_margin_changes_survey_id'), ['survey_id'], unique=False)

    op.create_table('survey_margins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('construct_id', sa.Integer(), nullable=False),
    sa.Column('margin', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['construct_id'], ['constructs.id'], name=op.f('fk_survey_margins_construct_id_constructs')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_margins_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_margins')),
    sa.UniqueConstraint('survey_id', 'construct_id', name=op.f('uq_survey_margins_survey_id'))
    )
    op.create_table('survey_places',
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_survey_places_place_id_places'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_places_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('survey_id', 'place_id', name=op.f('pk_survey_places'))
    )
    op.create_table('waves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('opens_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closes_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('open_link_slug', sa.String(length=40), nullable=False),
    sa.Column('identities_erased_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_waves_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_waves_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waves')),
    sa.UniqueConstraint('open_link_slug', name=op.f('uq_waves_open_link_slug')),
    sa.UniqueConstraint('survey_id', 'number', name=op.f('uq_waves_survey_id'))
    )
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waves_survey_id'), ['survey_id'], unique=False)

    op.create_table('invitee_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_invitee_identities_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitee_identities'))
    )
    with op.batch_alter_table('invitee_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitee_identities_wave_id'), ['wave_id'], unique=False)

    op.create_table('responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('submitted_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sector_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('panel_key', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_responses_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_responses_place_id_places')),
    sa.ForeignKeyConstraint(['sector_id'], ['sectors.id'], name=op.f('fk_responses_sector_id_sectors')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_responses_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_responses_idempotency_key'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_wave_id_submitted_at', ['wave_id', 'submitted_at'], unique=False)

    op.create_table('answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=40), nullable=False),
    sa.Column('numeric_value', sa.Float(), nullable=True),
    sa.Column('text_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_answers_response_id_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers'))
    )
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answers_response_id'), ['response_id'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('sector_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.Column('panel_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['identity_id'], ['invitee_identities.id'], name=op.f('fk_invitations_identity_id_invitee_identities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_invitations_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_invitations_place_id_places')),
    sa.ForeignKeyConstraint(['sector_id'], ['sectors.id'], name=op.f('fk_invitations_sector_id_sectors')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_invitations_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_wave_id'), ['wave_id'], unique=False)

    op.create_table('trust_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('target_sector_id', sa.Integer(), nullable=False),
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_trust_ratings_response_id_responses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_sector_id'], ['sectors.id'], name=op.f('fk_trust_ratings_target_sector_id_sectors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trust_ratings'))
    )
    with op.batch_alter_table('trust_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trust_ratings_response_id'), ['response_id'], unique=False)

    op.create_table('drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('open_key', sa.String(length=64), nullable=True),
    sa.Column('sector_id', sa.Integer(), nullable=True),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('section', sa.Integer(), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_drafts_invitation_id_invitations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_drafts_place_id_places')),
    sa.ForeignKeyConstraint(['sector_id'], ['sectors.id'], name=op.f('fk_drafts_sector_id_sectors')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_drafts_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')),
    sa.UniqueConstraint('invitation_id', name=op.f('uq_drafts_invitation_id')),
    sa.UniqueConstraint('open_key', name=op.f('uq_drafts_open_key')),
    sa.UniqueConstraint('submission_key', name=op.f('uq_drafts_submission_key'))
    )
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drafts_wave_id'), ['wave_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drafts_wave_id'))

    op.drop_table('drafts')
    with op.batch_alter_table('trust_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trust_ratings_response_id'))

    op.drop_table('trust_ratings')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_wave_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answers_response_id'))

    op.drop_table('answers')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_wave_id_submitted_at')

    op.drop_table('responses')
    with op.batch_alter_table('invitee_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitee_identities_wave_id'))

    op.drop_table('invitee_identities')
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waves_survey_id'))

    op.drop_table('waves')
    op.drop_table('survey_places')
    op.drop_table('survey_margins')
    with op.batch_alter_table('margin_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_margin_changes_survey_id'))

    op.drop_table('margin_changes')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_items_instrument_id'))

    op.drop_table('items')
    op.drop_table('surveys')
    op.drop_table('instruments')
    op.drop_table('constructs')
