"""Budgets in visitors' words: amounts with their currency (ISO 4217 codes, symbols and words such as kr, zł, ¥,
bucks), scales (10k, 2 grand), ranges, periods, and quantities that turn a total into a per-unit amount."""

from __future__ import annotations

import re

import pycountry

CURRENCIES = {
    "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD", "us$": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "chf": "CHF", "fr.": "CHF", "franken": "CHF", "francs": "CHF", "inr": "INR", "₹": "INR", "rupees": "INR",
    "sek": "SEK", "nok": "NOK", "dkk": "DKK", "kr": "SEK", "kr.": "SEK", "kroner": "NOK", "kronor": "SEK",
    "pln": "PLN", "zł": "PLN", "zl": "PLN", "zloty": "PLN", "złoty": "PLN", "jpy": "JPY", "¥": "JPY", "yen": "JPY",
    "cny": "CNY", "rmb": "CNY", "yuan": "CNY", "cad": "CAD", "c$": "CAD", "aud": "AUD", "a$": "AUD", "au$": "AUD",
    "czk": "CZK", "kč": "CZK", "huf": "HUF", "₩": "KRW", "won": "KRW", "₺": "TRY", "lira": "TRY", "r$": "BRL",
    "rand": "ZAR", "₽": "RUB", "rubles": "RUB",
}  # fmt: skip
KRONER = {"NO": "NOK", "DK": "DKK", "SE": "SEK", "IS": "ISK"}  # "kr" is the krone or krona of where they are
ISO_CODES = sorted({c.alpha_3 for c in pycountry.currencies} - {"ALL", "TOP", "CUP", "MOP", "BOB", "GEL", "MAD"})
SCALES = {"k": 1e3, "thousand": 1e3, "grand": 1e3, "m": 1e6, "mio": 1e6, "million": 1e6, "mn": 1e6, "bn": 1e9,
          "billion": 1e9}  # fmt: skip
PERIODS = {
    "year": "year", "yr": "year", "annually": "year", "annual": "year", "yearly": "year", "pa": "year",
    "month": "month", "mo": "month", "monthly": "month", "week": "week", "weekly": "week",
}  # fmt: skip
DASH = r"(?:-|\u2013|to|and)"  # 5-10k, 5\u201310k, 5 to 10k, between 5 and 10k
_WORDS = "|".join(re.escape(word) for word in sorted(CURRENCIES, key=len, reverse=True) if word[0].isalpha())
_CURRENCY = (
    r"(?P<{name}>(?:us|au|a|c|r)\$|[$\u20ac\u00a3\u20b9\u00a5\u20a9\u20ba\u20bd]|"
    + r"(?:"
    + _WORDS.replace("{", "{{").replace("}", "}}")
    + r")(?![a-z])|(?-i:"
    + "|".join(ISO_CODES)
    + r")\b)"
)
_NUMBER = (
    r"(?<!\d)(?P<{name}>\d{{1,3}}(?:[,.' ]\d{{3}})+(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d+)?)"
    r"\s*(?P<{scale}>k|thousand|grand|mio|mn|m|million|bn|billion)?\b"
)
_PERIOD = (
    r"(?:\s*(?:/|per|a|an|each|for (?:one|a|an|1))\s*(?P<period>year|yr|month|mo|week)\b"
    r"|\s+(?P<adverb>annually|yearly|monthly|weekly|pa)\b)?"
)
AMOUNT = re.compile(
    _CURRENCY.format(name="pre") + r"?\s*" + _NUMBER.format(name="low", scale="low_scale")
    + r"(?:\s*" + DASH + r"\s*" + _CURRENCY.format(name="mid") + r"?\s*"
    + _NUMBER.format(name="high", scale="high_scale") + r")?\s*" + _CURRENCY.format(name="post") + r"?" + _PERIOD,
    re.IGNORECASE,
)  # fmt: skip
CODE = re.compile(r"[A-Za-z]\d|\d[A-Za-z]+\d")
QUANTITY = re.compile(  # "40 tablets": the word after a bare number says it counts things, not money
    r"\s*(?!(?:a|an|per|each|for|to|and|or|year|month|week|k|m|total|in|overall|tops|max|maximum|all|altogether|"
    r"is|budget)\b)[a-z]{2,}",
    re.I,
)
EACH = re.compile(r"\s*(?:each|apiece|a piece|per (?:unit|piece|item|device|seat|person)|/\s*(?:unit|pc))\b", re.I)
UNITS = re.compile(r"\b(?P<count>\d{1,6})\s*(?:x\s*)?(?P<noun>[a-z][a-z-]{1,}s|pcs|units|x)\b", re.I)
NOT_UNITS = {
    "days",
    "weeks",
    "months",
    "years",
    "hours",
    "minutes",
    "employees",
    "people",
    "persons",
    "staff",
    "heads",
    "euros",
    "dollars",
    "bucks",
    "pounds",
    "francs",
    "kroner",
    "kronor",
    "rupees",
    "rubles",
    "yrs",
    "mos",
    "others",
    "times",
    "members",
    "users",
    "seats",
} | set(CURRENCIES)
BUDGET_CUE = re.compile(  # "about", "under"... say money only next to a number ("about 3000", not "about a 30\" part")
    r"\b(budget|spend|afford|allocated|plan with|total|in total|overall)\b|"
    r"\b(up to|max(imum)?|around|about|between|under|below|less than)\s*(?:[$\u20ac\u00a3\u00a5]\s*)?(?=\d)",
    re.I,
)
MEASURE = re.compile(  # a number with a unit of size, weight, storage or power is not an amount of money
    r"\s*(?:\"|\u2033|''|inch(?:es)?\b|cm\b|mm\b|kg\b|lbs?\b|ft\b|feet\b|gb\b|tb\b|[mg]hz\b|watts?\b|w\b|"
    r"volts?\b|v\b|%)",
    re.I,
)


