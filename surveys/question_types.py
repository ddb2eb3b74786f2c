"""Question types, as a registry from name to class.

A type turns posted form data into a draft value (plain JSON), checks a value against
the item's options (on every page, at submit and on import), describes it on the
check-your-answers page, and turns it into stored answers. Draft values:
likert/single → int, multi → list[int], text → str, number → float,
trust_matrix → {"<sector id>": {"<dimension>": int}}; an agreement question answered
"Don't know" holds DONT_KNOW, stored as an answer with no number and the text DONT_KNOW,
so every statistic (which reads the numbers) counts it as no answer.

`error` and `parse` give short messages (an import's problem list names the column
beside them); `named_error` turns one into what a respondent reads, naming its question
("Select how much you agree that …"), so an error summary listing several says which.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

AGREEMENT_5 = [
    "Strongly disagree",
    "Disagree",
    "Neither agree nor disagree",
    "Agree",
    "Strongly agree",
]
TEXT_MAX_LENGTH = 2000
# Characters no one types, which some files and spreadsheets cannot store (tab and
# line breaks are kept).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# "Don't know": its own value, never a number on the scale. Offered on agreement
# questions where the wave allows it (surveys.respondent.offers_dont_know).
DONT_KNOW = "dont_know"
DONT_KNOW_LABEL = "Don't know"
# The code "Don't know" gets in SPSS files, declared a user-missing value there.
DONT_KNOW_CODE = -1
NAME_LENGTH = 120
TRUST_LEVELS = ["Not at all", "A little", "Mostly", "Completely"]
INTENSITY_LEVELS = [
    "We know of each other",
    "We cooperate: we share information",
    "We coordinate: we plan together",
    "We are integrated: we work as one team",
]
TRUST_DIMENSIONS = {
    "reliable": ("They do what they say they will do", TRUST_LEVELS),
    "shared_mission": ("They support the goals we share for the area", TRUST_LEVELS),
    "open": ("They are open to talking things through", TRUST_LEVELS),
    "intensity": ("How closely do you work with them?", INTENSITY_LEVELS),
}


@dataclass(frozen=True)
class StoredRows:
    answers: list[tuple[str, float | None, str | None]]  # item code, numeric, text
    trust: list[tuple[int, str, int]]  # target sector id, dimension, value


def short_text(text: str, length: int = NAME_LENGTH) -> str:
    """The question's wording, cut at a word before `length` characters (with …)."""
    text = " ".join(text.split()).rstrip(".")
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def agree_that(item) -> str:
    """‘Select how much you agree that organisations here …’: the statement as a clause,
    its first letter lowered unless it is ‘I’ or an abbreviation."""
    text = short_text(item.text)
    if text.endswith("?"):
        return f"Select an answer to ‘{text}’"
    first = text.split(" ", 1)[0]
    if first != "I" and not first[:2].isupper():
        text = text[:1].lower() + text[1:]
    return f"Select how much you agree that {text}"


def choices_of(options: Mapping[str, Any]) -> list[dict]:
    return list(options.get("choices", []))


def labelled_choices(labels: list[str]) -> dict:
    return {"choices": [{"value": i, "label": label} for i, label in enumerate(labels, start=1)]}


class QuestionType:
    name: ClassVar[str]
    label: ClassVar[str]
    macro: ClassVar[str]

    def default_options(self) -> dict:
        return {}

    def option_errors(self, options: Mapping[str, Any]) -> list[str]:
        return []

    def parse(self, item, form, scope=None) -> tuple[Any, str | None]:
        """Posted data to a draft value (None when unanswered) and an error message."""
        raise NotImplementedError

    def error(self, item, value: Any) -> str | None:
        """Why a draft value is not acceptable for this item, or None."""
        raise NotImplementedError

    def rows(self, item, value: Any) -> StoredRows:
        raise NotImplementedError

    def describe(self, item, value: Any, sector_names: Mapping[int, str] | None = None) -> str:
        raise NotImplementedError

    def scale(self, item) -> tuple[float, float] | None:
        """The numeric range for the codebook; None when the answer is not a scale score."""
        return None

    def value_labels(self, item) -> dict[int, str]:
        return {}

    def is_answered(self, value: Any) -> bool:
        return value not in (None, "", [], {})

    def named_error(self, item, error: str) -> str:
        """`error` as a respondent reads it: saying which question it is about."""
        return f"{error} for ‘{short_text(item.text)}’"


