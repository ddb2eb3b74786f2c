"""A workshop's stages, as a registry from stored name to class: what each stage lets a
participant do and see, and which templates draw it. The console moves the room through
them in ORDER."""

from __future__ import annotations

from typing import ClassVar


class Stage:
    name: ClassVar[str]
    title: ClassVar[str]
    # What the participant's phone shows, under templates/codesign/participant/.
    participant_template: ClassVar[str | None]
    instruction: ClassVar[str]
    takes_ideas: ClassVar[bool] = False
    takes_dots: ClassVar[bool] = False
    shows_ideas: ClassVar[bool] = False
    is_open: ClassVar[bool] = True  # participants can join and follow it


class Preparing(Stage):
    name = "preparing"
    title = "Preparing"
    participant_template = None  # no phone reaches it: a workshop gets its join code as it opens
    instruction = "The workshop has not started yet."
    is_open = False


class Review(Stage):
    name = "review"
    title = "Review the results"
    participant_template = "review.html"
    instruction = "Look at what the survey found, and at the actions from earlier workshops."


class Ideas(Stage):
    name = "ideas"
    title = "Ideas"
    participant_template = "ideas.html"
    instruction = "Add your ideas. Each one can be up to 280 characters."
    takes_ideas = True
    shows_ideas = True


class Clustering(Stage):
    name = "cluster"
    title = "Group the ideas"
    participant_template = "ideas.html"
    instruction = "The facilitator is grouping similar ideas together."
    shows_ideas = True


class DotVote(Stage):
    name = "vote"
    title = "Dot vote"
    participant_template = "vote.html"
    instruction = "Place your dots on the ideas you most want to happen. You can move them until voting closes."
    takes_dots = True
    shows_ideas = True


class Prioritise(Stage):
    name = "prioritise"
    title = "Prioritise"
    participant_template = "ideas.html"
    instruction = "The room is placing the groups of ideas by impact and effort."
    shows_ideas = True


class Actions(Stage):
    name = "actions"
    title = "Agree actions"
    participant_template = "summary.html"
    instruction = "The room is agreeing who will do what, and by when."


class Finished(Stage):
    name = "finished"
    title = "Finished"
    participant_template = "summary.html"
    instruction = "The workshop has finished. Thank you for taking part."


STAGES: dict[str, type[Stage]] = {
    stage.name: stage for stage in (Preparing, Review, Ideas, Clustering, DotVote, Prioritise, Actions, Finished)
}
ORDER: tuple[str, ...] = tuple(STAGES)


def stage_of(name: str) -> type[Stage]:
    return STAGES[name]


def next_stage(name: str) -> str | None:
    position = ORDER.index(name)
    return ORDER[position + 1] if position + 1 < len(ORDER) else None


def previous_stage(name: str) -> str | None:
    """The stage before, never back to preparing: a workshop opened keeps its code."""
    position = ORDER.index(name)
    return ORDER[position - 1] if position > 1 else None
