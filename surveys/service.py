"""Writes and queries for surveys and their waves: who may see and run a survey, its
settings and margins, opening, closing and cloning waves, storing a response, and `responses_frame`, the only bridge to `analysis/`.

The other journeys have modules of their own: the question editor (`surveys.questions`),
invitations, reminders and the invitee list (`surveys.invitations`),
the respondent journey (`surveys.respondent`), the wave dashboard's counts
(`surveys.dashboard`), importing (`surveys.importing`) and exports (`surveys.exports`).

Functions take a Session and plain values; write functions commit once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from analysis.disclosure import changed_after_closing
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core import audit
from core.audit import AuditAction, AuditEntry
from core.db import utcnow
from core.models import Organisation, Place, Role, Sector, User
from core.service import ServiceError
from surveys.import_ledger import ImportedFile
from surveys.instruments import copy_items, ensure_builtin_instruments, template, with_quote_consent
from surveys.models import (
    AnonymityMode,
    Answer,
    Construct,
    Instrument,
    Invitation,
    Item,
    MarginChange,
    Response,
    ResponseImport,
    Survey,
    SurveyMargin,
    TrustRating,
    Wave,
    WaveRole,
    WaveStatus,
)
from surveys.question_types import DONT_KNOW, question_type

MIN_K_INTERNAL = 5
MIN_K_BRIEFING = 10
THRESHOLD_NAMES = {
    "k_internal": "Smallest group shown on pages and in exports",
    "k_briefing": "Smallest group shown in briefings",
    "min_organisations": "Fewest organisations behind any figure",
}


# --- surveys ---------------------------------------------------------------------------


def list_surveys(session: Session, for_user: User) -> list[Survey]:
    surveys = list(session.scalars(select(Survey).order_by(Survey.created_at.desc())))
    return [s for s in surveys if can_see_survey(for_user, s)]


# Who may do what with a survey. A survey can span places with different coordinators:
# each works within their own places, and only someone whose places cover the whole
# survey may change it for everyone or see figures for all of its places together.


def can_see_survey(user: User, survey: Survey) -> bool:
    """The survey's page, with what `places_for` and `may_run_survey` allow on it."""
    return bool(places_for(user, survey))


def places_for(user: User, survey: Survey) -> list[Place]:
    """The survey's places whose invitations and figures this user may see: every one
    for admins and evaluators, a coordinator's own among them."""
    return [place for place in survey.places if user.can_access_place(place.id)]


def may_see_all_places(user: User, survey: Survey) -> bool:
    """Figures for all places together: all places minus one's own would give the
    others' figures away, so only for someone who may see every one of them."""
    return len(places_for(user, survey)) == len(survey.places)


def may_run_survey(user: User, survey: Survey) -> bool:
    """Changes that apply to every place (settings, margins, questions, opening and
    closing waves, erasing who was invited): an admin, or a coordinator covering all
    of the survey's places."""
    return user.role in (Role.ADMIN, Role.COORDINATOR) and may_see_all_places(user, survey)


def get_survey(session: Session, survey_id: int) -> Survey | None:
    return session.get(Survey, survey_id)


def get_wave(session: Session, wave_id: int) -> Wave | None:
    return session.get(Wave, wave_id)


def create_survey(
    session: Session,
    name: str,
    run_by: str,
    purpose: str,
    template_code: str,
    place_ids: list[int],
    anonymity: AnonymityMode,
) -> Survey:
    """A survey from a built-in template, with a draft first wave to edit and open."""
    builtins = ensure_builtin_instruments(session)
    chosen = template(template_code)
    places = list(session.scalars(select(Place).where(Place.id.in_(place_ids))))
    if not places or len(places) != len(set(place_ids)):
        raise ServiceError("places", "Select at least one place")
    survey = Survey(
        name=name.strip(),
        run_by=run_by.strip(),
        purpose=(purpose or "").strip(),
        template=chosen.code,
        anonymity=anonymity.value,
        places=places,
    )
    session.add(survey)
    session.flush()
    source_items = [item for code in chosen.instruments for item in builtins[code].items]
    instrument = Instrument(
        code=f"survey-{survey.id}",
        name=chosen.name,
        version=1,
        items=copy_items(source_items),
    )
    session.add(instrument)
    session.flush()
    construct_ids = {item.construct_id for item in instrument.items if item.construct_id}
    for construct in session.scalars(select(Construct).where(Construct.id.in_(construct_ids))):
        survey.margins.append(SurveyMargin(construct_id=construct.id, margin=construct.default_margin))
    session.add(_new_wave(survey, 1, "Wave 1", WaveRole.BASELINE, instrument))
    session.commit()
    return survey


