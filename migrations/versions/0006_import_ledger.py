"""The import ledger: each import's file hash and each imported row's keys, so nothing is
imported into a wave twice and a whole import can be undone.

Imports made before this revision get their file's hash (the same file is refused from
now on); their rows get no keys, so rows of theirs in a different file are not
recognised.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
import hashlib
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('imported_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('undone_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.Column('removed', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['response_imports.id'], name=op.f('fk_imported_files_import_id_response_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], name=op.f('fk_imported_files_undone_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_imported_files_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_files')),
    sa.UniqueConstraint('import_id', name=op.f('uq_imported_files_import_id'))
    )
    with op.batch_alter_table('imported_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_files_wave_id'), ['wave_id'], unique=False)

    op.create_table('imported_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=67), nullable=True),
    sa.Column('answers_key', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['response_imports.id'], name=op.f('fk_imported_rows_import_id_response_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_imported_rows_response_id_responses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_imported_rows_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_rows')),
    sa.UniqueConstraint('response_id', name=op.f('uq_imported_rows_response_id')),
    sa.UniqueConstraint('wave_id', 'source_key', name=op.f('uq_imported_rows_wave_id'))
    )
    with op.batch_alter_table('imported_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_rows_answers_key'), ['answers_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_imported_rows_import_id'), ['import_id'], unique=False)

    # Imports already made: their file's hash, as surveys.importing computes it.
    connection = op.get_bind()
    done = connection.execute(sa.text(
        "SELECT id, wave_id, content FROM response_imports WHERE imported_at IS NOT NULL")).all()
    if done:
        op.bulk_insert(
            sa.table('imported_files', sa.column('import_id', sa.Integer), sa.column('wave_id', sa.Integer),
                     sa.column('content_sha256', sa.String), sa.column('skipped', sa.Integer),
                     sa.column('removed', sa.JSON)),
            [{'import_id': import_id, 'wave_id': wave_id, 'skipped': 0, 'removed': [],
              'content_sha256': hashlib.sha256(content.encode()).hexdigest()}
             for import_id, wave_id, content in done],
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('imported_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_rows_import_id'))
        batch_op.drop_index(batch_op.f('ix_imported_rows_answers_key'))

    op.drop_table('imported_rows')
    with op.batch_alter_table('imported_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_files_wave_id'))

    op.drop_table('imported_files')
