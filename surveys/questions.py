"""The question editor: the items of a draft wave's instrument, and how a new version
differs from the one before (which questions break the trend).

Functions take a Session and plain values; write functions commit once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.service import ServiceError
from surveys.models import Construct, Instrument, Item, SurveyMargin, Wave, WaveStatus
from surveys.question_types import QUESTION_TYPES, question_type

ITEM_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _editable(wave: Wave) -> Instrument:
    if wave.status != WaveStatus.DRAFT or wave.instrument.is_published:
        raise ServiceError("wave", "The questions of an opened wave cannot change")
    return wave.instrument


def get_item(wave: Wave, item_id: int) -> Item | None:
    return next((item for item in wave.instrument.items if item.id == item_id), None)


def save_item(
    session: Session,
    wave: Wave,
    item: Item | None,
    code: str,
    section: str,
    text: str,
    hint: str,
    kind: str,
    options: dict,
    construct_id: int | None,
    reverse: bool,
    required: bool,
) -> Item:
    instrument = _editable(wave)
    code = code.strip()
    if not ITEM_CODE.match(code):
        raise ServiceError(
            "code", "Code must start with a lower-case letter and use only a–z, 0–9 and _ (up to 40)"
        )
    if any(other.code == code and other is not item for other in instrument.items):
        raise ServiceError("code", "Another question in this wave already uses this code")
    if kind not in QUESTION_TYPES:
        raise ServiceError("type", "Select a question type")
    problems = question_type(kind).option_errors(options)
    if problems:
        raise ServiceError("options", problems[0])
    if kind == "likert" and construct_id:
        construct = session.get(Construct, construct_id)
        if construct is None:
            raise ServiceError("construct", "Select a construct from the list")
        off_scale = scale_error(construct, options)
        if off_scale:
            raise ServiceError("options", off_scale)
    if item is None:
        item = Item(position=len(instrument.items) + 1)
        instrument.items.append(item)
    item.code, item.section, item.text, item.hint = code, section.strip(), text.strip(), (hint or "").strip()
    item.type, item.options = kind, options
    item.construct_id = construct_id if kind == "likert" else None
    item.reverse = reverse and kind == "likert"
    item.required = required
    item.breaks_trend = _breaks_trend(session, instrument, item)
    if construct_id and kind == "likert":
        survey = wave.survey
        if all(m.construct_id != construct_id for m in survey.margins):
            construct = session.get(Construct, construct_id)
            survey.margins.append(SurveyMargin(construct_id=construct_id, margin=construct.default_margin))
    session.commit()
    return item


def scale_error(construct: Construct, options: dict) -> str | None:
    """Every question measuring a construct is on the construct's own scale, so its
    answers can be averaged with the others' and compared across waves; None if so."""
    values = sorted(choice["value"] for choice in options.get("choices", []))
    wanted = list(range(construct.scale_min, construct.scale_max + 1))
    if values == wanted:
        return None
    scale = f"Questions measuring {construct.name} use its {construct.scale_min} to {construct.scale_max} scale"
    if len(values) != len(wanted):
        return f"{scale}: give {len(wanted)} choices, one per line, lowest agreement first (you gave {len(values)})"
    return f"{scale}: number the choices {construct.scale_min} to {construct.scale_max}"


def _breaks_trend(session: Session, instrument: Instrument, item: Item) -> bool:
    if instrument.previous_id is None:
        return False
    before = session.scalar(
        select(Item).where(Item.instrument_id == instrument.previous_id, Item.code == item.code)
    )
    if before is None:
        return False  # a new question has no trend to break
    return (before.text, before.type, before.options, before.reverse) != (
        item.text,
        item.type,
        item.options,
        item.reverse,
    )


def in_previous_version(session: Session, instrument: Instrument, code: str) -> bool:
    """Whether the version this one was copied from (the last wave's) has this question."""
    return instrument.previous_id is not None and session.scalar(
        select(Item.id).where(Item.instrument_id == instrument.previous_id, Item.code == code)
    ) is not None


@dataclass(frozen=True)
class TrendReport:
    changed: list[Item]
    added: list[Item]
    removed: list[str]


def trend_report(session: Session, instrument: Instrument) -> TrendReport | None:
    """How this version differs from the one before; None for a first version."""
    if instrument.previous_id is None:
        return None
    before = {
        item.code: item
        for item in session.scalars(select(Item).where(Item.instrument_id == instrument.previous_id))
    }
    codes = {item.code for item in instrument.items}
    return TrendReport(
        changed=[item for item in instrument.items if item.breaks_trend],
        added=[item for item in instrument.items if item.code not in before],
        removed=sorted(set(before) - codes),
    )


def move_item(session: Session, wave: Wave, item: Item, offset: int) -> None:
    items = _editable(wave).items
    index = items.index(item)
    target = index + offset
    if 0 <= target < len(items):
        items[index].position, items[target].position = items[target].position, items[index].position
    session.commit()
    session.refresh(wave.instrument)


def delete_item(session: Session, wave: Wave, item: Item) -> None:
    instrument = _editable(wave)
    instrument.items.remove(item)
    for position, remaining in enumerate(instrument.items, start=1):
        remaining.position = position
    session.commit()

