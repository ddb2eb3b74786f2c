"""An import undone by a corrected file records which import replaced it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('imported_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_imported_files_replaced_by_id_response_imports'), 'response_imports',
                                    ['replaced_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('imported_files', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_imported_files_replaced_by_id_response_imports'), type_='foreignkey')
        batch_op.drop_column('replaced_by_id')
