"""A waiting conversation goes to the rep who fits best and has room, never to anyone who cannot take it."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from salesbot.errors import InvalidInput
from salesbot.inbox.routing import Candidate, Need, choose

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def rep(rep_id, *, teams=(), languages=(), categories=(), capacity=3, load=0, online=True, last=None):
    return Candidate(
        rep_id=rep_id,
        teams=frozenset(teams),
        languages=frozenset(languages),
        categories=frozenset(categories),
        capacity=capacity,
        load=load,
        online=online,
        last_assigned_at=last,
    )


def test_the_customers_owner_gets_it_when_they_are_there_with_room():
    reps = [rep("rp_idle"), rep("rp_owner", load=2, languages={"fr"})]
    assert choose(candidates=reps, need=Need(owner="rp_owner", language="de")) == "rp_owner"


@pytest.mark.parametrize(
    "owner",
    [rep("rp_owner", online=False), rep("rp_owner", load=3, capacity=3)],
    ids=["offline", "full"],
)
def test_an_owner_who_cannot_take_it_is_passed_over(owner):
    assert choose(candidates=[owner, rep("rp_other", load=2)], need=Need(owner="rp_owner")) == "rp_other"


def test_an_owner_who_let_the_offer_time_out_is_passed_over():
    reps = [rep("rp_owner"), rep("rp_other", load=2)]
    assert choose(candidates=reps, need=Need(owner="rp_owner"), skip=frozenset({"rp_owner"})) == "rp_other"


def test_an_explicit_match_beats_a_rep_who_takes_anything_who_beats_a_mismatch():
    need = Need(team="b2b", category="laptops")
    specialist = rep("rp_specialist", teams={"b2b"}, categories={"laptops"}, load=2)
    generalist = rep("rp_generalist")
    elsewhere = rep("rp_elsewhere", teams={"b2c"}, categories={"phones"})
    assert choose(candidates=[elsewhere, generalist, specialist], need=need) == "rp_specialist"
    assert choose(candidates=[elsewhere, generalist], need=need) == "rp_generalist"
    assert choose(candidates=[elsewhere], need=need) == "rp_elsewhere"


def test_more_explicit_matches_win_over_more_open_dimensions():
    need = Need(team="b2b", category="laptops")
    team_expert = rep("rp_team", teams={"b2b"}, categories={"phones"})
    open_to_all = rep("rp_open")
    assert choose(candidates=[open_to_all, team_expert], need=need) == "rp_team"


def test_a_rep_who_does_not_speak_the_language_never_gets_it():
    need = Need(language="de")
    english_only = rep("rp_en", languages={"en"})
    assert choose(candidates=[english_only], need=need) is None
    assert choose(candidates=[english_only, rep("rp_any", load=2)], need=need) == "rp_any"
    assert choose(candidates=[rep("rp_any"), rep("rp_de", languages={"de", "en"}, load=2)], need=need) == "rp_de"


def test_a_locale_counts_as_its_language():
    assert choose(candidates=[rep("rp_en", languages={"en"})], need=Need(language="de-DE")) is None
    assert choose(candidates=[rep("rp_de", languages={"de"})], need=Need(language="de_AT")) == "rp_de"


def test_nobody_offline_full_or_skipped_is_ever_chosen():
    reps = [rep("rp_away", online=False), rep("rp_full", capacity=2, load=2), rep("rp_skipped")]
    assert choose(candidates=reps, need=Need(), skip=frozenset({"rp_skipped"})) is None
    assert choose(candidates=[rep("rp_over", capacity=1, load=4)], need=Need()) is None
    assert choose(candidates=[], need=Need()) is None


def test_least_loaded_takes_the_lowest_share_of_capacity_then_the_longest_waiting():
    reps = [rep("rp_a", capacity=2, load=1), rep("rp_b", capacity=5, load=2), rep("rp_c", capacity=3, load=2)]
    assert choose(candidates=reps, need=Need()) == "rp_b"  # 2/5 < 1/2 < 2/3
    tied = [rep("rp_a", last=T0), rep("rp_b", last=T0 - timedelta(minutes=5)), rep("rp_c", last=T0)]
    assert choose(candidates=tied, need=Need()) == "rp_b"
    assert choose(candidates=[*tied, rep("rp_new")], need=Need()) == "rp_new"  # never assigned goes first
    assert choose(candidates=[rep("rp_y", last=T0), rep("rp_x", last=T0)], need=Need()) == "rp_x"


def test_round_robin_takes_whoever_waited_longest_whatever_their_load():
    reps = [rep("rp_a", load=0, last=T0), rep("rp_b", load=2, last=T0 - timedelta(minutes=1)), rep("rp_c", load=1)]
    assert choose(candidates=reps, need=Need(), policy="round_robin") == "rp_c"
    assert choose(candidates=reps[:2], need=Need(), policy="round_robin") == "rp_b"
    assert choose(candidates=reps[:2], need=Need(), policy="least_loaded") == "rp_a"


def test_round_robin_still_prefers_a_better_fit():
    reps = [rep("rp_fresh"), rep("rp_fits", teams={"b2b"}, last=T0)]
    assert choose(candidates=reps, need=Need(team="b2b"), policy="round_robin") == "rp_fits"


def test_an_unknown_policy_is_refused():
    with pytest.raises(InvalidInput, match="least_loaded"):
        choose(candidates=[rep("rp_a")], need=Need(), policy="random")


@pytest.mark.parametrize("policy", ["least_loaded", "round_robin"])
@pytest.mark.parametrize("seed", range(5))
def test_two_hundred_hand_offs_in_a_row_never_overfill_or_reach_anyone_offline(policy, seed):
    chance = random.Random(seed)
    reps = {
        f"rp_{n}": rep(
            f"rp_{n}",
            capacity=n % 5 + 1,
            online=n not in {2, 7},
            teams=chance.choice([(), ("b2b",), ("b2c",)]),
            categories=chance.choice([(), ("laptops",), ("laptops", "tablets")]),
        )
        for n in range(10)
    }
    now, nones = T0, 0
    for _ in range(200):
        now += timedelta(seconds=chance.randint(1, 90))
        busy = [c for c in reps.values() if c.load]
        if busy and chance.random() < 0.25:  # a conversation somewhere ends, freeing a seat
            freed = chance.choice(busy)
            reps[freed.rep_id] = replace(freed, load=freed.load - 1)
        need = Need(team=chance.choice([None, "b2b", "b2c"]), category=chance.choice([None, "laptops", "phones"]))
        chosen = choose(candidates=list(reps.values()), need=need, policy=policy)
        if chosen is None:
            assert all(c.load >= c.capacity for c in reps.values() if c.online)
            nones += 1
            continue
        taker = reps[chosen]
        assert taker.online
        assert taker.load < taker.capacity
        reps[chosen] = replace(taker, load=taker.load + 1, last_assigned_at=now)
    assert all(c.load <= c.capacity for c in reps.values())
    assert all(c.load == 0 for c in reps.values() if not c.online)
    assert nones > 0  # the shop ran full at times: the run did test the queue
