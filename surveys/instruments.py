"""Built-in instruments: read from the TOML files beside this module into the database."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.models import Construct, Instrument, Item
from surveys.question_types import AGREEMENT_5, TEXT_MAX_LENGTH, labelled_choices

INSTRUMENT_DIR = Path(__file__).resolve().parent / "instruments"
SCALES = {"agreement-5": AGREEMENT_5}
DEFAULT_MARGIN = 0.25
# The question asking whether a respondent's free-text answers may be quoted in a
# briefing: answer 1 ("Yes") opts in; anything else, or no answer, keeps them out.
QUOTE_CONSENT_CODE = "quote_ok"
QUOTE_CONSENT_YES = 1


@dataclass(frozen=True)
class Template:
    code: str
    name: str
    instruments: tuple[str, ...]


@cache
def instrument_files() -> dict[str, dict]:
    files = {}
    for path in sorted(INSTRUMENT_DIR.glob("*.toml")):
        if path.name == "templates.toml":
            continue
        data = tomllib.loads(path.read_text())
        files[data["code"]] = data
    return files


@cache
def templates() -> tuple[tuple[Template, ...], str]:
    data = tomllib.loads((INSTRUMENT_DIR / "templates.toml").read_text())
    found = tuple(Template(t["code"], t["name"], tuple(t["instruments"])) for t in data["templates"])
    return found, data["default"]


def template(code: str) -> Template:
    return next(t for t in templates()[0] if t.code == code)


def _item_options(spec: dict, scale: str | None) -> dict:
    kind = spec.get("type", "likert")
    if kind == "likert":
        return labelled_choices(SCALES[spec.get("scale", scale)])
    if kind in ("single", "multi"):
        return labelled_choices(spec["choices"])
    if kind == "number":
        return {"min": spec["min"], "max": spec["max"]}
    if kind == "text":
        return {"max_length": spec.get("max_length", TEXT_MAX_LENGTH)}
    return {}


def ensure_builtin_instruments(session: Session) -> dict[str, Instrument]:
    """Load constructs and built-in instruments that are not in the database yet."""
    constructs = {c.code: c for c in session.scalars(select(Construct))}
    loaded = {}
    for data in instrument_files().values():
        for spec in data.get("constructs", []):
            if spec["code"] not in constructs:
                construct = Construct(
                    code=spec["code"],
                    name=spec["name"],
                    description=spec.get("description", ""),
                    group=spec["group"],
                    scale_min=1,
                    scale_max=len(SCALES[data.get("scale", "agreement-5")]),
                    default_margin=spec.get("default_margin", DEFAULT_MARGIN),
                    position=len(constructs) + 1,
                )
                session.add(construct)
                constructs[construct.code] = construct
        instrument = session.scalar(
            select(Instrument).where(Instrument.code == data["code"], Instrument.version == data["version"])
        )
        if instrument is None:
            instrument = Instrument(
                code=data["code"],
                name=data["name"],
                version=data["version"],
                description=data.get("description", ""),
                builtin=True,
            )
            for position, spec in enumerate(data["items"], start=1):
                construct = constructs.get(spec.get("construct", ""))
                instrument.items.append(
                    Item(
                        position=position,
                        code=spec["code"],
                        section=spec.get("section") or (construct.name if construct else data["name"]),
                        text=spec["text"],
                        hint=spec.get("hint", ""),
                        type=spec.get("type", "likert"),
                        options=_item_options(spec, data.get("scale")),
                        construct=construct,
                        reverse=spec.get("reverse", False),
                        required=spec.get("required", True),
                    )
                )
            session.add(instrument)
        loaded[data["code"]] = instrument
    session.flush()
    return loaded


def copy_items(source: list[Item]) -> list[Item]:
    return [
        Item(
            position=position,
            code=item.code,
            section=item.section,
            text=item.text,
            hint=item.hint,
            type=item.type,
            options=item.options,
            construct_id=item.construct_id,
            reverse=item.reverse,
            required=item.required,
        )
        for position, item in enumerate(source, start=1)
    ]


def with_quote_consent(items: list[Item]) -> list[Item]:
    """A new wave's questions, with the quote opt-in after the last free-text question
    where they ask for free text and do not yet ask it (waves of surveys made before the
    question existed), worded as in the built-in instrument."""
    texts = [index for index, item in enumerate(items) if item.type == "text"]
    if not texts or any(item.code == QUOTE_CONSENT_CODE for item in items):
        return items
    spec = next(spec for spec in instrument_files()["coordination-in-place"]["items"]
                if spec["code"] == QUOTE_CONSENT_CODE)
    after = items[texts[-1]]
    consent = Item(code=spec["code"], section=after.section, text=spec["text"], hint=spec["hint"], type=spec["type"],
                   options=_item_options(spec, None), required=spec["required"])
    found = items[: texts[-1] + 1] + [consent] + items[texts[-1] + 1:]
    for position, item in enumerate(found, start=1):
        item.position = position
    return found
