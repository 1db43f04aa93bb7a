"""A trigger a marketer sets is checked before it is saved: each wrong value is named with what is wrong with it,
each kind takes its own setting and no other, and the loader gets the active ones, highest priority first."""

import pytest

from salesbot.errors import InvalidInput, NotFound
from salesbot.widget import triggers

LINGER = {"name": "Linger", "kind": "time_on_page", "seconds": 30, "message": "Can I help you choose?"}


def make(services, **values):
    return triggers.create(uow=services.uow(), **(LINGER | values))


def refused(services, **values) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as refusal:
        make(services, **values)
    assert triggers.get_all(uow=services.uow()) == []  # nothing saved
    return refusal.value.errors


def test_a_cart_value_trigger_without_an_amount_is_told_what_it_needs(services):
    errors = refused(services, kind="cart_value", seconds=None)
    assert errors == {"amount": ["a cart_value trigger needs the cart total that fires it"]}


@pytest.mark.parametrize(
    ("kind", "values", "stray"),
    [
        ("exit_intent", {"seconds": 30}, "seconds"),
        ("cart_value", {"seconds": None, "amount": 50, "category": "shoes"}, "category"),
        ("viewed_category", {"seconds": None, "category": "shoes", "amount": 50}, "amount"),
        ("time_on_page", {"seconds": 30, "amount": 50}, "amount"),
    ],
)
def test_a_setting_of_another_kind_is_refused_by_name(services, kind, values, stray):
    errors = refused(services, kind=kind, **values)
    assert list(errors) == [stray]
    assert f"leave it out of {kind} triggers" in errors[stray][0]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("kind", "popup", "must be one of time_on_page, exit_intent, cart_value, viewed_category"),
        ("seconds", 0, "from 1 to 3600"),
        ("seconds", 3601, "from 1 to 3600"),
        ("seconds", None, "needs the seconds on the page"),
        ("message", "   ", "must not be empty"),
        ("message", "x" * 501, "at most 500 characters"),
        ("message", "a\x00b", "NUL"),
        ("name", "", "must not be empty"),
        ("max_shows", 0, "from 1 to 100"),
        ("max_shows", 101, "from 1 to 100"),
        ("hours_between", -1, "from 0 to 8760"),
        ("hours_between", 8761, "from 0 to 8760"),
        ("priority", True, "whole number"),
        ("active", "yes", "true or false"),
    ],
)
def test_each_wrong_value_is_named_with_its_problem(services, field, value, words):
    errors = refused(services, **{field: value})
    assert list(errors) == [field]
    assert words in errors[field][0]


@pytest.mark.parametrize("amount", [0, -5, float("nan"), float("inf")])
def test_a_cart_total_must_be_above_zero(services, amount):
    errors = refused(services, kind="cart_value", seconds=None, amount=amount)
    assert errors == {"amount": ["must be a cart total above 0"]}


def test_every_wrong_field_is_named_at_once(services):
    errors = refused(services, name=" ", message="", max_shows=500)
    assert set(errors) == {"name", "message", "max_shows"}


def test_texts_are_stripped_and_unset_values_have_their_defaults(services):
    made = make(services, name="  Linger ", message="  Can I help?  ")
    assert (made.name, made.message) == ("Linger", "Can I help?")
    assert (made.max_shows, made.hours_between, made.active, made.priority) == (1, 24, True, 0)
    assert made.id.startswith("trg_")


def test_an_update_changes_only_what_is_sent(services):
    made = make(services, priority=5)
    changed = triggers.update(uow=services.uow(), trigger_id=made.id, message="Need a hand?")
    assert (changed.message, changed.seconds, changed.priority) == ("Need a hand?", 30, 5)
    assert changed.updated_at >= made.updated_at


def test_a_new_kind_drops_the_old_setting_and_needs_its_own(services):
    made = make(services)
    with pytest.raises(InvalidInput) as refusal:
        triggers.update(uow=services.uow(), trigger_id=made.id, kind="cart_value")
    assert list(refusal.value.errors) == ["amount"]
    assert triggers.get(uow=services.uow(), trigger_id=made.id).kind == "time_on_page"  # unchanged
    changed = triggers.update(uow=services.uow(), trigger_id=made.id, kind="cart_value", amount=80.0)
    assert (changed.kind, changed.amount, changed.seconds) == ("cart_value", 80.0, None)


def test_the_loader_gets_the_active_triggers_highest_priority_first(services):
    low = make(services, name="low", priority=1)
    make(services, name="paused", priority=9, active=False)
    high = make(services, name="high", kind="viewed_category", seconds=None, category="Shoes", priority=7)
    loaded = triggers.for_site(uow=services.uow())
    assert [t["trigger_id"] for t in loaded] == [high.id, low.id]
    assert loaded[0] == {
        "trigger_id": high.id, "kind": "viewed_category", "seconds": None, "amount": None, "category": "Shoes",
        "message": "Can I help you choose?", "max_shows": 1, "hours_between": 24,
    }  # fmt: skip


@pytest.mark.parametrize("verb", [triggers.get, triggers.delete])
def test_an_unknown_trigger_is_not_found(services, verb):
    with pytest.raises(NotFound):
        verb(uow=services.uow(), trigger_id="trg_unknown")
