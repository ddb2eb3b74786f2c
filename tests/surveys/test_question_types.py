from types import SimpleNamespace

import pytest
from werkzeug.datastructures import MultiDict

from surveys.question_types import AGREEMENT_5, QUESTION_TYPES, TRUST_DIMENSIONS, labelled_choices, question_type


def item(kind: str, required: bool = True, **options):
    options = options or QUESTION_TYPES[kind].default_options()
    return SimpleNamespace(code="q1", type=kind, options=options, required=required, reverse=False)


def test_registry_has_every_type_by_name():
    assert set(QUESTION_TYPES) == {"likert", "single", "multi", "text", "number", "trust_matrix"}
    assert all(kind.name == name for name, kind in QUESTION_TYPES.items())


@pytest.mark.parametrize(
    "raw, value, error",
    [("4", 4, None), ("", None, "Select how much you agree"), ("6", 6, "Select one of the options shown"),
     ("0", 0, "Select one of the options shown"), ("x", None, "Select one of the options shown")],
)
def test_likert_parse(raw, value, error):
    assert question_type("likert").parse(item("likert"), MultiDict({"q1": raw})) == (value, error)


def test_optional_questions_may_be_left_blank():
    for kind in ("likert", "single", "multi", "text", "number"):
        assert question_type(kind).parse(item(kind, required=False), MultiDict())[1] is None


def test_likert_scale_and_labels():
    likert = item("likert")
    assert question_type("likert").scale(likert) == (1, 5)
    assert question_type("likert").describe(likert, 5) == AGREEMENT_5[4]


def test_multi_choice():
    multi = item("multi")
    kind = question_type("multi")
    assert kind.parse(multi, MultiDict([("q1", "2"), ("q1", "1"), ("q1", "2")])) == ([1, 2], None)
    assert kind.parse(multi, MultiDict([("q1", "9")]))[1] == "Select from the options shown"
    assert kind.parse(multi, MultiDict())[1] == "Select at least one option"
    assert kind.rows(multi, [1, 2]).answers == [("q1", 1.0, None), ("q1", 2.0, None)]


def test_text_limits():
    text = item("text", max_length=10)
    kind = question_type("text")
    assert kind.parse(text, MultiDict({"q1": "  hello  "})) == ("hello", None)
    assert kind.parse(text, MultiDict({"q1": "x" * 11}))[1] == "Answer must be 10 characters or fewer"
    assert kind.error(text, 12) == "Enter an answer as text"


@pytest.mark.parametrize(
    "raw, error",
    [("12", None), ("1,200", "Enter a number between 0 and 1000"), ("-1", "Enter a number between 0 and 1000"),
     ("ten", "Enter a number, like 12"), ("nan", "Enter a number, like 12"), ("inf", "Enter a number, like 12")],
)
def test_number_parse(raw, error):
    assert question_type("number").parse(item("number"), MultiDict({"q1": raw}))[1] == error


def test_trust_matrix_parses_only_the_sectors_on_the_page():
    matrix = item("trust_matrix", required=False, dummy=True)
    kind = question_type("trust_matrix")
    form = MultiDict({"q1-7-reliable": "3", "q1-7-intensity": "2", "q1-8-reliable": "4"})
    assert kind.parse(matrix, form, scope=[7]) == ({"7": {"reliable": 3, "intensity": 2}}, None)
    assert kind.parse(matrix, MultiDict({"q1-7-open": "5"}), scope=[7])[1] == "Select one of the options shown"
    rows = kind.rows(matrix, {"7": {"reliable": 3}})
    assert rows.trust == [(7, "reliable", 3)] and rows.answers == []
    assert [q for q, _ in kind.describe_sector({"open": 2})] == [q for q, _ in TRUST_DIMENSIONS.values()]


def test_choice_options_are_checked_for_the_editor():
    assert question_type("single").option_errors(labelled_choices(["Only one"])) == ["Give at least two choices"]
    assert question_type("number").option_errors({"min": 5, "max": 1}) != []
    assert question_type("likert").option_errors(labelled_choices(AGREEMENT_5)) == []


def test_values_smuggled_into_a_draft_are_refused():
    assert question_type("likert").error(item("likert"), True) == "Select one of the options shown"
    assert question_type("likert").error(item("likert"), "4") == "Select one of the options shown"
    assert question_type("multi").error(item("multi"), "1") == "Select from the options shown"
    assert question_type("trust_matrix").error(item("trust_matrix"), {"7": {"nonsense": 1}})
