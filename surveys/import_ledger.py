"""What each import put into its wave, so that nothing is imported twice and a whole
import can be taken back out.

`ImportedFile`: one per import that was carried out, with the hash of its file (the
same file is refused while its import stands) and, once undone, when, by whom and where
the removed responses were (published counts that change after a wave closes must say
so: see surveys.service.late_changes), and which import replaced it, if a corrected
file did. `ImportedRow`: one per imported response, with
the keys that recognise the same row in a later file: the other tool's response id
where the file has one, and always a hash of who answered what.

Kept apart from surveys.models on purpose: these rows describe imports, never answers,
and nothing but surveys.importing reads or writes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime

if TYPE_CHECKING:
    from surveys.models import ResponseImport


class ImportedFile(Base):
    __tablename__ = "imported_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("response_imports.id", ondelete="CASCADE"), unique=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    # SHA-256 of a CSV file's text as UTF-8 (a byte-order mark makes no difference), or
    # of an Excel workbook's bytes as uploaded (surveys.importing.content_digest).
    content_sha256: Mapped[str] = mapped_column(String(64))
    # Rows of the file left out because they were already in the wave.
    skipped: Mapped[int] = mapped_column(default=0)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Once undone: [[place_id, sector_id, responses removed], ...].
    removed: Mapped[Any] = mapped_column(JSON, default=list)
    # Where it was undone by a corrected file in one step: that file's import.
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("response_imports.id", ondelete="SET NULL"))

    record: Mapped[ResponseImport] = relationship(foreign_keys=[import_id], lazy="joined")
    replaced_by: Mapped[ResponseImport | None] = relationship(foreign_keys=[replaced_by_id])

    @property
    def undone(self) -> bool:
        return self.undone_at is not None


class ImportedRow(Base):
    __tablename__ = "imported_rows"
    # The other tool's id is unique within a wave: the database refuses a second copy even
    # if two imports race (each import also locks its wave, so they do not).
    __table_args__ = (UniqueConstraint("wave_id", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"))
    import_id: Mapped[int] = mapped_column(ForeignKey("response_imports.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), unique=True)
    # "id:" and the SHA-256 of the other tool's response id; None where the file had none.
    source_key: Mapped[str | None] = mapped_column(String(67))
    # SHA-256 of sector, place, organisation and answers, and which copy of them in its
    # file this row was (the second of two identical rows is a second response).
    answers_key: Mapped[str] = mapped_column(String(80), index=True)
