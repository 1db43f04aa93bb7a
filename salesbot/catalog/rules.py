"""What makes catalog values valid, shared by the API and file imports.

Each rule returns the problem in words a user understands, or None when the value is fine.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import pycountry

from salesbot.errors import InvalidInput

# No `/`: an id names a URL path segment (/v1/items/{item_id}), and one holding a slash could never be read back.
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
UNSTORABLE_TEXT = re.compile(r"[\x00\ud800-\udfff]")
MAX_ATTRIBUTES = 100
MAX_PRICE = Decimal("9999999999")
Scalar = str | int | float | bool


def external_id_problem(value: str) -> str | None:
    if EXTERNAL_ID.match(value):
        return None
    return "must be 1-128 characters: letters, digits and . _ : @ -, starting with a letter or digit (no /)"


def check_id(field: str, value: str) -> None:
    """Raise `InvalidInput` naming `field` when `value` cannot be an id."""
    problem = external_id_problem(value)
    if problem:
        raise InvalidInput.for_field(field, problem)


def currency_problem(code: str) -> str | None:
    if len(code) == 3 and pycountry.currencies.get(alpha_3=code.upper()) is not None:
        return None
    return f"{code!r} is not an ISO 4217 currency code (for example EUR, USD, GBP)"


def country_problem(code: str) -> str | None:
    if len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None:
        return None
    return f"{code!r} is not an ISO 3166-1 alpha-2 country code (for example DE, US, GB)"


COUNTRY_ALIASES = {"EIRE": "IE", "RSA": "ZA", "USA": "US", "UK": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB"}


def country_code(name: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a code, alpha-3 code or English name ("Germany" -> "DE"), if any."""
    wanted = name.strip()
    if wanted.upper() in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[wanted.upper()]
    try:
        return pycountry.countries.lookup(wanted).alpha_2
    except LookupError:
        return None


def price_problem(price: Decimal) -> str | None:
    if not price.is_finite() or price < 0:
        return "must be a number greater than or equal to 0"
    if price > MAX_PRICE:
        return f"must be at most {MAX_PRICE}"
    if -price.as_tuple().exponent > 4:  # type: ignore[operator]
        return "must have at most 4 decimal places"
    return None


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored (PostgreSQL refuses NUL; UTF-8 cannot encode a lone surrogate), or None."""
    found = UNSTORABLE_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL characters (\\u0000)"
    return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid Unicode text"


def attributes_problem(attributes: dict[str, Any]) -> str | None:
    if len(attributes) > MAX_ATTRIBUTES:
        return f"must have at most {MAX_ATTRIBUTES} keys"
    for key, value in attributes.items():
        if not ATTRIBUTE_KEY.match(key):
            return f"key {key!r} must be 1-64 letters, digits or _ . : -"
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(each, Scalar) for each in values):
            return f"value of {key!r} must be a string, number, boolean or a list of those"
        if problem := _scalars_problem(values):
            return f"value of {key!r} {problem}"
    return None


def _scalars_problem(values: list[Any]) -> str | None:
    for each in values:
        if isinstance(each, float) and not math.isfinite(each):
            return "must be a finite number (not NaN or Infinity)"
        if isinstance(each, str) and (problem := text_problem(each)):
            return problem
    return None
