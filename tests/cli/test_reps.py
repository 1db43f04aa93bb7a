"""Operators add sales reps from the command line; each gets a key of their own."""

from datetime import UTC, datetime, timedelta

import pytest

from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.cli import main
from salesbot.inbox import reps

ANNA = ["reps", "create", "--name", "Anna Berg", "--email", "Anna@Shop.example"]


def test_a_new_reps_key_is_printed_once_and_signs_in_as_that_rep(runner, services):
    created = runner.invoke(main, [*ANNA, "--teams", "b2b, enterprise", "--languages", "DE,en", "--capacity", "5"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("sk_")
    assert len(created.stdout.splitlines()) == 1
    assert "not shown again" in created.stderr
    holder = keys.authenticate(uow=services.uow(), secret=secret)
    assert holder.role is Role.REP
    rep = reps.for_key(uow=services.uow(), key_id=holder.key_id)
    assert (rep.name, rep.email, rep.teams, rep.languages, rep.capacity) == (
        "Anna Berg",
        "anna@shop.example",
        ["b2b", "enterprise"],
        ["de", "en"],
        5,
    )
    assert rep.id.startswith("rp_")


def test_the_list_shows_each_rep_and_whether_they_are_online(runner, services):
    assert runner.invoke(main, ["reps", "list"]).output.startswith("no reps yet")
    runner.invoke(main, [*ANNA, "--categories", "laptops,tablets"])
    listed = runner.invoke(main, ["reps", "list"])
    assert listed.exit_code == 0
    header, _, row = listed.output.splitlines()[:3]
    assert header.split() == ["id", "name", "email", "teams", "languages", "categories", "capacity", "presence", "seen"]
    for shown in ("Anna Berg", "anna@shop.example", "laptops,tablets"):
        assert shown in row
    assert row.split()[-2:] == ["away", "-"]
    anna = reps.get_all(uow=services.uow())[0]
    reps.set_presence(uow=services.uow(), rep_id=anna.id, status="online", now=datetime.now(UTC))
    assert " online " in runner.invoke(main, ["reps", "list"]).output


def test_an_address_already_in_use_gets_one_clear_line(runner):
    first = runner.invoke(main, ANNA)
    again = runner.invoke(main, ["reps", "create", "--name", "Anna B.", "--email", "anna@shop.example"])
    assert again.exit_code == 1
    assert again.stdout == ""
    assert again.stderr.strip().splitlines() == [
        f"Error: email: anna@shop.example is already used by rep {_rep_id(runner)}"
    ]
    assert first.exit_code == 0
    assert len(runner.invoke(main, ["keys", "list"]).output.splitlines()) == 3  # no second key was made


def test_a_language_that_is_not_an_iso_code_is_refused(runner):
    refused = runner.invoke(main, [*ANNA, "--languages", "en,german"])
    assert refused.exit_code == 1
    assert "languages: 'german': not ISO 639-1 codes like en, de" in refused.stderr
    assert "Traceback" not in refused.output
    assert runner.invoke(main, ["reps", "list"]).output.startswith("no reps yet")


def _rep_id(runner):
    return runner.invoke(main, ["reps", "list"]).output.splitlines()[2].split()[0]


def test_a_rep_whose_console_went_quiet_is_listed_as_away(runner, services, settings):
    runner.invoke(main, ANNA)
    anna = reps.get_all(uow=services.uow())[0]
    long_ago = datetime.now(UTC) - timedelta(seconds=settings.presence_seconds + 5)
    reps.set_presence(uow=services.uow(), rep_id=anna.id, status="online", now=long_ago)
    assert " away " in runner.invoke(main, ["reps", "list"]).output
    reps.heard_from(uow=services.uow(), rep_id=anna.id, now=datetime.now(UTC))
    assert " online " in runner.invoke(main, ["reps", "list"]).output


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--capacity", "0"], "capacity: must be a whole number from 1 to 100"),
        (["--capacity", "101"], "capacity: must be a whole number from 1 to 100"),
        (["--email", "anna.shop.example"], "email: 'anna.shop.example' is not an e-mail address"),
        (["--name", " "], "name: must be 1 to 200 characters"),
        (["--teams", "b2b,,x" + "y" * 100], "teams: each must be 1 to 100 characters"),
    ],
)
def test_other_mistakes_are_named(runner, extra, problem):
    refused = runner.invoke(main, [*ANNA, *extra])
    assert refused.exit_code == 1
    assert refused.stderr.strip() == f"Error: {problem}"