class ChoiceQuestion(QuestionType):
    """One answer from a list of numbered choices."""

    missing_message = "Select an option"

    def option_errors(self, options):
        choices = choices_of(options)
        if len(choices) < 2:
            return ["Give at least two choices"]
        if len({c["value"] for c in choices}) != len(choices):
            return ["Each choice needs its own number"]
        return []

    def parse(self, item, form, scope=None):
        raw = form.get(item.code, "").strip()
        if not raw:
            return None, (self.missing_message if item.required else None)
        try:
            value = int(raw)
        except ValueError:
            return None, "Select one of the options shown"
        return value, self.error(item, value)

    def error(self, item, value):
        if value is None:
            return self.missing_message if item.required else None
        if isinstance(value, bool) or not isinstance(value, int):
            return "Select one of the options shown"
        if value not in self.value_labels(item):
            return "Select one of the options shown"
        return None

    def rows(self, item, value):
        return StoredRows([(item.code, float(value), None)] if value is not None else [], [])

    def describe(self, item, value, sector_names=None):
        return self.value_labels(item).get(value, "Not answered") if value is not None else "Not answered"

    def value_labels(self, item):
        return {c["value"]: c["label"] for c in choices_of(item.options)}


class LikertQuestion(ChoiceQuestion):
    """An agreement scale; "Don't know" (DONT_KNOW) is an answer too, though not a score."""

    name = "likert"
    label = "Agreement scale (likert)"
    macro = "radios"
    missing_message = "Select how much you agree"

    def default_options(self):
        return labelled_choices(AGREEMENT_5)

    def parse(self, item, form, scope=None):
        if form.get(item.code, "").strip() == DONT_KNOW:
            return DONT_KNOW, None
        return super().parse(item, form, scope)

    def error(self, item, value):
        return None if value == DONT_KNOW else super().error(item, value)

    def rows(self, item, value):
        if value == DONT_KNOW:
            return StoredRows([(item.code, None, DONT_KNOW)], [])
        return super().rows(item, value)

    def describe(self, item, value, sector_names=None):
        return DONT_KNOW_LABEL if value == DONT_KNOW else super().describe(item, value)

    def named_error(self, item, error):
        return agree_that(item)

    def scale(self, item):
        values = list(self.value_labels(item))
        return (min(values), max(values)) if values else None


class SingleChoiceQuestion(ChoiceQuestion):
    name = "single"
    label = "Single choice"
    macro = "radios"

    def named_error(self, item, error):
        if error == self.missing_message:
            return f"Select an answer to ‘{short_text(item.text)}’"
        return super().named_error(item, error)

    def default_options(self):
        return labelled_choices(["First choice", "Second choice"])


class MultipleChoiceQuestion(QuestionType):
    name = "multi"
    label = "Multiple choice"
    macro = "checkboxes"

    def default_options(self):
        return labelled_choices(["First choice", "Second choice"])

    option_errors = ChoiceQuestion.option_errors
    value_labels = ChoiceQuestion.value_labels

    def parse(self, item, form, scope=None):
        raw = [value for value in form.getlist(item.code) if value.strip()]
        try:
            value = sorted({int(v) for v in raw})
        except ValueError:
            return None, "Select from the options shown"
        return value, self.error(item, value)

    def error(self, item, value):
        if not value:
            return "Select at least one option" if item.required else None
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            return "Select from the options shown"
        if not set(value) <= set(self.value_labels(item)):
            return "Select from the options shown"
        return None

    def rows(self, item, value):
        return StoredRows([(item.code, float(v), None) for v in value or []], [])

    def describe(self, item, value, sector_names=None):
        labels = self.value_labels(item)
        return "; ".join(labels[v] for v in value) if value else "None selected"