def _new_wave(survey: Survey, number: int, label: str, role: WaveRole, instrument: Instrument) -> Wave:
    return Wave(
        survey=survey,
        number=number,
        label=label.strip(),
        role=role.value,
        instrument=instrument,
        open_link_slug=secrets.token_urlsafe(12),
    )


def update_settings(
    session: Session,
    survey: Survey,
    user: User,
    anonymity: AnonymityMode,
    k_internal: int,
    k_briefing: int,
    min_organisations: int,
    margins: Mapping[int, float],
    offer_dont_know: bool | None = None,
    trust_sector_ids: list[int] | None = None,
) -> None:
    """Thresholds can only go up; anonymity is fixed once a wave has opened; margin
    changes after a wave has opened are kept in the log for the briefing. Each change
    is audited.

    `offer_dont_know` (None: unchanged) applies to draft waves and waves made later; a
    wave that has opened keeps what it offered, so its questions never change under its
    respondents. `trust_sector_ids` (None: unchanged; empty: the sectors working in each
    respondent's place) are the sectors the trust matrix asks about."""
    invited = session.scalar(
        select(func.count()).select_from(Invitation).join(Wave).where(Wave.survey_id == survey.id)
    )
    if (survey.has_opened or invited) and anonymity.value != survey.anonymity:
        raise ServiceError(
            "anonymity", "The anonymity mode cannot change once a wave has opened or people have been invited"
        )
    for field_name, new, old, floor in (
        ("k_internal", k_internal, survey.k_internal, MIN_K_INTERNAL),
        ("k_briefing", k_briefing, survey.k_briefing, MIN_K_BRIEFING),
        ("min_organisations", min_organisations, survey.min_organisations, 3),
    ):
        if new < max(old, floor):
            raise ServiceError(field_name, f"This threshold can only be raised: enter {max(old, floor)} or more")
    if anonymity.value != survey.anonymity:
        audit.record(
            session, user, AuditAction.SURVEY_SETTINGS_CHANGED, survey=survey,
            detail=f"Anonymity changed from {survey.anonymity} to {anonymity.value}",
            data={"setting": "anonymity", "old": survey.anonymity, "new": anonymity.value},
        )
    survey.anonymity = anonymity.value
    for field_name, new in (("k_internal", k_internal), ("k_briefing", k_briefing), ("min_organisations", min_organisations)):
        old = getattr(survey, field_name)
        if new != old:
            audit.record(
                session, user, AuditAction.THRESHOLD_CHANGED, survey=survey,
                detail=f"{THRESHOLD_NAMES[field_name]} raised from {old} to {new}",
                data={"setting": field_name, "old": old, "new": new},
            )
        setattr(survey, field_name, new)
    for margin in survey.margins:
        new_margin = margins.get(margin.construct_id)
        if new_margin is None or new_margin == margin.margin:
            continue
        audit.record(
            session, user, AuditAction.MARGIN_CHANGED, survey=survey,
            detail=f"Margin for {margin.construct.name} changed from {margin.margin:.2f} to {new_margin:.2f}",
            data={
                "construct": margin.construct.code, "old": margin.margin, "new": new_margin,
                "after_opening": survey.has_opened,
            },
        )
        if survey.has_opened:
            session.add(
                MarginChange(
                    survey_id=survey.id,
                    construct_id=margin.construct_id,
                    old_margin=margin.margin,
                    new_margin=new_margin,
                    changed_by_id=user.id,
                )
            )
        margin.margin = new_margin
    if offer_dont_know is not None and offer_dont_know != survey.offer_dont_know:
        for wave in survey.waves:
            if wave.status != WaveStatus.DRAFT and wave.offer_dont_know is None:
                wave.offer_dont_know = survey.offer_dont_know
        audit.record(
            session, user, AuditAction.SURVEY_SETTINGS_CHANGED, survey=survey,
            detail=f"\"Don't know\" on agreement questions turned {'on' if offer_dont_know else 'off'} for waves not yet open",
            data={"setting": "offer_dont_know", "old": survey.offer_dont_know, "new": offer_dont_know},
        )
        survey.offer_dont_know = offer_dont_know
    if trust_sector_ids is not None:
        new_ids = sorted({int(i) for i in trust_sector_ids}) or None
        old_ids = sorted(survey.trust_sector_ids) if survey.trust_sector_ids else None
        if new_ids is not None:
            known = set(session.scalars(select(Sector.id).where(Sector.id.in_(new_ids))))
            if known != set(new_ids):
                raise ServiceError("trust_sectors", "Select sectors from the list")
        if new_ids != old_ids:
            audit.record(
                session, user, AuditAction.SURVEY_SETTINGS_CHANGED, survey=survey,
                detail="Sectors the trust matrix asks about changed",
                data={"setting": "trust_sector_ids", "old": old_ids, "new": new_ids},
            )
            survey.trust_sector_ids = new_ids
    session.commit()


