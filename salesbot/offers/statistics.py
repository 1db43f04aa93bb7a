"""Experiment results as pure functions of counts and sums, so a database can aggregate a million rows and pass
only totals. A figure the data cannot support (a rate of an arm with no units, an uplift over a zero baseline)
is None, never NaN, infinity or an exception; each function's docstring says when. Only impossible input (a
negative count, more conversions than units) raises InvalidInput, naming the field.

Arm a is the control, arm b the variant. Intervals are 95% and use the delta method on the relative uplift
b/a - 1 (as GrowthBook does), not Fieller's interval: symmetric, and the same formula for rates and means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

from salesbot.errors import InvalidInput

SRM_THRESHOLD = 0.001
"""A sample-ratio p-value below this means the split is broken (assignment or logging), not unlucky."""

CONFIDENCE = 0.95
_Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


@dataclass(frozen=True)
class Proportions:
    """A conversion rate compared between a control (a) and a variant (b)."""

    rate_a: float | None
    rate_b: float | None
    uplift: float | None  # relative: rate_b / rate_a - 1
    uplift_low: float | None
    uplift_high: float | None
    p_value: float | None  # two-sided, two-proportion z-test with the pooled rate
    chance_to_beat: float | None  # P(true rate b > true rate a), Beta(1, 1) priors, computed exactly


@dataclass(frozen=True)
class Means:
    """A per-unit mean (revenue, items per order) compared between a control (a) and a variant (b)."""

    mean_a: float | None
    mean_b: float | None
    uplift: float | None  # relative: mean_b / mean_a - 1
    uplift_low: float | None
    uplift_high: float | None
    p_value: float | None  # two-sided Welch's t-test


def compare_proportions(*, conversions_a: int, units_a: int, conversions_b: int, units_b: int) -> Proportions:
    """Rates, relative uplift with its interval, p-value and chance to beat.

    A rate is None for an arm with no units. The uplift and its interval are None when either rate is None or
    rate a is 0. p_value and chance_to_beat are None when either arm has no units. When both rates are 0 (or
    both 1) the z-test has no spread: p_value is 1.0. A rate of 0 or 1 has no binomial spread, so with rate b
    at 0 or 1 only arm a's spread widens the interval (and with both, it is the point uplift).
    """
    _check_counts("conversions_a", conversions_a, "units_a", units_a)
    _check_counts("conversions_b", conversions_b, "units_b", units_b)
    rate_a = conversions_a / units_a if units_a else None
    rate_b = conversions_b / units_b if units_b else None
    if rate_a is None or rate_b is None:
        return Proportions(rate_a, rate_b, None, None, None, None, None)
    uplift, low, high = _relative_uplift(
        rate_a, rate_a * (1 - rate_a) / units_a, rate_b, rate_b * (1 - rate_b) / units_b
    )
    return Proportions(
        rate_a=rate_a,
        rate_b=rate_b,
        uplift=uplift,
        uplift_low=low,
        uplift_high=high,
        p_value=_two_proportion_p(conversions_a, units_a, conversions_b, units_b),
        chance_to_beat=_chance_to_beat(conversions_a, units_a, conversions_b, units_b),
    )


def compare_means(
    *,
    count_a: int,
    sum_a: float,
    sum_squares_a: float,
    count_b: int,
    sum_b: float,
    sum_squares_b: float,
) -> Means:
    """Means, relative uplift with its interval and Welch's p-value, from each arm's count, sum and sum of squares.

    A mean is None for an arm with no units. The uplift is None when either mean is None or mean a is not
    positive (a relative change from zero or below reads as nothing a person can use). The interval and
    p_value need a variance, so they are None when an arm has fewer than 2 units. When both arms have zero
    variance the p_value is 1.0 if the means are equal, else 0.0, and the interval is the point uplift.
    Variances come from sum_squares - sum**2 / count, which loses digits only when the mean dwarfs the
    spread (a mean of 1e6 with a spread of 1); a tiny negative from rounding counts as zero.
    """
    mean_a, variance_a = _moments("a", count_a, sum_a, sum_squares_a)
    mean_b, variance_b = _moments("b", count_b, sum_b, sum_squares_b)
    uplift = low = high = p_value = None
    if mean_a is not None and mean_b is not None and mean_a > 0:
        uplift = mean_b / mean_a - 1
    if variance_a is not None and variance_b is not None:
        se2_a, se2_b = variance_a / count_a, variance_b / count_b
        p_value = _welch_p(mean_b - mean_a, se2_a, se2_b, count_a, count_b)
        if uplift is not None:
            uplift, low, high = _relative_uplift(mean_a, se2_a, mean_b, se2_b)
    return Means(mean_a, mean_b, _finite(uplift), _finite(low), _finite(high), _finite(p_value))


def sample_ratio_p_value(*, observed: Sequence[int], weights: Sequence[float]) -> float:
    """Chi-square goodness-of-fit p-value of the units each arm got against the arms' weights (sample ratio
    mismatch); the caller flags values below SRM_THRESHOLD.

    1.0 when there are no units yet or only one arm has weight. 0.0 when an arm of weight 0 got units.
    """
    if len(observed) != len(weights):
        raise InvalidInput.for_field("observed", f"has {len(observed)} arms but weights has {len(weights)}")
    if any(count < 0 for count in observed):
        raise InvalidInput.for_field("observed", "unit counts cannot be negative")
    if any(not weight >= 0 for weight in weights) or not 0 < sum(weights) < math.inf:
        raise InvalidInput.for_field("weights", "must be 0 or more, with a positive, finite total")
    total, weight_total = sum(observed), sum(weights)
    if any(count > 0 and weight == 0 for count, weight in zip(observed, weights, strict=True)):
        return 0.0
    expected = [(count, total * weight / weight_total) for count, weight in zip(observed, weights, strict=True)]
    expected = [(count, share) for count, share in expected if share > 0]
    if len(expected) < 2:
        return 1.0
    statistic = sum((count - share) ** 2 / share for count, share in expected)
    return float(stats.chi2.sf(statistic, len(expected) - 1))


def minimum_detectable_effect(
    *, base_rate: float, units_a: int, units_b: int, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """The smallest relative uplift on base_rate a two-sided z-test at `alpha` finds with chance `power`, given
    these arm sizes (normal approximation, the base rate's variance on both arms). Compare it with the stated
    minimum effect to warn that a sample is too small.

    None when no sample size could tell: an arm with no units, or a base rate not strictly between 0 and 1.
    """
    if not 0 < alpha < 1:
        raise InvalidInput.for_field("alpha", f"must be between 0 and 1, not {alpha}")
    if not 0 < power < 1:
        raise InvalidInput.for_field("power", f"must be between 0 and 1, not {power}")
    if units_a <= 0 or units_b <= 0 or not 0 < base_rate < 1:
        return None
    spread = math.sqrt(base_rate * (1 - base_rate) * (1 / units_a + 1 / units_b))
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * spread / base_rate)


def breached(*, value: float | None, limit: float, direction: Literal["max", "min"]) -> bool:
    """Whether a guardrail metric crossed its limit: with direction "max" the value must stay <= limit, with
    "min" >= limit. A value that could not be computed (None or NaN) breaches nothing."""
    if direction not in ("max", "min"):
        raise InvalidInput.for_field("direction", f'must be "max" or "min", not "{direction}"')
    if value is None or math.isnan(value):
        return False
    return value > limit if direction == "max" else value < limit


def _check_counts(conversions_name: str, conversions: int, units_name: str, units: int) -> None:
    if units < 0:
        raise InvalidInput.for_field(units_name, f"cannot be negative ({units})")
    if not 0 <= conversions <= units:
        raise InvalidInput.for_field(
            conversions_name, f"must be between 0 and {units_name} ({units}), not {conversions}"
        )


def _relative_uplift(
    base: float, base_se2: float, other: float, other_se2: float
) -> tuple[float | None, float | None, float | None]:
    """other / base - 1 with its delta-method interval; all None when base is 0."""
    if base == 0:
        return None, None, None
    uplift = other / base - 1
    half = _Z * math.sqrt(other_se2 / base**2 + other**2 * base_se2 / base**4)
    return _finite(uplift), _finite(uplift - half), _finite(uplift + half)


def _two_proportion_p(conversions_a: int, units_a: int, conversions_b: int, units_b: int) -> float:
    pooled = (conversions_a + conversions_b) / (units_a + units_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / units_a + 1 / units_b))
    if spread == 0:  # both rates 0 or both 1: no difference to test
        return 1.0
    z = (conversions_b / units_b - conversions_a / units_a) / spread
    return float(2 * stats.norm.sf(abs(z)))


def _chance_to_beat(conversions_a: int, units_a: int, conversions_b: int, units_b: int) -> float:
    """P(rate b > rate a) with Beta(1, 1) priors, exactly (Evan Miller's closed form, a sum of positive terms
    taken in log space). Of its four equivalent forms the one with the fewest terms is summed, so a typical
    experiment (few conversions) costs a few thousand terms and a million units at worst half a million."""
    alpha_a, beta_a = conversions_a + 1, units_a - conversions_a + 1
    alpha_b, beta_b = conversions_b + 1, units_b - conversions_b + 1
    # P(X_b > X_a) = 1 - P(X_a > X_b) = P(1 - X_a > 1 - X_b), and 1 - X ~ Beta(beta, alpha).
    forms = [
        (alpha_b, lambda: _b_beats_a(alpha_a, beta_a, alpha_b, beta_b)),
        (alpha_a, lambda: 1 - _b_beats_a(alpha_b, beta_b, alpha_a, beta_a)),
        (beta_a, lambda: _b_beats_a(beta_b, alpha_b, beta_a, alpha_a)),
        (beta_b, lambda: 1 - _b_beats_a(beta_a, alpha_a, beta_b, alpha_b)),
    ]
    _, fewest_terms = min(forms, key=lambda form: form[0])
    return min(1.0, max(0.0, fewest_terms()))


def _b_beats_a(alpha_a: int, beta_a: int, alpha_b: int, beta_b: int) -> float:
    """P(X_b > X_a) for X ~ Beta(alpha, beta), integer alpha_b: a sum of alpha_b positive terms."""
    i = np.arange(alpha_b, dtype=float)
    log_terms = (
        special.betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - special.betaln(1 + i, beta_b)
        - special.betaln(alpha_a, beta_a)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def _moments(arm: str, count: int, total: float, squares: float) -> tuple[float | None, float | None]:
    """The mean (None without units) and the sample variance (None below 2 units)."""
    if count < 0:
        raise InvalidInput.for_field(f"count_{arm}", f"cannot be negative ({count})")
    if count == 0:
        return None, None
    mean = _finite(total / count)
    if count < 2 or mean is None:
        return mean, None
    deviations = squares - total * total / count
    if deviations < -1e-9 * max(abs(squares), 1.0):
        raise InvalidInput.for_field(f"sum_squares_{arm}", "is smaller than the sum allows (sum**2 / count)")
    return mean, _finite(max(deviations, 0.0) / (count - 1))


def _welch_p(difference: float, se2_a: float, se2_b: float, count_a: int, count_b: int) -> float:
    se2 = se2_a + se2_b
    if se2 == 0:
        return 1.0 if difference == 0 else 0.0
    # Welch-Satterthwaite degrees of freedom, written in shares of se2 so tiny variances do not underflow.
    freedom = 1 / ((se2_a / se2) ** 2 / (count_a - 1) + (se2_b / se2) ** 2 / (count_b - 1))
    return float(2 * stats.t.sf(abs(difference) / math.sqrt(se2), freedom))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
