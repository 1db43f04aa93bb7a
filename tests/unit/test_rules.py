from decimal import Decimal

import pytest

from salesbot.catalog import rules


@pytest.mark.parametrize("code", ["EUR", "usd", "JPY", "CHF"])
def test_real_currencies_pass(code):
    assert rules.currency_problem(code) is None


@pytest.mark.parametrize("code", ["EURO", "XYZ", "", "€"])
def test_made_up_currencies_are_named(code):
    assert "ISO 4217" in rules.currency_problem(code)


@pytest.mark.parametrize(("code", "ok"), [("DE", True), ("gb", True), ("UK", False), ("DEU", False)])
def test_countries_are_iso_3166_alpha_2(code, ok):
    assert (rules.country_problem(code) is None) is ok


@pytest.mark.parametrize(
    ("price", "problem"),
    [
        ("0", None),
        ("19.99", None),
        ("0.0001", None),
        ("-0.01", "greater than or equal to 0"),
        ("1.00001", "4 decimal places"),
        ("NaN", "greater than or equal to 0"),
        ("99999999999", "at most"),
    ],
)
def test_prices(price, problem):
    found = rules.price_problem(Decimal(price))
    assert found is None if problem is None else problem in found


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"color": "red", "sizes": ["S", "M"], "weight_kg": 1.2, "eco": True}, None),
        ({"color": {"r": 255}}, "value of 'color'"),
        ({"bad key!": 1}, "key 'bad key!'"),
        ({f"k{i}": i for i in range(101)}, "at most 100 keys"),
    ],
)
def test_attributes(attributes, problem):
    found = rules.attributes_problem(attributes)
    assert found is None if problem is None else problem in found


@pytest.mark.parametrize(
    ("value", "ok"), [("sku-1", True), ("A-B:c@d.e_f", True), ("a/b", False), ("", False), ("has space", False)]
)
def test_external_ids(value, ok):
    assert (rules.external_id_problem(value) is None) is ok