def margin_changes(session: Session, survey: Survey) -> list[MarginChange]:
    return list(
        session.scalars(
            select(MarginChange).where(MarginChange.survey_id == survey.id).order_by(MarginChange.changed_at)
        )
    )


# --- waves -------------------------------------------------------------------------


def open_wave(session: Session, wave: Wave, *, actor: User | None, at: datetime | None = None) -> None:
    """Open a draft wave (`at`: the time set for it, when the worker opens it on schedule).
    Its instrument version is frozen from now on."""
    if wave.status != WaveStatus.DRAFT:
        raise ServiceError("wave", "Only a draft wave can be opened")
    if any(other.status == WaveStatus.OPEN for other in wave.survey.waves):
        raise ServiceError("wave", "Close the open wave before opening another")
    if not wave.instrument.items:
        raise ServiceError("wave", "Add at least one question before opening the wave")
    now = at or utcnow()
    wave.instrument.published_at = wave.instrument.published_at or now
    wave.status, wave.opens_at = WaveStatus.OPEN.value, now
    audit.record(session, actor, AuditAction.WAVE_OPENED, wave=wave, detail=f"{wave.label} opened")
    session.commit()


def close_wave(session: Session, wave: Wave, *, actor: User | None, at: datetime | None = None) -> None:
    """Close an open wave now (or at `at`, the time set for it). People part-way through
    may still send during its grace period; results wait for that to end."""
    if wave.status != WaveStatus.OPEN:
        raise ServiceError("wave", "Only an open wave can be closed")
    wave.status, wave.closes_at = WaveStatus.CLOSED.value, at or utcnow()
    audit.record(session, actor, AuditAction.WAVE_CLOSED, wave=wave, detail=f"{wave.label} closed")
    session.commit()


def clone_wave(session: Session, survey: Survey, label: str, role: WaveRole) -> Wave:
    """The next wave: a draft copy of the latest wave's questions as a new version."""
    if any(wave.status == WaveStatus.DRAFT for wave in survey.waves):
        raise ServiceError("label", "This survey already has a draft wave")
    if any(wave.label.casefold() == label.strip().casefold() for wave in survey.waves):
        raise ServiceError("label", "Enter a name that no other wave of this survey has")
    latest = survey.waves[-1]
    source = latest.instrument
    instrument = Instrument(
        code=source.code,
        name=source.name,
        version=source.version + 1,
        description=source.description,
        previous=source,
        items=with_quote_consent(copy_items(source.items)),
    )
    session.add(instrument)
    wave = _new_wave(survey, latest.number + 1, label, role, instrument)
    session.add(wave)
    session.commit()
    return wave




# --- storing a response ------------------------------------------------------------------


@dataclass(frozen=True)
class Respondent:
    sector_id: int
    place_id: int
    organisation_id: int | None = None
    panel_key: str | None = None
    channel: str = "link"


