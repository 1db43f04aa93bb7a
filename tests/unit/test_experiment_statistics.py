import math

import numpy as np
import pytest
from scipy import integrate, stats

from salesbot.errors import InvalidInput
from salesbot.offers.statistics import (
    SRM_THRESHOLD,
    Means,
    Proportions,
    breached,
    compare_means,
    compare_proportions,
    minimum_detectable_effect,
    sample_ratio_p_value,
)

Z95 = stats.norm.ppf(0.975)


def fields(result):
    return [getattr(result, name) for name in result.__dataclass_fields__]


def beta_integral(conversions_a, units_a, conversions_b, units_b):
    """P(rate b > rate a) = integral of pdf_b(x) * cdf_a(x) dx, by scipy's adaptive quadrature."""
    a = stats.beta(conversions_a + 1, units_a - conversions_a + 1)
    b = stats.beta(conversions_b + 1, units_b - conversions_b + 1)
    value, _ = integrate.quad(lambda x: b.pdf(x) * a.cdf(x), 0, 1, points=[a.mean(), b.mean()], limit=200)
    return value


def beta_monte_carlo(conversions_a, units_a, conversions_b, units_b, draws=200_000):
    rng = np.random.default_rng(20240601)
    a = rng.beta(conversions_a + 1, units_a - conversions_a + 1, draws)
    b = rng.beta(conversions_b + 1, units_b - conversions_b + 1, draws)
    return float((b > a).mean())


# --- conversion rates ---


def test_ten_against_twelve_percent_by_hand():
    result = compare_proportions(conversions_a=100, units_a=1000, conversions_b=120, units_b=1000)

    assert result.rate_a == pytest.approx(0.10)
    assert result.rate_b == pytest.approx(0.12)
    assert result.uplift == pytest.approx(0.20)
    # Delta method on b/a: var = var_b / a**2 + b**2 * var_a / a**4
    #   var_a = 0.1 * 0.9 / 1000 = 9e-5, var_b = 0.12 * 0.88 / 1000 = 1.056e-4
    #   var = 1.056e-4 / 0.01 + 0.0144 * 9e-5 / 1e-4 = 0.01056 + 0.01296 = 0.02352
    half = Z95 * math.sqrt(0.02352)
    assert result.uplift_low == pytest.approx(0.20 - half)
    assert result.uplift_high == pytest.approx(0.20 + half)
    assert result.uplift_low == pytest.approx(-0.1006, abs=1e-4)


@pytest.mark.parametrize(
    ("conversions_a", "units_a", "conversions_b", "units_b"),
    [(100, 1000, 120, 1000), (30, 1000, 52, 1100), (3000, 100_000, 3150, 100_000), (480, 500, 490, 500)],
)
def test_p_value_is_scipys_two_proportion_z_test(conversions_a, units_a, conversions_b, units_b):
    result = compare_proportions(
        conversions_a=conversions_a, units_a=units_a, conversions_b=conversions_b, units_b=units_b
    )

    pooled = (conversions_a + conversions_b) / (units_a + units_b)
    z = (conversions_b / units_b - conversions_a / units_a) / math.sqrt(
        pooled * (1 - pooled) * (1 / units_a + 1 / units_b)
    )
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    # The pooled z-test squared is the 2x2 chi-square test without continuity correction: a second reference.
    table = [[conversions_a, units_a - conversions_a], [conversions_b, units_b - conversions_b]]
    assert result.p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)


@pytest.mark.parametrize(
    ("conversions_a", "units_a", "conversions_b", "units_b"),
    [
        (10, 100, 15, 100),
        (120, 1000, 100, 1000),
        (100, 1000, 120, 1000),
        (90, 100, 80, 100),
        (0, 50, 3, 40),
        (480, 500, 490, 500),
        (3000, 100_000, 3150, 100_000),
        (5, 5, 5, 5),
    ],
)
def test_chance_to_beat_matches_the_beta_integral_and_a_monte_carlo_draw(
    conversions_a, units_a, conversions_b, units_b
):
    result = compare_proportions(
        conversions_a=conversions_a, units_a=units_a, conversions_b=conversions_b, units_b=units_b
    )

    assert result.chance_to_beat == pytest.approx(
        beta_integral(conversions_a, units_a, conversions_b, units_b), abs=1e-7
    )
    assert result.chance_to_beat == pytest.approx(
        beta_monte_carlo(conversions_a, units_a, conversions_b, units_b), abs=0.01
    )


