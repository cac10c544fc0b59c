"""Osprey's conversation templates (Vicuna v1 separators) and its evaluation prompt.

The released training scripts pass `--version v1`, Vicuna v1's template, whose system text speaks
of a "user"; the released evaluation asks with Osprey's `osprey_v1`, whose system text speaks of a
"human"; both share roles and separators."""

from __future__ import annotations

from dataclasses import dataclass

#: the system text of training conversations (Vicuna v1's template)
TRAINING_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                   "The assistant gives helpful, detailed, and polite answers to the user's questions.")
#: the system text of the evaluation prompt (Osprey's `osprey_v1`)
EVAL_SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. "
               "The assistant gives helpful, detailed, and polite answers to the human's questions.")
ROLES = ("USER", "ASSISTANT")
SEP = " "
SEP2 = "</s>"
IMAGE_PLACEHOLDER = "<image>"
REGION_PLACEHOLDER = "<mask><pos>"
# the first turn's image overview, as Osprey's training data opens it
IMAGE_INTRO = "<image>\nThis provides an overview of the picture.\n"
# Osprey's open-vocabulary segmentation evaluation: its "<image>.\n" overview, which Osprey's
# preprocessing turns into "<image>\n.\n" (the placeholder moved to the start on a line of its
# own), then the short-phrase question
EVAL_INTRO = "<image>\n.\nThis provides an overview of the picture.\n"
EVAL_QUESTION = "What is in <mask><pos>? Using a short phrase."


@dataclass(frozen=True)
class Turn:
    """One exchange: the user's message and the assistant's answer (None: to be generated)."""

    question: str
    answer: str | None = None


def prompt_text(turns: list[Turn], system: str = TRAINING_SYSTEM) -> str:
    """The prompt: system, then `USER: q ASSISTANT: a</s>` turns; an open last turn ends with
    `ASSISTANT:`."""
    text = system + SEP
    for turn in turns:
        text += f"{ROLES[0]}: {turn.question}{SEP}{ROLES[1]}:"
        if turn.answer is not None:
            text += f" {turn.answer}{SEP2}"
    return text


def region_question() -> str:
    """The evaluation prompt for one region, preceded by the evaluation's image overview."""
    return EVAL_INTRO + EVAL_QUESTION