def insert_response(
    session: Session, wave: Wave, respondent: Respondent, answers: Mapping[str, Any], idempotency_key: str,
    submitted_at=None, items: Sequence[Item] | None = None,
) -> int:
    """Insert a response and its answers (bulk statements: this is the hot path). No commit.
    `items`: the wave's questions when the caller has them already (nothing is read then)."""
    response_id = session.scalar(
        insert(Response)
        .values(
            wave_id=wave.id,
            sector_id=respondent.sector_id,
            place_id=respondent.place_id,
            organisation_id=respondent.organisation_id,
            panel_key=respondent.panel_key,
            channel=respondent.channel,
            idempotency_key=idempotency_key,
            submitted_at=submitted_at or utcnow(),
        )
        .returning(Response.id)
    )
    answer_rows, trust_rows = [], []
    for item in items if items is not None else wave.instrument.items:
        rows = question_type(item.type).rows(item, answers.get(item.code))
        answer_rows += [
            {"response_id": response_id, "item_code": code, "numeric_value": numeric, "text_value": text}
            for code, numeric, text in rows.answers
        ]
        trust_rows += [
            {"response_id": response_id, "target_sector_id": sector_id, "dimension": dimension, "value": value}
            for sector_id, dimension, value in rows.trust
        ]
    if answer_rows:
        # NULLs written out, so rows with a number and rows with text go in one statement.
        session.execute(insert(Answer).execution_options(render_nulls=True), answer_rows)
    if trust_rows:
        session.execute(insert(TrustRating), trust_rows)
    return response_id


# --- counts that the disclosure rules need ---------------------------------------------------


def records_organisations(session: Session, survey: Survey) -> bool:
    """Whether any response of the survey names an organisation: then the organisation
    rule applies to every cell of every wave (responses without one counting as one more)."""
    return session.scalar(select(
        select(Response.id).join(Wave).where(Wave.survey_id == survey.id, Response.organisation_id.is_not(None))
        .exists())) or False