def test_chance_to_beat_is_symmetric_and_a_coin_flip_between_equal_arms():
    b_ahead = compare_proportions(conversions_a=40, units_a=900, conversions_b=55, units_b=1000)
    a_ahead = compare_proportions(conversions_a=55, units_a=1000, conversions_b=40, units_b=900)
    equal = compare_proportions(conversions_a=40, units_a=900, conversions_b=40, units_b=900)

    assert b_ahead.chance_to_beat + a_ahead.chance_to_beat == pytest.approx(1.0, abs=1e-12)
    assert equal.chance_to_beat == pytest.approx(0.5, abs=1e-12)


def test_chance_to_beat_for_a_million_units_at_half_conversion_is_exact_and_quick():
    # Half a million terms at worst; the normal approximation agrees to 1e-7 at this size.
    result = compare_proportions(conversions_a=500_000, units_a=1_000_000, conversions_b=501_000, units_b=1_000_000)

    normal = stats.norm.cdf(0.001 / math.sqrt(2 * 0.25 / 1_000_000))
    assert result.chance_to_beat == pytest.approx(normal, abs=1e-6)


def test_an_arm_without_units_has_no_rate_and_nothing_is_compared():
    empty_b = compare_proportions(conversions_a=10, units_a=100, conversions_b=0, units_b=0)
    both_empty = compare_proportions(conversions_a=0, units_a=0, conversions_b=0, units_b=0)

    assert empty_b == Proportions(0.1, None, None, None, None, None, None)
    assert fields(both_empty) == [None] * 7


def test_no_conversions_in_control_has_no_relative_uplift_but_a_p_value():
    result = compare_proportions(conversions_a=0, units_a=1000, conversions_b=12, units_b=1000)

    assert result.rate_a == 0.0
    assert (result.uplift, result.uplift_low, result.uplift_high) == (None, None, None)
    assert result.p_value == pytest.approx(stats.chi2_contingency([[0, 1000], [12, 988]], correction=False).pvalue)
    assert result.chance_to_beat == pytest.approx(beta_integral(0, 1000, 12, 1000), abs=1e-7)


def test_no_conversions_anywhere_is_no_evidence_of_a_difference():
    result = compare_proportions(conversions_a=0, units_a=1000, conversions_b=0, units_b=1000)

    assert result.p_value == 1.0
    assert result.chance_to_beat == pytest.approx(0.5)
    assert result.uplift is None


def test_everyone_converting_in_both_arms_is_no_difference_with_a_point_interval():
    result = compare_proportions(conversions_a=200, units_a=200, conversions_b=300, units_b=300)

    assert (result.rate_a, result.rate_b) == (1.0, 1.0)
    assert (result.uplift, result.uplift_low, result.uplift_high) == (0.0, 0.0, 0.0)
    assert result.p_value == 1.0
    assert 0.0 <= result.chance_to_beat <= 1.0


@pytest.mark.parametrize(
    ("conversions_a", "units_a", "field"),
    [(5, -1, "units_a"), (-1, 10, "conversions_a"), (11, 10, "conversions_a")],
)
def test_impossible_counts_are_refused_naming_the_field(conversions_a, units_a, field):
    with pytest.raises(InvalidInput) as refused:
        compare_proportions(conversions_a=conversions_a, units_a=units_a, conversions_b=1, units_b=10)

    assert field in refused.value.errors


# --- means from aggregates ---


def aggregates(values):
    values = np.asarray(values, dtype=float)
    return len(values), float(values.sum()), float((values * values).sum())


def compare_values(values_a, values_b):
    count_a, sum_a, squares_a = aggregates(values_a)
    count_b, sum_b, squares_b = aggregates(values_b)
    return compare_means(
        count_a=count_a,
        sum_a=sum_a,
        sum_squares_a=squares_a,
        count_b=count_b,
        sum_b=sum_b,
        sum_squares_b=squares_b,
    )


@pytest.mark.parametrize(
    ("size_a", "size_b", "shift"), [(40, 25, 3.0), (2000, 1500, 0.5), (1_000_000, 1_000_000, 0.02)]
)
def test_welch_p_value_from_sums_is_scipys(size_a, size_b, shift):
    rng = np.random.default_rng(size_a)
    order_values_a = rng.gamma(2.0, 30.0, size_a)  # skewed and positive, like basket values
    order_values_b = rng.gamma(2.0, 30.0, size_b) * 1.05 + shift

    result = compare_values(order_values_a, order_values_b)

    raw = stats.ttest_ind(order_values_b, order_values_a, equal_var=False)
    from_stats = stats.ttest_ind_from_stats(
        order_values_b.mean(), order_values_b.std(ddof=1), size_b,
        order_values_a.mean(), order_values_a.std(ddof=1), size_a,
        equal_var=False,
    )  # fmt: skip
    assert result.mean_a == pytest.approx(order_values_a.mean(), rel=1e-12)
    assert result.mean_b == pytest.approx(order_values_b.mean(), rel=1e-12)
    assert result.p_value == pytest.approx(from_stats.pvalue, rel=1e-6, abs=1e-300)
    assert result.p_value == pytest.approx(raw.pvalue, rel=1e-6, abs=1e-300)