class TextQuestion(QuestionType):
    name = "text"
    label = "Free text"
    macro = "textarea"

    def default_options(self):
        return {"max_length": TEXT_MAX_LENGTH}

    def option_errors(self, options):
        limit = options.get("max_length", TEXT_MAX_LENGTH)
        return [] if isinstance(limit, int) and 1 <= limit <= TEXT_MAX_LENGTH else [
            f"The length limit must be between 1 and {TEXT_MAX_LENGTH}"
        ]

    def parse(self, item, form, scope=None):
        value = CONTROL_CHARACTERS.sub("", form.get(item.code, "")).strip()
        return (value or None), self.error(item, value or None)

    def error(self, item, value):
        if not value:
            return "Enter an answer" if item.required else None
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            return "Answer must not contain control characters"
        if not isinstance(value, str):
            return "Enter an answer as text"
        limit = item.options.get("max_length", TEXT_MAX_LENGTH)
        if len(value) > limit:
            return f"Answer must be {limit} characters or fewer"
        return None

    def rows(self, item, value):
        return StoredRows([(item.code, None, value)] if value else [], [])

    def named_error(self, item, error):
        if error.startswith("Answer must be"):
            return f"Your answer to ‘{short_text(item.text)}’ must be" + error.removeprefix("Answer must be")
        if error == "Enter an answer":
            return f"Enter an answer to ‘{short_text(item.text)}’"
        return super().named_error(item, error)

    def describe(self, item, value, sector_names=None):
        return value or "Not answered"


class NumberQuestion(QuestionType):
    name = "number"
    label = "Number"
    macro = "number"

    def default_options(self):
        return {"min": 0, "max": 1000}

    def option_errors(self, options):
        low, high = options.get("min"), options.get("max")
        if not all(isinstance(v, (int, float)) for v in (low, high)) or low >= high:
            return ["Give a smallest and a largest allowed number, smallest first"]
        return []

    def parse(self, item, form, scope=None):
        raw = form.get(item.code, "").strip().replace(",", "")
        if not raw:
            return None, ("Enter a number" if item.required else None)
        try:
            value = float(raw)
        except ValueError:
            return None, "Enter a number, like 12"
        if not math.isfinite(value):
            return None, "Enter a number, like 12"
        return value, self.error(item, value)

    def error(self, item, value):
        if value is None:
            return "Enter a number" if item.required else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "Enter a number, like 12"
        low, high = item.options["min"], item.options["max"]
        if not low <= value <= high:
            return f"Enter a number between {low:g} and {high:g}"
        return None

    def rows(self, item, value):
        return StoredRows([(item.code, float(value), None)] if value is not None else [], [])

    def describe(self, item, value, sector_names=None):
        return f"{value:g}" if value is not None else "Not answered"

    def scale(self, item):
        return (item.options["min"], item.options["max"])


class TrustMatrixQuestion(QuestionType):
    """Trust in, and closeness to, each sector other than the respondent's own (1–4 each)."""

    name = "trust_matrix"
    label = "Cross-sector trust matrix"
    macro = "trust_matrix"

    def parse(self, item, form, scope=None):
        """`scope` is the sector ids shown on the page; returns only their ratings."""
        value: dict[str, dict[str, int]] = {}
        for sector_id in scope or []:
            ratings = {}
            for dimension in TRUST_DIMENSIONS:
                raw = form.get(f"{item.code}-{sector_id}-{dimension}", "").strip()
                if raw:
                    try:
                        ratings[dimension] = int(raw)
                    except ValueError:
                        return None, "Select one of the options shown"
            if ratings:
                value[str(sector_id)] = ratings
        return value, self.error(item, value)

    def error(self, item, value):
        if not value:
            return None
        if not isinstance(value, dict):
            return "Select one of the options shown"
        for ratings in value.values():
            if not isinstance(ratings, dict):
                return "Select one of the options shown"
            for dimension, rating in ratings.items():
                if dimension not in TRUST_DIMENSIONS or isinstance(rating, bool) or rating not in (1, 2, 3, 4):
                    return "Select one of the options shown"
        return None

    def rows(self, item, value):
        trust = [
            (int(sector_id), dimension, rating)
            for sector_id, ratings in (value or {}).items()
            for dimension, rating in ratings.items()
        ]
        return StoredRows([], trust)

    def describe(self, item, value, sector_names=None):
        if not value:
            return "Not answered"
        return f"{len(value)} sector{'s' if len(value) != 1 else ''} rated"

    def describe_sector(self, ratings: Mapping[str, int] | None) -> list[tuple[str, str]]:
        ratings = ratings or {}
        return [
            (question, levels[ratings[dimension] - 1] if dimension in ratings else "Not answered")
            for dimension, (question, levels) in TRUST_DIMENSIONS.items()
        ]


QUESTION_TYPES: dict[str, QuestionType] = {
    kind.name: kind()
    for kind in (
        LikertQuestion,
        SingleChoiceQuestion,
        MultipleChoiceQuestion,
        TextQuestion,
        NumberQuestion,
        TrustMatrixQuestion,
    )
}


def question_type(name: str) -> QuestionType:
    return QUESTION_TYPES[name]
