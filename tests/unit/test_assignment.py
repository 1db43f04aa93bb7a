import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from salesbot.errors import InvalidInput
from salesbot.offers.assignment import Arm, assign, bucket, layer_slot

UNITS = [f"visitor-{n}" for n in range(100_000)]
ARMS = [Arm("control", 50), Arm("bigger-discount", 30), Arm("free-shipping", 20)]


def shares(names):
    counts = Counter(names)
    return {name: count / len(names) for name, count in counts.items()}


@pytest.fixture(scope="module")
def full_traffic():
    return [assign(seed="spring-offer", unit_id=unit, arms=ARMS) for unit in UNITS]


def test_hundred_thousand_visitors_split_within_half_a_point_of_the_weights(full_traffic):
    got = shares(full_traffic)

    assert got.keys() == {"control", "bigger-discount", "free-shipping"}
    assert got["control"] == pytest.approx(0.5, abs=0.005)
    assert got["bigger-discount"] == pytest.approx(0.3, abs=0.005)
    assert got["free-shipping"] == pytest.approx(0.2, abs=0.005)


def test_a_visitor_gets_the_same_arm_on_every_call(full_traffic):
    again = [assign(seed="spring-offer", unit_id=unit, arms=ARMS) for unit in UNITS[:2000]]

    assert again == full_traffic[:2000]


def test_a_visitor_gets_the_same_arm_in_another_process_with_another_hash_seed(full_traffic):
    script = (
        "import json, sys\n"
        "from salesbot.offers.assignment import Arm, assign\n"
        "arms = [Arm('control', 50), Arm('bigger-discount', 30), Arm('free-shipping', 20)]\n"
        "units = [f'visitor-{n}' for n in range(1000)]\n"
        "json.dump([assign(seed='spring-offer', unit_id=u, arms=arms) for u in units], sys.stdout)\n"
    )
    # A fixed PYTHONHASHSEED that differs from this process's random one: built-in hash() would disagree.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)

    assert json.loads(done.stdout) == full_traffic[:1000]


def test_bucket_is_pinned_so_live_experiments_never_reshuffle_on_upgrade():
    # Changing the hash would move visitors between arms mid-experiment; these values must never change.
    assert bucket("spring-offer", "visitor-1") == pytest.approx(0.5925598508650871, abs=1e-15)
    assert bucket("", "") == pytest.approx(0.9049687102438427, abs=1e-15)


def test_buckets_are_uniform_on_zero_to_one():
    values = np.array([bucket("spring-offer", unit) for unit in UNITS])

    assert values.min() >= 0
    assert values.max() < 1
    assert stats.kstest(values, "uniform").pvalue > 0.01


def test_traffic_of_thirty_percent_admits_about_thirty_percent_and_keeps_the_split():
    admitted = [assign(seed="spring-offer", unit_id=unit, arms=ARMS, traffic=0.3) for unit in UNITS]
    inside = [name for name in admitted if name is not None]

    assert len(inside) / len(UNITS) == pytest.approx(0.3, abs=0.005)
    # About 30,000 admitted: one point of tolerance is still over three standard errors.
    assert shares(inside) == pytest.approx({"control": 0.5, "bigger-discount": 0.3, "free-shipping": 0.2}, abs=0.01)


def test_changing_traffic_keeps_every_admitted_visitors_arm(full_traffic):
    at_30 = [assign(seed="spring-offer", unit_id=unit, arms=ARMS, traffic=0.3) for unit in UNITS]
    at_60 = [assign(seed="spring-offer", unit_id=unit, arms=ARMS, traffic=0.6) for unit in UNITS]

    for before, after, everyone in zip(at_30, at_60, full_traffic, strict=True):
        if before is not None:
            assert after == before  # raising traffic drops nobody and moves nobody
        if after is not None:
            assert after == everyone
    assert sum(name is not None for name in at_60) / len(UNITS) == pytest.approx(0.6, abs=0.005)


def test_no_traffic_admits_nobody_and_full_traffic_everybody(full_traffic):
    assert {assign(seed="spring-offer", unit_id=unit, arms=ARMS, traffic=0.0) for unit in UNITS[:1000]} == {None}
    assert None not in full_traffic


def test_different_seeds_split_independently(full_traffic):
    other = [assign(seed="summer-offer", unit_id=unit, arms=ARMS) for unit in UNITS]
    names = [arm.name for arm in ARMS]
    table = np.array([[0] * 3 for _ in range(3)])
    for first, second in zip(full_traffic, other, strict=True):
        table[names.index(first), names.index(second)] += 1

    assert stats.chi2_contingency(table).pvalue > 0.01
    spring = [bucket("spring-offer", unit) for unit in UNITS]
    summer = [bucket("summer-offer", unit) for unit in UNITS]
    assert abs(np.corrcoef(spring, summer)[0, 1]) < 0.01


def test_weights_are_relative_and_an_arm_of_weight_zero_gets_nobody():
    halves = [Arm("a", 1), Arm("b", 1)]
    doubled = [Arm("a", 2), Arm("b", 2)]
    with_paused = [Arm("a", 1), Arm("paused", 0), Arm("b", 1)]

    for unit in UNITS[:5000]:
        expected = assign(seed="s", unit_id=unit, arms=halves)
        assert assign(seed="s", unit_id=unit, arms=doubled) == expected
        assert assign(seed="s", unit_id=unit, arms=with_paused) == expected


def test_layer_slots_give_mutually_exclusive_experiments_their_share():
    slots = np.array([layer_slot(layer="checkout", unit_id=unit) for unit in UNITS])
    in_first = (slots >= 0.0) & (slots < 0.4)
    in_second = (slots >= 0.4) & (slots < 0.7)

    assert not (in_first & in_second).any()
    assert in_first.mean() == pytest.approx(0.4, abs=0.005)
    assert in_second.mean() == pytest.approx(0.3, abs=0.005)


def test_a_layer_slot_is_independent_of_an_experiment_seeded_with_the_same_name():
    slots = [layer_slot(layer="checkout", unit_id=unit) for unit in UNITS]
    arms = [bucket("checkout", unit) for unit in UNITS]
    traffic_gate = [
        assign(seed="checkout", unit_id=unit, arms=[Arm("only", 1)], traffic=0.5) is not None for unit in UNITS
    ]

    assert abs(np.corrcoef(slots, arms)[0, 1]) < 0.01
    assert abs(np.corrcoef(slots, traffic_gate)[0, 1]) < 0.01
    assert abs(np.corrcoef(arms, traffic_gate)[0, 1]) < 0.01


@pytest.mark.parametrize(
    ("arms", "traffic", "field"),
    [
        ([Arm("a", 1)], 1.5, "traffic"),
        ([Arm("a", 1)], -0.1, "traffic"),
        ([Arm("a", 1)], float("nan"), "traffic"),
        ([Arm("a", 1), Arm("b", -1)], 1.0, "arms"),
        ([Arm("a", float("nan"))], 1.0, "arms"),
        ([Arm("a", 0), Arm("b", 0)], 1.0, "arms"),
        ([], 1.0, "arms"),
    ],
)
def test_a_broken_experiment_is_refused_naming_the_field(arms, traffic, field):
    with pytest.raises(InvalidInput) as refused:
        assign(seed="s", unit_id="u", arms=arms, traffic=traffic)

    assert field in refused.value.errors