def thresholds_had(session: Session, survey: Survey, public: bool = False) -> list[tuple[int, int]]:
    """Every (k, fewest organisations) the survey's pages have used, oldest first and
    ending with today's, from the audit log of threshold changes (thresholds can only be
    raised). With `public`, the briefings' too, after the pages': each decision refines
    the one before (analysis.disclosure.decide_in_turn), so pages kept from before a
    raise and pages after it, side by side, show nothing the oldest did not."""
    changes = session.scalars(
        select(AuditEntry.data).where(AuditEntry.survey_id == survey.id,
                                      AuditEntry.action == AuditAction.THRESHOLD_CHANGED.value)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    setting = {"k_internal": survey.k_internal, "k_briefing": survey.k_briefing,
               "min_organisations": survey.min_organisations}
    for change in reversed(changes):
        setting[change["setting"]] = change["old"]
    settings = [dict(setting)]
    for change in changes:
        setting[change["setting"]] = change["new"]
        settings.append(dict(setting))
    had = [(each["k_internal"], each["min_organisations"]) for each in settings]
    if public:
        had += [(each["k_briefing"], each["min_organisations"]) for each in settings]
    return [pair for i, pair in enumerate(had) if i == 0 or pair != had[i - 1]]


@dataclass(frozen=True)
class LateChanges:
    """What changed in closed waves after they closed: per wave label, the dates of each
    change (shown on results) and each response's place, sector, time and change (+1
    added, −1 taken away), from which `withheld` finds the groups that stay withheld."""

    dates: dict[str, list[datetime]]
    versions: dict[str, tuple[pd.DataFrame, datetime]]

    def withheld(self, k: int) -> dict[str, dict[tuple, str]]:
        """Per wave label, the groups whose count changed by fewer than k between two of
        its versions (analysis.disclosure.changed_after_closing)."""
        return {label: changed_after_closing(frame, closed_at, k) for label, (frame, closed_at) in self.versions.items()}


def late_changes(session: Session, waves: list[Wave]) -> LateChanges:
    """Responses added after a wave closed (an admin's import), and imports undone after
    it closed: each is a new version of the wave's published counts. Answers sent in the
    grace period after the close (surveys.respondent.may_still_send) come before results
    are shown, so they are not late."""
    dates: dict[str, list[datetime]] = {}
    versions: dict[str, tuple[pd.DataFrame, datetime]] = {}
    sector_names = dict(session.execute(select(Sector.id, Sector.name)).all())
    for wave in waves:
        if wave.status != WaveStatus.CLOSED or wave.closes_at is None:
            continue
        # Sent by respondents in the grace period: on time, as if sent at the close.
        grace_end = wave.grace_ends
        in_grace = Response.channel.in_(("link", "open")) & (Response.submitted_at <= grace_end)
        later = session.scalars(select(Response.submitted_at).where(
            Response.wave_id == wave.id, Response.submitted_at > wave.closes_at, ~in_grace).distinct()).all()
        undone = session.execute(
            select(ImportedFile.undone_at, ImportedFile.removed, ResponseImport.imported_at)
            .join(ResponseImport, ResponseImport.id == ImportedFile.import_id)
            .where(ImportedFile.wave_id == wave.id, ImportedFile.undone_at > wave.closes_at)
        ).all()
        if not later and not undone:
            continue
        place_names = {p.id: p.name for p in wave.survey.places}
        rows = [
            (place_id, sector_id, wave.closes_at if channel in ("link", "open") and sent <= grace_end else sent, 1)
            for place_id, sector_id, sent, channel in session.execute(
                select(Response.place_id, Response.sector_id, Response.submitted_at, Response.channel)
                .where(Response.wave_id == wave.id))
        ]
        for undone_at, removed, imported_at in undone:
            # The removed responses as they stood from their import until they went.
            for place_id, sector_id, number in removed:
                rows += [(place_id, sector_id, imported_at, 1), (place_id, sector_id, undone_at, -1)] * number
        frame = pd.DataFrame(rows, columns=["place", "sector", "submitted_at", "change"])
        frame["place"], frame["sector"] = frame["place"].map(place_names), frame["sector"].map(sector_names)
        dates[wave.label] = sorted({*later, *(undone_at for undone_at, _, _ in undone)})
        versions[wave.label] = frame, wave.closes_at
    return LateChanges(dates, versions)


# --- the tidy frame: the bridge to analysis/ ----------------------------------------------------


@dataclass(frozen=True)
class TidyData:
    """One row per response (`responses`), the codebook, and trust ratings in long form."""

    responses: pd.DataFrame
    codebook: pd.DataFrame
    trust: pd.DataFrame
    text: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Agreement answers of "Don't know" (response_id, item): missing in `responses`, as
    # every statistic counts them, and labelled in exports.
    dont_know: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["response_id", "item"]))


RESPONSE_COLUMNS = ["response_id", "wave", "sector", "place", "organisation", "panel_key"]


def _plain(result) -> list[tuple]:
    """Rows as plain tuples: pandas builds a frame from tuples many times faster than
    from SQLAlchemy Row objects, which it probes one by one."""
    return [tuple(row) for row in result]


