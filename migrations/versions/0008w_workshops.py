"""Co-design workshops: participants, prompts, ideas, clusters, dots, paper counts, actions.

Revision ID: 0008w
Revises: 0007
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision: str = '0008w'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('workshops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('join_code', sa.String(length=8), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('stage_locked', sa.Boolean(), nullable=False),
    sa.Column('deadline_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dots_per_participant', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=True),
    sa.Column('reference_wave_id', sa.Integer(), nullable=True),
    sa.Column('current_wave_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_workshops_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['current_wave_id'], ['waves.id'], name=op.f('fk_workshops_current_wave_id_waves'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_workshops_place_id_places')),
    sa.ForeignKeyConstraint(['reference_wave_id'], ['waves.id'], name=op.f('fk_workshops_reference_wave_id_waves'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_workshops_survey_id_surveys'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshops')),
    sa.UniqueConstraint('join_code', name=op.f('uq_workshops_join_code'))
    )
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshops_place_id'), ['place_id'], unique=False)

    op.create_table('workshop_clusters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('impact', sa.Integer(), nullable=True),
    sa.Column('effort', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('effort IS NULL OR (effort BETWEEN 1 AND 5)', name=op.f('ck_workshop_clusters_effort_range')),
    sa.CheckConstraint('impact IS NULL OR (impact BETWEEN 1 AND 5)', name=op.f('ck_workshop_clusters_impact_range')),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_workshop_clusters_workshop_id_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_clusters'))
    )
    with op.batch_alter_table('workshop_clusters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_clusters_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('workshop_constructs',
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('construct_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['construct_id'], ['constructs.id'], name=op.f('fk_workshop_constructs_construct_id_constructs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_workshop_constructs_workshop_id_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workshop_id', 'construct_id', name=op.f('pk_workshop_constructs'))
    )
    op.create_table('workshop_paper_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('sector_id', sa.Integer(), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.CheckConstraint('people >= 0', name=op.f('ck_workshop_paper_groups_people')),
    sa.ForeignKeyConstraint(['sector_id'], ['sectors.id'], name=op.f('fk_workshop_paper_groups_sector_id_sectors')),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_workshop_paper_groups_workshop_id_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_paper_groups')),
    sa.UniqueConstraint('workshop_id', 'sector_id', name=op.f('uq_workshop_paper_groups_workshop_id'))
    )
    op.create_table('workshop_participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=60), nullable=False),
    sa.Column('sector_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('joined_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sector_id'], ['sectors.id'], name=op.f('fk_workshop_participants_sector_id_sectors')),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_workshop_participants_workshop_id_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_participants'))
    )
    with op.batch_alter_table('workshop_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_participants_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('workshop_prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_workshop_prompts_workshop_id_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_prompts'))
    )
    with op.batch_alter_table('workshop_prompts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_prompts_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('workshop_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('owner_name', sa.String(length=120), nullable=False),
    sa.Column('owner_email', sa.String(length=254), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('construct_id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('link_nonce', sa.String(length=32), nullable=False),
    sa.Column('reminded_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['workshop_clusters.id'], name=op.f('fk_workshop_actions_cluster_id_workshop_clusters'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['construct_id'], ['constructs.id'], name=op.f('fk_workshop_actions_construct_id_constructs')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_workshop_actions_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_workshop_actions_wave_id_waves'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_workshop_actions_workshop_id_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_actions'))
    )
    with op.batch_alter_table('workshop_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_actions_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('workshop_ideas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('text', sa.String(length=280), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['workshop_clusters.id'], name=op.f('fk_workshop_ideas_cluster_id_workshop_clusters'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['participant_id'], ['workshop_participants.id'], name=op.f('fk_workshop_ideas_participant_id_workshop_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_workshop_ideas_workshop_id_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_ideas')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_workshop_ideas_idempotency_key'))
    )
    with op.batch_alter_table('workshop_ideas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_ideas_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_workshop_ideas_workshop_id'), ['workshop_id'], unique=False)

    op.create_table('workshop_action_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=120), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['workshop_actions.id'], name=op.f('fk_workshop_action_updates_action_id_workshop_actions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_action_updates'))
    )
    with op.batch_alter_table('workshop_action_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_action_updates_action_id'), ['action_id'], unique=False)

    op.create_table('workshop_paper_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('sector_id', sa.Integer(), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.CheckConstraint('votes >= 0', name=op.f('ck_workshop_paper_votes_votes')),
    sa.ForeignKeyConstraint(['idea_id'], ['workshop_ideas.id'], name=op.f('fk_workshop_paper_votes_idea_id_workshop_ideas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sector_id'], ['sectors.id'], name=op.f('fk_workshop_paper_votes_sector_id_sectors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_paper_votes')),
    sa.UniqueConstraint('idea_id', 'sector_id', name=op.f('uq_workshop_paper_votes_idea_id'))
    )
    op.create_table('workshop_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('dots', sa.Integer(), nullable=False),
    sa.CheckConstraint('dots > 0', name=op.f('ck_workshop_votes_dots_positive')),
    sa.ForeignKeyConstraint(['idea_id'], ['workshop_ideas.id'], name=op.f('fk_workshop_votes_idea_id_workshop_ideas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['workshop_participants.id'], name=op.f('fk_workshop_votes_participant_id_workshop_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workshop_votes')),
    sa.UniqueConstraint('participant_id', 'idea_id', name=op.f('uq_workshop_votes_participant_id'))
    )
    with op.batch_alter_table('workshop_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workshop_votes_idea_id'), ['idea_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('workshop_votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_votes_idea_id'))

    op.drop_table('workshop_votes')
    op.drop_table('workshop_paper_votes')
    with op.batch_alter_table('workshop_action_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_action_updates_action_id'))

    op.drop_table('workshop_action_updates')
    with op.batch_alter_table('workshop_ideas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_ideas_workshop_id'))
        batch_op.drop_index(batch_op.f('ix_workshop_ideas_participant_id'))

    op.drop_table('workshop_ideas')
    with op.batch_alter_table('workshop_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_actions_workshop_id'))

    op.drop_table('workshop_actions')
    with op.batch_alter_table('workshop_prompts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_prompts_workshop_id'))

    op.drop_table('workshop_prompts')
    with op.batch_alter_table('workshop_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_participants_workshop_id'))

    op.drop_table('workshop_participants')
    op.drop_table('workshop_paper_groups')
    op.drop_table('workshop_constructs')
    with op.batch_alter_table('workshop_clusters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshop_clusters_workshop_id'))

    op.drop_table('workshop_clusters')
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workshops_place_id'))

    op.drop_table('workshops')
