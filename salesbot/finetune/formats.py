"""The rules every line of a fine-tuning file meets, checked before a file is kept (OpenAI's chat fine-tuning
formats, which other hosted and local trainers read too).

SFT (`kind` sft), one conversation a line: `{"messages": [{"role", "content", "weight"?}, ...]}`: roles system, user
and assistant; a system message only first; non-empty text content; `weight` 0 or 1 and only on assistant messages;
the last message from the assistant, and at least one assistant message with weight 1.
Preference (`kind` preference, for DPO): `{"input": {"messages": [...]}, "preferred_output": [message],
"non_preferred_output": [message]}`: the input's messages as above without weights and its last from the user; each
output exactly one non-empty assistant message, and the two outputs different.
Every line: its token estimate within the export's limit. Every training file: at least `MIN_EXAMPLES` lines.
"""

from __future__ import annotations

import math
from typing import Any

from salesbot.errors import InvalidInput

SCHEMA_VERSION = "salesbot-finetune/1"  # this module's rules and the manifest's fields; changes only by adding
KINDS = ("sft", "preference")
ROLES = ("system", "user", "assistant")
MIN_EXAMPLES = 10
MAX_TOKENS = 16_384
CHARS_PER_TOKEN = 3  # JSON and non-English text run denser than English prose's 4 characters a token
TOKENS_PER_MESSAGE = 4  # the role and the separators around each message


class Broken(Exception):
    """A line breaks a rule: `rule` names it, the message says how."""

    def __init__(self, rule: str, how: str) -> None:
        super().__init__(f"{rule}: {how}")
        self.rule = rule


def tokens(messages: list[dict[str, Any]]) -> int:
    """An estimate of the tokens a list of messages takes, on the high side."""
    return sum(TOKENS_PER_MESSAGE + math.ceil(len(str(m.get("content") or "")) / CHARS_PER_TOKEN) for m in messages)


def line_tokens(line: dict[str, Any]) -> int:
    """The estimate for a whole line: the conversation, or the input with the longer of the two outputs."""
    if "messages" in line:
        return tokens(line["messages"])
    outputs = (line.get("preferred_output") or [], line.get("non_preferred_output") or [])
    return tokens(line["input"]["messages"]) + max(tokens(list(output)) for output in outputs)


def check(line: Any, *, kind: str, max_tokens: int = MAX_TOKENS) -> None:
    """Nothing when `line` meets every rule of `kind`; else `Broken` naming the first rule it breaks."""
    if not isinstance(line, dict):
        raise Broken("a line is one JSON object", f"got {type(line).__name__}")
    if kind == "sft":
        _sft(line)
    else:
        _preference(line)
    if (estimate := line_tokens(line)) > max_tokens:
        raise Broken("tokens within the limit", f"about {estimate:,} tokens, the limit is {max_tokens:,}")


def check_file(*, name: str, lines: int, training: bool) -> None:
    """A training file needs `MIN_EXAMPLES` lines or more (trainers refuse fewer)."""
    if training and lines < MIN_EXAMPLES:
        raise InvalidInput.for_field(
            name,
            f"has {lines} examples; a training file needs at least {MIN_EXAMPLES} (widen the filters or the dates)",
        )


def failed(*, name: str, number: int, conversation_id: str, broken: Broken) -> InvalidInput:
    """The error for a line that breaks a rule: the file, the line number and the rule."""
    return InvalidInput.for_field(f"{name} line {number}", f"(conversation {conversation_id}) breaks the rule {broken}")


def _sft(line: dict[str, Any]) -> None:
    if set(line) != {"messages"}:
        raise Broken("an SFT line has only `messages`", f"keys {sorted(line)}")
    messages = _messages(line["messages"], weights=True)
    if messages[-1]["role"] != "assistant":
        raise Broken("the last message is the assistant's", f"it is the {messages[-1]['role']}'s")
    if not any(m["role"] == "assistant" and m.get("weight", 1) == 1 for m in messages):
        raise Broken("an assistant message with weight 1", "every assistant message has weight 0")


def _preference(line: dict[str, Any]) -> None:
    if set(line) != {"input", "preferred_output", "non_preferred_output"}:
        raise Broken("a preference line has input, preferred_output and non_preferred_output", f"keys {sorted(line)}")
    if not isinstance(line["input"], dict) or set(line["input"]) != {"messages"}:
        raise Broken("the input has only `messages`", "it is not an object with messages")
    messages = _messages(line["input"]["messages"], weights=False)
    if messages[-1]["role"] != "user":
        raise Broken("the input's last message is the user's", f"it is the {messages[-1]['role']}'s")
    outputs = [_output(line[name], name) for name in ("preferred_output", "non_preferred_output")]
    if outputs[0] == outputs[1]:
        raise Broken("the outputs differ", "preferred and non-preferred output are the same")


def _output(output: Any, name: str) -> str:
    if not isinstance(output, list) or len(output) != 1:
        raise Broken(f"{name} is one message", "it is not a list of exactly one message")
    (message,) = _messages(output, weights=False)
    if message["role"] != "assistant":
        raise Broken(f"{name} is the assistant's", f"it is the {message['role']}'s")
    return message["content"]


def _messages(messages: Any, *, weights: bool) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise Broken("messages is a non-empty list", "it is empty or not a list")
    for number, message in enumerate(messages, 1):
        _message(message, number, first=number == 1, weights=weights)
    return messages


def _message(message: Any, number: int, *, first: bool, weights: bool) -> None:
    if not isinstance(message, dict):
        raise Broken("each message is an object", f"message {number} is not")
    role = message.get("role")
    if role not in ROLES:
        raise Broken(f"roles are {', '.join(ROLES)}", f"message {number} has role {role!r}")
    if role == "system" and not first:
        raise Broken("a system message comes only first", f"message {number} is a system message")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise Broken("content is non-empty text", f"message {number} has {'none' if not content else 'no text'}")
    allowed = {"role", "content"} | ({"weight"} if weights and role == "assistant" else set())
    if extra := set(message) - allowed:
        raise Broken("messages carry only role, content and an assistant's weight", f"message {number}: {extra}")
    if ("weight" in message and message["weight"] not in (0, 1)) or isinstance(message.get("weight"), bool):
        raise Broken("weights are 0 or 1", f"message {number} has weight {message['weight']!r}")