def responses_frame(session: Session, waves: list[Wave]) -> TidyData:
    """The tidy DataFrame and codebook of DESIGN.md for these waves.

    Items come from the waves' instruments (latest version first); multiple-choice items
    become one 0/1 column per choice (`code_value`); free text is returned apart.
    """
    wave_labels = {wave.id: wave.label for wave in waves}
    sector_names = dict(session.execute(select(Sector.id, Sector.name)).all())
    place_names = dict(session.execute(select(Place.id, Place.name)).all())
    organisation_names = dict(session.execute(select(Organisation.id, Organisation.name)).all())

    items: dict[str, Item] = {}
    for wave in sorted(waves, key=lambda w: w.number, reverse=True):
        for item in wave.instrument.items:
            items.setdefault(item.code, item)
    broken = items_breaking_trend(waves)

    base = pd.DataFrame(
        _plain(session.execute(
            select(
                Response.id, Response.wave_id, Response.sector_id, Response.place_id,
                Response.organisation_id, Response.panel_key,
            ).where(Response.wave_id.in_(wave_labels)).order_by(Response.id)
        )),
        columns=["response_id", "wave", "sector", "place", "organisation", "panel_key"],
    )
    base["wave"] = base["wave"].map(wave_labels)
    base["sector"] = base["sector"].map(sector_names)
    base["place"] = base["place"].map(place_names)
    base["organisation"] = base["organisation"].map(organisation_names)

    answers = pd.DataFrame(
        _plain(session.execute(
            select(Answer.response_id, Answer.item_code, Answer.numeric_value, Answer.text_value)
            .join(Response, Response.id == Answer.response_id)
            .where(Response.wave_id.in_(wave_labels))
        )),
        columns=["response_id", "item", "numeric", "text"],
    )
    kinds = {code: item.type for code, item in items.items()}
    answers["kind"] = answers["item"].map(kinds)
    numeric = answers[answers["kind"].isin(["likert", "single", "number"])]
    wide = numeric.pivot_table(index="response_id", columns="item", values="numeric", aggfunc="first")
    # Multiple choice, one column per choice: 1 chosen, 0 answered without choosing it,
    # missing where the question was not answered at all.
    multi = answers[answers["kind"] == "multi"]
    for code in multi["item"].unique():
        given = multi[multi["item"] == code]
        chosen = pd.crosstab(given["response_id"], given["numeric"].astype(int)).clip(upper=1).astype(float)
        labels = question_type("multi").value_labels(items[code])
        chosen = chosen.reindex(columns=list(labels), fill_value=0.0)
        chosen.columns = [f"{code}_{value}" for value in chosen.columns]
        wide = wide.join(chosen, how="outer")

    columns, codebook_rows = [], []
    for code, item in items.items():
        kind = question_type(item.type)
        if item.type in ("likert", "single", "number"):
            columns.append(code)
            low, high = kind.scale(item) or (None, None)
            codebook_rows.append(_codebook_row(code, item, low, high, code in broken))
        elif item.type == "multi":
            for value, label in kind.value_labels(item).items():
                columns.append(f"{code}_{value}")
                codebook_rows.append(_codebook_row(f"{code}_{value}", item, 0, 1, code in broken, label=label))
    # A multiple-choice option not chosen by someone who answered is 0; unanswered is missing.
    responses = base.set_index("response_id").join(wide.reindex(columns=columns)).reset_index()
    codebook = pd.DataFrame(
        codebook_rows, columns=["item", "construct", "reverse", "min", "max", "type", "text", "breaks_trend", "label"]
    )

    text = answers[answers["kind"] == "text"][["response_id", "item", "text"]].reset_index(drop=True)
    dont_know = answers[(answers["kind"] == "likert") & (answers["text"] == DONT_KNOW)][["response_id", "item"]]
    trust = pd.DataFrame(
        _plain(session.execute(
            select(TrustRating.response_id, Response.wave_id, Response.sector_id, TrustRating.target_sector_id,
                   TrustRating.target_sector_id, TrustRating.dimension, TrustRating.value)
            .join(Response, Response.id == TrustRating.response_id)
            .where(Response.wave_id.in_(wave_labels))
            .order_by(TrustRating.response_id)  # rater by rater: analysis.network counts them fastest so
        )),
        columns=["response_id", "wave", "sector", "target_sector", "target_sector_id", "dimension", "value"],
    )
    trust["wave"] = trust["wave"].map(wave_labels)
    trust["sector"] = trust["sector"].map(sector_names)
    trust["target_sector"] = trust["target_sector"].map(sector_names)
    return TidyData(responses[RESPONSE_COLUMNS + columns], codebook, trust, text, dont_know.reset_index(drop=True))


def items_breaking_trend(waves: list[Wave]) -> set[str]:
    """Items whose wording or scale differs between any of these waves."""
    versions: dict[str, set] = {}
    for wave in waves:
        for item in wave.instrument.items:
            versions.setdefault(item.code, set()).add(_wording_and_scale(item))
    return {code for code, seen in versions.items() if len(seen) > 1}


def _wording_and_scale(item: Item) -> tuple:
    return (item.text, item.type, json.dumps(item.options, sort_keys=True), item.reverse)


def _codebook_row(code: str, item: Item, low, high, breaks_trend: bool, label: str = "") -> dict:
    return {
        "item": code,
        "construct": item.construct.code if item.construct else None,
        "reverse": int(item.reverse),
        "min": low,
        "max": high,
        "type": item.type,
        "text": item.text,
        "breaks_trend": breaks_trend,
        "label": label,
    }