def test_means_uplift_interval_by_hand():
    # a: mean 50, variance 400 over 100 units -> se2 4; b: mean 55, variance 900 over 100 units -> se2 9
    # var(b/a) = 9 / 2500 + 3025 * 4 / 6_250_000 = 0.0036 + 0.001936 = 0.005536
    result = compare_means(
        count_a=100,
        sum_a=5000,
        sum_squares_a=99 * 400 + 100 * 50**2,
        count_b=100,
        sum_b=5500,
        sum_squares_b=99 * 900 + 100 * 55**2,
    )

    half = Z95 * math.sqrt(0.005536)
    assert result.uplift == pytest.approx(0.10)
    assert (result.uplift_low, result.uplift_high) == pytest.approx((0.10 - half, 0.10 + half))
    expected = stats.ttest_ind_from_stats(55, 30, 100, 50, 20, 100, equal_var=False).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9)


def test_an_arm_without_units_has_no_mean_and_nothing_is_compared():
    result = compare_means(count_a=0, sum_a=0, sum_squares_a=0, count_b=3, sum_b=30, sum_squares_b=302)

    assert result == Means(None, 10.0, None, None, None, None)


def test_one_unit_gives_a_mean_and_uplift_but_no_variance_to_test_with():
    result = compare_means(count_a=1, sum_a=20, sum_squares_a=400, count_b=50, sum_b=1100, sum_squares_b=25_000)

    assert (result.mean_a, result.mean_b, result.uplift) == pytest.approx((20.0, 22.0, 0.1))
    assert (result.uplift_low, result.uplift_high, result.p_value) == (None, None, None)