def budget(text: str, *, asked: bool = False, currency: str = "EUR", region: str | None = None) -> dict | None:
    """`{amount, currency, period[, min, max][, quantity, per_unit]}`: the amount is the most they would spend.

    Of several amounts, one with a currency wins; a bare number followed by a word ("40 tablets") is a
    quantity, not money. With a quantity, the amount is per unit when it says "each", else the total.
    """
    cue = BUDGET_CUE.search(text)
    if not asked and cue is None and not _has_currency(text):
        return None
    found = []
    for match in AMOUNT.finditer(text):
        value = _budget_of(match, currency=currency, region=region, needs_currency=not asked and cue is None)
        symbol = match.group("pre") or match.group("mid") or match.group("post")
        if value is None or (not symbol and (QUANTITY.match(text, match.end()) or MEASURE.match(text, match.end()))):
            continue
        if _in_code(text, match.start()):
            continue
        found.append((not symbol, cue is not None and match.start() < cue.start(), match.start(), value, match))
    if not found:
        return None
    best = min(found, key=lambda each: each[:3])
    return per_unit(best[3], text, each=EACH.match(text, best[4].end()) is not None, quantity=quantity(text))


def _in_code(text: str, at: int) -> bool:
    """The number is part of a part or model number ("DA63-05391", "WR60X10185"), not an amount."""
    start = text.rfind(" ", 0, at) + 1
    end = text.find(" ", at)
    token = text[start : end if end >= 0 else len(text)]
    return CODE.search(token) is not None and not re.match(r"[A-Z]{3}\d", token)


def per_unit(value: dict, text: str, *, each: bool, quantity: int | None) -> dict:
    """The budget with the price each unit may cost, when a quantity is known ("25 monitors, 10k total")."""
    if each and quantity:
        return value | {"amount": value["amount"] * quantity, "quantity": quantity, "per_unit": value["amount"]}
    if each:
        return value | {"per_unit": value["amount"]}
    if quantity:
        return value | {"quantity": quantity, "per_unit": round(value["amount"] / quantity, 2)}
    return value


def quantity(text: str) -> int | None:
    """How many units they want: "25 monitors", "10 x laptops", "40 pcs"."""
    for match in UNITS.finditer(text):
        if match.group("noun").lower() not in NOT_UNITS and 1 < int(match.group("count")) <= 100_000:
            return int(match.group("count"))
    return None


def _has_currency(text: str) -> bool:
    return any(match.group("pre") or match.group("post") or match.group("mid") for match in AMOUNT.finditer(text))


def _budget_of(match: re.Match, *, currency: str, region: str | None, needs_currency: bool) -> dict | None:
    symbol = match.group("pre") or match.group("mid") or match.group("post")
    if needs_currency and not symbol:
        return None
    low = number(match.group("low"), match.group("low_scale") or match.group("high_scale"))
    high = number(match.group("high"), match.group("high_scale")) if match.group("high") else None
    if low is None or low <= 0 or (high is not None and high < low):
        return None
    period = PERIODS.get((match.group("period") or match.group("adverb") or "").lower())
    found = {"amount": high or low, "currency": _currency(symbol, currency, region), "period": period}
    if high is not None:
        found |= {"min": low, "max": high}
    return found


def _currency(symbol: str | None, default: str, region: str | None) -> str:
    if not symbol:
        return default
    if symbol.lower().startswith("kr") and region in KRONER:
        return KRONER[region]
    return CURRENCIES.get(symbol.lower()) or (symbol.upper() if symbol.upper() in ISO_CODES else default)


def number(digits: str | None, scale: str | None) -> float | None:
    """A number as people write it: thousands separators, decimal commas, and a scale (10k, 2 grand)."""
    if not digits:
        return None
    digits = digits.replace("'", "").replace(" ", "").rstrip(",.")
    if re.fullmatch(r"\d{1,3}([,.]\d{3})+", digits):  # 150,000 or 250.000: thousands separators
        digits = re.sub(r"[,.]", "", digits)
    elif re.fullmatch(r"[\d,.]*\d[,.]\d{1,2}", digits):  # 1.000,50 or 1,000.50: the last mark is the decimal one
        whole, fraction = re.split(r"[,.](?=\d{1,2}$)", digits)
        digits = re.sub(r"[,.]", "", whole) + "." + fraction
    try:
        value = float(digits)
    except ValueError:
        return None  # "5..", "1,2,3": not a number anyone would write
    return value * SCALES.get((scale or "").lower(), 1.0)
