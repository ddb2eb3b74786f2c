"""Issuing a briefing: its PDF kept byte for byte, with who issued it, when, the foreword
they wrote and the version of the data it was built from, so what was sent round can be
downloaded unchanged ever after while the preview moves on with the data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.routes import Selection
from briefings import quotes, service
from briefings.models import IssuedBriefing
from core import audit
from core.audit import AuditAction
from core.models import User
from surveys.models import Survey


def issue(session: Session, selection: Selection, results: service.PublicResults, foreword: str,
          user: User) -> tuple[IssuedBriefing, bool]:
    """The briefing of `selection` with `foreword`, rendered and stored, and whether it is
    new: the same briefing issued again (a double click, or nothing changed since) is the
    one already stored, found before anything is drawn."""
    version = service.briefing_version(selection.survey, results.k,
                                       quotes.chosen(session, selection.current, selection.place))
    same = latest(session, selection)
    if same is not None and same.data_version == version and same.foreword == foreword:
        return same, False
    briefing = service.build(selection, results, foreword=foreword)
    body = service.render_pdf(selection, briefing)
    issued = IssuedBriefing(
        survey_id=selection.survey.id, place_id=selection.place.id if selection.place else None,
        reference_wave_id=selection.reference.id, current_wave_id=selection.current.id,
        baseline_wave_id=selection.baseline.id if selection.baseline else None,
        foreword=foreword, filename=service.filename(selection), pdf=body,
        sha256=hashlib.sha256(body).hexdigest(), data_version=briefing.data_version,
        verdicts=briefing.verdicts, headline=briefing.headline.sentence,
        issued_by_id=user.id, issued_by_email=user.email,
    )
    session.add(issued)
    audit.record(session, user, AuditAction.BRIEFING_ISSUED, survey=selection.survey,
                 detail=f"Briefing for {selection.where}, {selection.current.label} against "
                        f"{selection.reference.label}, issued",
                 data={"file": issued.filename, "sha256": issued.sha256, "data_version": issued.data_version})
    session.commit()
    return issued, True


def _same_selection(selection: Selection):
    s = selection
    return (
        IssuedBriefing.survey_id == s.survey.id,
        IssuedBriefing.place_id.is_(None) if s.place is None else IssuedBriefing.place_id == s.place.id,
        IssuedBriefing.reference_wave_id == s.reference.id,
        IssuedBriefing.current_wave_id == s.current.id,
        IssuedBriefing.baseline_wave_id.is_(None) if s.baseline is None
        else IssuedBriefing.baseline_wave_id == s.baseline.id,
    )


def latest(session: Session, selection: Selection) -> IssuedBriefing | None:
    return session.scalar(select(IssuedBriefing).where(*_same_selection(selection))
                          .order_by(IssuedBriefing.issued_at.desc(), IssuedBriefing.id.desc()).limit(1))


def issued_for(session: Session, survey: Survey, user: User, may_see_all_places: bool) -> list[IssuedBriefing]:
    """The survey's issued briefings this user may download, newest first: those of their
    own places, and those of all places only for someone who may see every place."""
    found = session.scalars(select(IssuedBriefing).where(IssuedBriefing.survey_id == survey.id)
                            .order_by(IssuedBriefing.issued_at.desc(), IssuedBriefing.id.desc()))
    return [b for b in found if may_download(b, user, may_see_all_places)]


def may_download(issued: IssuedBriefing, user: User, may_see_all_places: bool) -> bool:
    return may_see_all_places if issued.place_id is None else user.can_access_place(issued.place_id)


@dataclass(frozen=True)
class Difference:
    """How today's preview stands against the briefing last issued for the same selection."""

    issued: IssuedBriefing
    same_data: bool
    moved: tuple[tuple[str, str, str], ...]  # (construct, verdict issued, verdict today)


def difference(session: Session, selection: Selection, briefing: service.Briefing) -> Difference | None:
    issued = latest(session, selection)
    if issued is None:
        return None
    today = briefing.verdicts
    moved = tuple((name, issued.verdicts.get(name, "too_few"), verdict) for name, verdict in today.items()
                  if issued.verdicts.get(name) != verdict)
    return Difference(issued, issued.data_version == briefing.data_version, moved)
