"""Where a visitor is, as far as the conversation tells: the region used to read a phone number written without
its country code, inferred from the country they name, the currency they budget in, then the page's locale."""

from __future__ import annotations

import re

import pycountry

CURRENCY_REGION = {
    "GBP": "GB", "USD": "US", "CHF": "CH", "NOK": "NO", "SEK": "SE", "DKK": "DK", "PLN": "PL", "JPY": "JP",
    "CAD": "CA", "AUD": "AU", "NZD": "NZ", "INR": "IN", "CZK": "CZ", "HUF": "HU", "CNY": "CN", "HKD": "HK",
    "SGD": "SG", "ZAR": "ZA", "BRL": "BR", "MXN": "MX", "TRY": "TR", "AED": "AE", "KRW": "KR", "ILS": "IL",
}  # fmt: skip
ALIASES = {
    "uk": "GB", "u.k.": "GB", "britain": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "london": "GB", "manchester": "GB", "us": "US", "usa": "US", "u.s.": "US", "america": "US",
    "the states": "US", "new york": "US", "california": "US", "texas": "US", "switzerland": "CH", "zurich": "CH",
    "zürich": "CH", "geneva": "CH", "norway": "NO", "oslo": "NO", "sweden": "SE", "stockholm": "SE",
    "denmark": "DK", "copenhagen": "DK", "poland": "PL", "warsaw": "PL", "japan": "JP", "tokyo": "JP",
    "canada": "CA", "toronto": "CA", "australia": "AU", "sydney": "AU", "ireland": "IE", "dublin": "IE",
    "france": "FR", "paris": "FR", "spain": "ES", "madrid": "ES", "italy": "IT", "austria": "AT", "vienna": "AT",
    "netherlands": "NL", "holland": "NL", "amsterdam": "NL", "germany": "DE", "berlin": "DE", "munich": "DE",
}  # fmt: skip
PLACE = re.compile(r"\b(?:in|from|based in|located in|out of|ship to|deliver to)\s+(?:the\s+)?"
                   r"(?P<place>[a-zà-ÿ.]+(?:\s+[a-zà-ÿ]+)?)", re.I)  # fmt: skip
LOCALE = re.compile(r"^[a-z]{2,3}[-_](?P<region>[a-z]{2})\b", re.I)


def region(*, said: list[str], currency: str | None, locale: str | None, default: str) -> str:
    """The phone region for this visitor: a country they named, their budget's currency, the page's locale, or
    the store's default."""
    for text in reversed(said):
        if named := _place(text):
            return named
    if currency in CURRENCY_REGION:
        return CURRENCY_REGION[currency]
    if locale and (match := LOCALE.match(str(locale))):
        return match.group("region").upper()
    return default


def _place(text: str) -> str | None:
    for match in PLACE.finditer(text):
        words = match.group("place").lower().split()
        for candidate in (" ".join(words), words[0]):
            if candidate in ALIASES:
                return ALIASES[candidate]
            if len(candidate) > 3 and (country := _country(candidate)):
                return country
    return None


def _country(name: str) -> str | None:
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        return None
