"""Labelled lead-form answers from Rasa's sales demo (GPL test data in ../shared/datasets, read here at run
time and never copied): each answer to a form question with the span its annotators marked.

Used by tests/unit/test_extraction_quality.py and bench/conversations.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesbot.conversation import extract, money

RASA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rasa-demo-sales-form"
LABEL = re.compile(r"\[([^\]]+)\]\((\w+)\)")
FIELDS = {  # their entity -> our field
    "budget": "budget",
    "email": "email",
    "company": "company",
    "name": "name",
    "jobfunction": "authority",
    "job_function": "authority",
}
FORM_INTENTS = {"enter_budget", "enter_emailaddress", "enter_company", "enter_name", "enter_jobfunction"}


@dataclass(frozen=True)
class Answer:
    text: str  # the visitor's words, labels removed
    field: str  # our field the form had asked for
    span: str  # what the annotators marked


def answers(root: Path = RASA) -> list[Answer]:
    """Form answers with one labelled field each: the 2018 form intents, and today's `enter_data` examples."""
    found = _legacy(root / "legacy_2018" / "nlu.md") + _current(root / "data" / "nlu" / "nlu.yml")
    return list(dict.fromkeys(found))


def _legacy(path: Path) -> list[Answer]:
    found, intent = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## intent:"):
            intent = line.split(":", 1)[1].strip()
        elif line.startswith("- ") and intent in FORM_INTENTS:
            found += _labelled(line[2:])
    return found


def _current(path: Path) -> list[Answer]:
    found, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("- intent:"):
            inside = line.split(":", 1)[1].strip() == "enter_data"
        elif inside and line.strip().startswith("- "):
            found += _labelled(line.strip()[2:])
    return found


def _labelled(line: str) -> list[Answer]:
    labels = [(span, entity) for span, entity in LABEL.findall(line) if entity in FIELDS]
    if len(labels) != 1:
        return []
    text = LABEL.sub(lambda match: match.group(1), line).replace("\u2019", "'")
    return [Answer(text=text, field=FIELDS[labels[0][1]], span=labels[0][0])]


def extracted(answer: Answer) -> Any:
    """What the rules brain reads from the answer when it had asked for that field."""
    reader = {
        "budget": lambda text: money.budget(text, asked=True),
        "email": extract.email,
        "company": lambda text: extract.company(text, asked=True),
        "name": lambda text: extract.name(text, asked=True),
        "authority": lambda text: extract.authority(text, asked=True),
    }[answer.field]
    return reader(answer.text)


def is_right(answer: Answer, value: Any) -> bool:
    """Does the value say what the annotators marked? Budgets: the amount the marked span alone gives."""
    if value is None:
        return False
    span = answer.span.strip().lower()
    match answer.field:
        case "budget":
            return value == money.budget(answer.span, asked=True)
        case "authority":
            return bool(value.get("role")) and (span in value["role"] or value["role"] in span)
        case _:
            return str(value).strip().lower() == span
