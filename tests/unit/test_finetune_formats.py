"""The rules every fine-tuning line meets before a file is kept, and the error that names the line and the rule."""

from __future__ import annotations

import pytest

from salesbot.errors import InvalidInput
from salesbot.finetune import formats
from salesbot.finetune.formats import Broken, check

SYSTEM = {"role": "system", "content": "You are the store's assistant."}
USER = {"role": "user", "content": "Do you ship to Austria?"}
ANSWER = {"role": "assistant", "content": "Yes, within 3 days.", "weight": 1}
ONLY_KEYS = "messages carry only role, content and an assistant's weight"
GOOD_SFT = {"messages": [SYSTEM, USER, ANSWER]}
REPLY = {"role": "assistant", "content": "Yes, within 3 days."}
GOOD_PAIR = {
    "input": {"messages": [SYSTEM, USER]},
    "preferred_output": [{"role": "assistant", "content": "Yes, within 3 days."}],
    "non_preferred_output": [{"role": "assistant", "content": "I don't know."}],
}


def test_good_lines_pass():
    check(GOOD_SFT, kind="sft")
    check({"messages": [USER, {"role": "assistant", "content": "Yes."}]}, kind="sft")  # weight and system optional
    check(GOOD_PAIR, kind="preference")


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ({"messages": [SYSTEM, USER]}, "the last message is the assistant's"),
        ({"messages": [SYSTEM, USER, ANSWER | {"weight": 0}]}, "an assistant message with weight 1"),
        ({"messages": [SYSTEM, USER, ANSWER | {"weight": 2}]}, "weights are 0 or 1"),
        ({"messages": [SYSTEM, USER, ANSWER | {"weight": True}]}, "weights are 0 or 1"),
        ({"messages": [SYSTEM, USER | {"weight": 1}, ANSWER]}, ONLY_KEYS),
        ({"messages": [SYSTEM, {"role": "tool", "content": "x"}, ANSWER]}, "roles are system, user, assistant"),
        ({"messages": [USER, SYSTEM, ANSWER]}, "a system message comes only first"),
        ({"messages": [SYSTEM, USER | {"content": "  "}, ANSWER]}, "content is non-empty text"),
        ({"messages": []}, "messages is a non-empty list"),
        ({"messages": [SYSTEM, USER, ANSWER], "id": 1}, "an SFT line has only `messages`"),
        ("not an object", "a line is one JSON object"),
    ],
)
def test_each_sft_rule_is_named(line, rule):
    with pytest.raises(Broken) as broken:
        check(line, kind="sft")
    assert broken.value.rule == rule


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"input": {"messages": [SYSTEM, USER, REPLY]}}, "the input's last message is the user's"),
        ({"preferred_output": []}, "preferred_output is one message"),
        ({"non_preferred_output": [USER]}, "non_preferred_output is the assistant's"),
        ({"non_preferred_output": GOOD_PAIR["preferred_output"]}, "the outputs differ"),
        ({"input": {"messages": [SYSTEM, USER | {"weight": 1}]}}, ONLY_KEYS),
    ],
)
def test_each_preference_rule_is_named(change, rule):
    with pytest.raises(Broken) as broken:
        check(GOOD_PAIR | change, kind="preference")
    assert broken.value.rule == rule


def test_a_line_over_the_token_limit_is_refused_with_its_estimate():
    long = {"messages": [SYSTEM, USER | {"content": "word " * 3000}, ANSWER]}
    check(long, kind="sft", max_tokens=6000)
    with pytest.raises(Broken, match=r"about 5,\d{3} tokens, the limit is 4,000"):
        check(long, kind="sft", max_tokens=4000)


def test_the_error_names_the_file_the_line_and_the_rule():
    error = formats.failed(name="train.jsonl", number=12, conversation_id="cv_x",
                           broken=Broken("the last message is the assistant's", "it is the user's"))  # fmt: skip
    assert isinstance(error, InvalidInput)
    assert error.detail == (
        "train.jsonl line 12: (conversation cv_x) breaks the rule the last message is the assistant's: it is the user's"
    )


def test_a_training_file_needs_ten_examples_a_validation_file_none():
    formats.check_file(name="validation.jsonl", lines=0, training=False)
    formats.check_file(name="train.jsonl", lines=10, training=True)
    with pytest.raises(InvalidInput, match="has 9 examples; a training file needs at least 10"):
        formats.check_file(name="train.jsonl", lines=9, training=True)