def test_zero_variance_in_both_arms():
    same = compare_values([10.0] * 50, [10.0] * 40)
    different = compare_values([10.0] * 50, [12.0] * 40)

    assert (same.uplift, same.uplift_low, same.uplift_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert different.p_value == 0.0
    assert different.uplift == different.uplift_low == different.uplift_high == pytest.approx(0.2)


def test_zero_variance_in_one_arm_is_welch_with_the_other_arms_spread():
    result = compare_values([10.0] * 50, [9.0, 11.0, 13.0, 10.0, 12.0])

    expected = stats.ttest_ind_from_stats(11.0, np.std([9, 11, 13, 10, 12], ddof=1), 5, 10.0, 0.0, 50, equal_var=False)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_a_zero_control_mean_has_no_relative_uplift():
    result = compare_values([0.0] * 30, [0.0] * 29 + [15.0])

    assert (result.uplift, result.uplift_low, result.uplift_high) == (None, None, None)
    assert result.p_value == pytest.approx(
        stats.ttest_ind([0.0] * 29 + [15.0], [0.0] * 30, equal_var=False).pvalue, rel=1e-9
    )


def test_a_sum_that_is_not_a_number_gives_none_not_nan():
    result = compare_means(count_a=10, sum_a=float("nan"), sum_squares_a=1, count_b=10, sum_b=10, sum_squares_b=20)

    assert result.mean_a is None
    assert (result.uplift, result.p_value) == (None, None)


def test_rounding_in_a_databases_sum_of_squares_counts_as_zero_variance():
    # Ten values of 0.1: a database's double sum of squares can land a hair below sum**2 / count.
    result = compare_means(count_a=10, sum_a=1.0, sum_squares_a=0.1 - 1e-17, count_b=10, sum_b=1.0, sum_squares_b=0.1)

    assert result.p_value == 1.0


def test_impossible_aggregates_are_refused_naming_the_field():
    with pytest.raises(InvalidInput) as too_small:
        compare_means(count_a=10, sum_a=100, sum_squares_a=500, count_b=10, sum_b=100, sum_squares_b=2000)
    with pytest.raises(InvalidInput) as negative:
        compare_means(count_a=10, sum_a=100, sum_squares_a=2000, count_b=-1, sum_b=0, sum_squares_b=0)

    assert "sum_squares_a" in too_small.value.errors
    assert "count_b" in negative.value.errors


# --- sample ratio mismatch ---


@pytest.mark.parametrize(
    ("observed", "weights"),
    [([5000, 5100], [1, 1]), ([5000, 5400], [0.5, 0.5]), ([4960, 3050, 1990], [50, 30, 20]), ([100, 190], [1, 2])],
)
def test_sample_ratio_p_value_is_scipys_chisquare(observed, weights):
    total = sum(observed)
    expected = [total * weight / sum(weights) for weight in weights]

    assert sample_ratio_p_value(observed=observed, weights=weights) == pytest.approx(
        stats.chisquare(observed, expected).pvalue, rel=1e-9
    )


def test_a_broken_split_is_flagged_and_a_fair_one_is_not():
    assert sample_ratio_p_value(observed=[10_000, 10_500], weights=[1, 1]) < SRM_THRESHOLD
    assert sample_ratio_p_value(observed=[10_000, 10_100], weights=[1, 1]) > SRM_THRESHOLD


def test_sample_ratio_edge_cases():
    assert sample_ratio_p_value(observed=[0, 0], weights=[1, 1]) == 1.0  # nobody yet
    assert sample_ratio_p_value(observed=[40], weights=[1]) == 1.0  # one arm cannot be unbalanced
    assert sample_ratio_p_value(observed=[40, 0], weights=[1, 0]) == 1.0  # a paused arm that stayed empty
    assert sample_ratio_p_value(observed=[40, 1], weights=[1, 0]) == 0.0  # a paused arm that got someone
    paused_middle = sample_ratio_p_value(observed=[500, 0, 560], weights=[1, 0, 1])
    assert paused_middle == pytest.approx(stats.chisquare([500, 560]).pvalue)


@pytest.mark.parametrize(
    ("observed", "weights", "field"),
    [
        ([1, 2], [1], "observed"),
        ([-1, 2], [1, 1], "observed"),
        ([1, 2], [0, 0], "weights"),
        ([1, 2], [1, -1], "weights"),
    ],
)
def test_a_mismatched_sample_ratio_request_is_refused(observed, weights, field):
    with pytest.raises(InvalidInput) as refused:
        sample_ratio_p_value(observed=observed, weights=weights)

    assert field in refused.value.errors


# --- minimum detectable effect ---


def test_minimum_detectable_effect_by_hand():
    # 5% base, 10,000 a side: spread = sqrt(0.05 * 0.95 * 2 / 10000) = 0.0030822; (1.95996 + 0.84162) * spread / 0.05
    spread = math.sqrt(0.05 * 0.95 * 2 / 10_000)
    expected = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * spread / 0.05

    assert minimum_detectable_effect(base_rate=0.05, units_a=10_000, units_b=10_000) == pytest.approx(expected)
    assert expected == pytest.approx(0.1727, abs=1e-4)


def test_a_z_test_at_the_minimum_detectable_effect_has_the_stated_power():
    mde = minimum_detectable_effect(base_rate=0.03, units_a=8000, units_b=12_000, alpha=0.01, power=0.9)

    spread = math.sqrt(0.03 * 0.97 * (1 / 8000 + 1 / 12_000))
    power = stats.norm.sf(stats.norm.ppf(1 - 0.01 / 2) - mde * 0.03 / spread)
    assert power == pytest.approx(0.9, abs=1e-9)


def test_a_bigger_sample_detects_a_smaller_effect():
    small = minimum_detectable_effect(base_rate=0.05, units_a=1000, units_b=1000)
    big = minimum_detectable_effect(base_rate=0.05, units_a=100_000, units_b=100_000)

    assert big == pytest.approx(small / 10)


@pytest.mark.parametrize(
    ("base_rate", "units_a", "units_b"), [(0.05, 0, 100), (0.05, 100, 0), (0.0, 100, 100), (1.0, 9, 9)]
)
def test_minimum_detectable_effect_is_none_when_nothing_could_be_detected(base_rate, units_a, units_b):
    assert minimum_detectable_effect(base_rate=base_rate, units_a=units_a, units_b=units_b) is None


def test_minimum_detectable_effect_refuses_a_meaningless_alpha_or_power():
    with pytest.raises(InvalidInput):
        minimum_detectable_effect(base_rate=0.05, units_a=10, units_b=10, alpha=0)
    with pytest.raises(InvalidInput):
        minimum_detectable_effect(base_rate=0.05, units_a=10, units_b=10, power=1.2)


# --- guardrails ---


@pytest.mark.parametrize(
    ("value", "limit", "direction", "expected"),
    [
        (0.021, 0.02, "max", True),  # refund rate above its ceiling
        (0.02, 0.02, "max", False),  # at the limit is allowed
        (0.019, 0.02, "max", False),
        (-0.06, -0.05, "min", True),  # revenue per visitor fell more than 5%
        (-0.05, -0.05, "min", False),
        (0.01, -0.05, "min", False),
        (None, 0.02, "max", False),  # nothing measured yet
        (float("nan"), 0.02, "min", False),
    ],
)
def test_breached(value, limit, direction, expected):
    assert breached(value=value, limit=limit, direction=direction) is expected


def test_breached_refuses_an_unknown_direction():
    with pytest.raises(InvalidInput) as refused:
        breached(value=1.0, limit=2.0, direction="above")

    assert "direction" in refused.value.errors
