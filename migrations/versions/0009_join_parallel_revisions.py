"""Join the revisions made side by side (running waves, respondent settings, workshops) into one head.

Revision ID: 0009
Revises: 0008i, 0008r, 0008w
Create Date: 2026-11-26
"""
from typing import Sequence, Union


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = ('0008i', '0008r', '0008w')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Nothing to change: the three branches touch different columns and tables."""


def downgrade() -> None:
    """Nothing to change."""
