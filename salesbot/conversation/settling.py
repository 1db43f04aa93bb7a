"""The server's rules for any brain's decision (the LLM's included): a question sets no field, a captured field
changes only when the visitor corrects it, and declining the pending question is an answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from salesbot.conversation import intents
from salesbot.conversation.brains import Context, Decision


def settle(context: Context, decision: Decision) -> Decision:
    """The server's rules for any brain's values: a question sets nothing, a captured field changes only when
    the visitor corrects it, and a decline of the pending question is an answer (the field is skipped)."""
    statements = intents.statements(context.message)
    fields = decision.fields if statements else {}
    if not intents.corrects(statements):
        fields = {name: value for name, value in fields.items() if _open(context.known, name, value)}
    declined = decision.declined
    if context.asked and context.asked not in fields and intents.declines(context.message):
        declined = tuple(dict.fromkeys((*declined, context.asked)))
    understood = decision.understood or bool(declined)
    return replace(decision, fields=fields, declined=declined, understood=understood)


def _open(known: dict[str, Any], name: str, value: Any) -> bool:
    """A field a new value may fill without a correction: one not known yet, or a need the store had no shelf
    for ("a sofa") when the new one names a shelf it has."""
    if known.get(name) is None:
        return True
    return (
        name == "need" and not known[name].get("category") and isinstance(value, dict) and bool(value.get("category"))
    )
