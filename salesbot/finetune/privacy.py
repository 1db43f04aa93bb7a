"""Masking on the export path: every string that leaves in a fine-tuning file has its personal data and the store's
codes and prices replaced with typed placeholders ([EMAIL], [PHONE], [NAME], [COMPANY], [ADDRESS], [CARD],
[OFFER_CODE], [PRICE]).

What is found by its shape: e-mail addresses, phone numbers (phonenumbers, in the store's region or with a country
code), card-like numbers (13 to 19 digits passing the Luhn check), street addresses (English, German, French and
Spanish street words next to a house number), codes (in capitals or with a digit) written after "code", "coupon" or
"voucher", and amounts with a currency in the store's own words. What is found by its value: the names, companies,
e-mails and phones the lead captured, the reps' names, and the offer codes the conversation could hold (a short
code of letters only, like WELCOME, only as written). A visitor's own amounts stay (their budget is what the
answer's extracted fields must match); the store's prices in its lines, products and FAQ passages do not.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from salesbot.conversation import extract, money

KINDS = ("EMAIL", "PHONE", "NAME", "COMPANY", "ADDRESS", "CARD", "OFFER_CODE", "PRICE")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
MANY_DIGITS = re.compile(r"\d(?:\D{0,3}\d){6}")  # seven digits close together: worth asking phonenumbers
PHONE_LIKE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9](?:[ ./-]?\(?\d\)?){6,14}(?!\d)"  # any country code
    r"|(?<![\w(])\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}(?!\d)"  # North American layout, valid or not
)
ALSO_READ_AS = ("US", "GB", "FR")  # numbers written without a country code in another country's way
_STREET_EN = r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|square|sq|terrace|"
_STREET_EN += r"parkway|pkwy|highway|hwy|close|crescent|row|walk|gardens"
_STREET_DE = r"stra(?:ß|ss)e|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee|steig|pfad|markt"
_STREET_DE += r"|straat|gracht|laan|plein|kade|singel|dijk"  # Dutch streets are written the German way round
_STREET_FR = r"rue|avenue|av\.|boulevard|bd|place|chemin|impasse|all[ée]e|quai|cours|route"
_STREET_ES = r"calle|c/|avenida|avda\.?|plaza|paseo|camino|carrera|ronda|traves[ií]a"
_STREET_ES += r"|via|viale|piazza|corso|largo|rua|travessa|pra[çc]a|ul\.|al\.|boulevard|avenue|rue|place|quai"
_PARTICLES = r"(?:(?:de|del|la|le|da|di|do|dos|das|della|van|der|den)\s+)*"
_CODES = r"\d{4}-\d{3}|\d{4,5}|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}"  # Portuguese, most of Europe, British
_POSTCODE = rf"(?:,?\s+(?:[A-Z][a-z][\w-]*\s+)?(?:{_CODES})(?:\s+[A-ZÄÖÜ][\w-]+)?)?"  # a city may stand either side
ADDRESS = re.compile(
    "|".join(
        (  # 221B Baker Street; 1600 Pennsylvania Ave NW
            rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){{1,4}}(?i:{_STREET_EN})\b\.?(?:\s+[NS]?[EW]?\b)?{_POSTCODE}",
            # Hauptstraße 5, Am Ring 12a, Unter den Linden-Weg 3
            rf"\b(?:[A-ZÄÖÜ][\wäöüß.-]*\s+){{0,3}}[\wäöüß-]*(?i:{_STREET_DE})\s+\d{{1,4}}\s?[a-z]?\b{_POSTCODE}",
            # 12 rue de Rivoli; 5 bis, avenue Foch
            rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?i:{_STREET_FR})\s+(?:[\w'\u2019-]+\s?){{1,5}}{_POSTCODE}",
            # Calle Mayor 10; Avda. de la Paz, 25; Via Roma 15; Rua Augusta 274; ul. Marszałkowska 10
            rf"(?i:\b(?:{_STREET_ES}))\s+{_PARTICLES}[A-ZÄÖÜÉÈÁÓÚŁŚŻ][\w'.-]*(?:\s+[\w'.-]+){{0,3}},?\s+\d{{1,4}}[a-z]?\b"
            rf"{_POSTCODE}",
        )
    )
)
CODE_AFTER = re.compile(  # the word before in any case; the code in capitals or with a digit ("code available" stays)
    r"\b(?i:code|coupon|voucher|promo|gutschein|gutscheincode|rabattcode|c[oó]digo|cup[oó]n)\b\s*:?\s*"
    r"(?P<code>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{4,}|[A-Z][A-Z0-9-]{3,})\b"
)
NAME_PARTS = re.compile(r"[^\W\d_][\w'-]*")
LEGAL = re.compile(
    r"[\s,]+(?:GmbH(?: & Co\.? KG)?|AG|KG|UG|e\.V\.|Inc\.?|Ltd\.?|Pty Ltd|LLC|LLP|PLC|Corp\.?|Co\.?(?:,? Ltd\.?)?|"
    r"S\.?A\.?S?\.?|SARL|S\.?L\.?|S\.?p\.?A\.?|S\.?r\.?l\.?|Lda\.?|B\.?V\.?|N\.?V\.?|K\.?K\.?|Oy|AB|A/?S|ApS|"
    r"Sp\. z o\.o\.|s\.r\.o\.|A\.?Ş\.?|Ltd\.? Şti\.?)$",
    re.I,
)
LOOKS_LIKE_ADDRESS = re.compile(r"address|street|adresse|anschrift|direcci[oó]n", re.I)
DIGIT = re.compile(r"\d")
PREFIX = re.compile(r"(?:(?:\+|00)\d{1,3}[\s./-]*)?(?:\(0\)\s*|0[\s./-]*)?$")  # +49 (0), 0049, 0 before a number
PLACEHOLDER = re.compile(r"\[(?:" + "|".join(KINDS) + r")\]")


@dataclass(frozen=True)
class Known:
    """What one conversation's masking knows by value: its lead's fields, the reps' names and the offer codes it
    could hold."""

    names: tuple[str, ...] = ()
    companies: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()

    @classmethod
    def of_lead(
        cls, fields: dict[str, Any], types: dict[str, str], codes: Iterable[str] = (), staff: Iterable[str] = ()
    ) -> Known:
        """From a lead's fields (`types`: each field's type in the qualification schema), with the reps' names
        (`staff`: a rep's correction may sign with theirs)."""
        found: dict[str, list[str]] = {"name": [], "company": [], "email": [], "phone": [], "address": []}
        for name, value in fields.items():
            kind = types.get(name)
            if kind == "text" and LOOKS_LIKE_ADDRESS.search(name):
                kind = "address"
            if kind in found and isinstance(value, str) and value.strip():
                found[kind].append(value.strip())
        found["name"] += [name.strip() for name in staff if name and name.strip()]
        return cls(
            names=tuple(found["name"]), companies=tuple(found["company"]), emails=tuple(found["email"]),
            phones=tuple(found["phone"]), addresses=tuple(found["address"]), codes=tuple(c for c in codes if c),
        )  # fmt: skip


@dataclass
class Masker:
    """Masks one conversation's strings; `counts` tells how many of each placeholder it put in."""

    known: Known = field(default_factory=Known)
    region: str = "DE"
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._values = _values(self.known)
        self._phone_digits = [
            digits for phone in self.known.phones if len(digits := _national(phone, self.region)) >= 6
        ]
        self._seen: dict[tuple[str, bool], str] = {}
        self._word_codes = [code for code in self.known.codes if _may_be_a_word(code)]

    def text(self, text: str, *, prices: bool = True) -> str:
        """`text` masked; with `prices` False a visitor's amounts stay (their budget is theirs, not a price)."""
        key = (text, prices)
        if key not in self._seen:
            self._seen[key] = self._mask(text, prices)
        return self._seen[key]

    def value(self, value: Any, *, prices: bool = True) -> Any:
        """Every string inside a JSON-like value masked (keys stay: they are the format's, not anyone's words)."""
        if isinstance(value, str):
            return self.text(value, prices=prices)
        if isinstance(value, dict):
            return {key: self.value(inner, prices=prices) for key, inner in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(inner, prices=prices) for inner in value]
        return value

    def _mask(self, text: str, prices: bool) -> str:
        masked, shapes = _shapes(text, self.region, prices)
        counted = Counter(shapes)  # the cached counts stay as they were
        spans = _found(masked, self._values)
        spans += [(start, end, "OFFER_CODE") for code in self._word_codes for start, end in _as_written(masked, code)]
        if self._phone_digits and len(DIGIT.findall(masked)) >= 6:
            spans += [
                (start, end, "PHONE") for digits in self._phone_digits for start, end in _digits_at(masked, digits)
            ]
        for start, end, kind in sorted(_apart(spans), reverse=True):
            masked = masked[:start] + f"[{kind}]" + masked[end:]
            counted[kind] += 1
        self.counts.update(counted)
        return masked


def _values(known: Known) -> list[tuple[str, str]]:
    """(kind, folded value) of the conversation's known values, longest first: an e-mail before the name inside it."""
    kinds = {
        "EMAIL": known.emails,
        "PHONE": known.phones,
        "OFFER_CODE": [code for code in known.codes if not _may_be_a_word(code)],  # SPRING25, BLACKFRIDAY
        "ADDRESS": known.addresses,
        "COMPANY": [form for company in known.companies for form in _company_forms(company)],
        "NAME": [form for name in known.names for form in _name_forms(name)],
    }
    found = {(kind, folded) for kind, values in kinds.items() for value in values if len(folded := fold(value)) >= 2}
    return sorted(found, key=lambda pair: (-len(pair[1]), pair))


def _found(text: str, values: list[tuple[str, str]]) -> list[tuple[int, int, str]]:
    """Where each known value (folded) stands in `text`, in any letter case and with or without its accents, as a
    whole word (not inside a longer one, nor inside a placeholder already put in)."""
    folded, at = _folded(text)
    spans = []
    for kind, value in values:
        start = folded.find(value)
        while start >= 0:
            first, end = at[start], at[start + len(value) - 1] + 1
            while end < len(text) and unicodedata.combining(text[end]):
                end += 1  # the accents written after the value's last letter are the value's
            if _bounded(text, first, end):
                spans.append((first, end, kind))
            start = folded.find(value, start + 1)
    return spans


def _folded(text: str) -> tuple[str, Sequence[int]]:
    """`text` casefolded without its accents ("García" -> garcia, "İpek" -> ipek), and where each of its characters
    stands in `text` (a letter may fold to none, or to two: "ß" -> ss)."""
    if text.isascii():
        return text.lower(), range(len(text))
    folded: list[str] = []
    at: list[int] = []
    for index, char in enumerate(text):
        letters = _fold_letter(char)
        folded.append(letters)
        at += [index] * len(letters)
    return "".join(folded), at


def fold(text: str) -> str:
    """`text` as `_found` compares it: casefolded, without accents, a Turkish dotless i as i."""
    return _folded(text)[0]


@functools.lru_cache(maxsize=4096)
def _fold_letter(char: str) -> str:
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    bare = bare.casefold().replace("\u0131", "i")
    return "".join(c for c in unicodedata.normalize("NFKD", bare) if not unicodedata.combining(c))


def _may_be_a_word(code: str) -> bool:
    """A code of letters only that is short or an ordinary word (WELCOME, SALE, DISCOUNT): it is found only as
    written, since "welcome" or "sale" in a line is a word. Longer letter codes (BLACKFRIDAY) are rarely words and are
    found in any case, as those with a digit or a hyphen are."""
    return code.isalpha() and (len(code) < 8 or code.lower() in extract.COMMON_WORDS)


def _as_written(text: str, value: str) -> list[tuple[int, int]]:
    """Where `value` stands in `text` as a whole word in exactly its letter case."""
    found, start = [], text.find(value)
    while start >= 0:
        if _bounded(text, start, start + len(value)):
            found.append((start, start + len(value)))
        start = text.find(value, start + 1)
    return found


def _bounded(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before in "_[") and not (after.isalnum() or after in "_]")


def _apart(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The spans that do not overlap one already kept, longest first."""
    kept: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        if all(span[1] <= other[0] or span[0] >= other[1] for other in kept):
            kept.append(span)
    return kept


def _national(phone: str, region: str) -> str:
    """The digits of a number without its country code or trunk prefix (`+49 30 1234567` -> 301234567)."""
    try:
        return str(phonenumbers.parse(phone, region).national_number)
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", phone).lstrip("0")


def _digits_at(text: str, digits: str) -> list[tuple[int, int]]:
    """Where `digits` stand in `text` written with any separators between them (at most 3 characters apart), with
    a country code or trunk prefix before them (`+49 (0)30 / 12 34 567` for 301234567)."""
    places = [i for i, c in enumerate(text) if c.isdigit()]
    only = "".join(text[i] for i in places)
    found, start = [], only.find(digits)
    while start >= 0:
        taken = places[start : start + len(digits)]
        if all(after - before <= 4 for before, after in itertools.pairwise(taken)):
            prefix = PREFIX.search(text[: taken[0]])
            found.append((prefix.start() if prefix else taken[0], taken[-1] + 1))
        start = only.find(digits, start + 1)
    return found


def _name_forms(name: str) -> list[str]:
    """The name, and each of its words that is not an ordinary word ("Maria Schmidt" -> Maria, Schmidt)."""
    parts = [p for p in NAME_PARTS.findall(name) if len(p) >= 2 and fold(p) not in extract.COMMON_WORDS]
    return [name, *parts]


def _company_forms(company: str) -> list[str]:
    """The company, and its name without the legal form ("Acme GmbH" -> Acme)."""
    bare = LEGAL.sub("", company).strip()
    return (
        [company, bare] if bare != company and len(bare) >= 3 and fold(bare) not in extract.COMMON_WORDS else [company]
    )


@functools.lru_cache(maxsize=8192)
def _shapes(text: str, region: str, prices: bool) -> tuple[str, Counter[str]]:
    """What is found by its shape, the same in every conversation (so store texts are masked once per process)."""
    counted: Counter[str] = Counter()

    def put(kind: str) -> str:
        counted[kind] += 1
        return f"[{kind}]"

    if "@" in text:
        text = extract.EMAIL.sub(lambda m: put("EMAIL"), text)
    digits = len(DIGIT.findall(text))
    if digits >= 13:
        text = CARD.sub(lambda m: put("CARD") if luhn(m.group()) else m.group(), text)
    if digits >= 7:
        text = _phones(text, region, put)
    if digits:
        text = ADDRESS.sub(lambda m: put("ADDRESS"), text)
    text = CODE_AFTER.sub(lambda m: m.group()[: m.start("code") - m.start()] + put("OFFER_CODE"), text)
    if prices and digits:
        text = money.AMOUNT.sub(lambda m: _spaced(m, put("PRICE")) if _has_currency(m) else m.group(), text)
    return text, counted


def _phones(text: str, region: str, put: Any) -> str:
    """Numbers with a country code or in the North American layout first; then, while seven digits stand close
    together, numbers as written in the store's region and the others phonenumbers knows how to read."""
    text = PHONE_LIKE.sub(lambda m: put("PHONE"), text)
    for where in dict.fromkeys((region, *ALSO_READ_AS)):
        if not MANY_DIGITS.search(text):
            break
        spans = [(found.start, found.end) for found in phonenumbers.PhoneNumberMatcher(text, where)]
        for start, end in sorted(_merged(spans), reverse=True):
            text = text[:start] + put("PHONE") + text[end:]
    return text


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def luhn(candidate: str) -> bool:
    """Whether 13 to 19 digits (separators ignored) pass the Luhn check cards carry."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _spaced(match: re.Match[str], placeholder: str) -> str:
    """The placeholder with the spaces the amount's pattern took in around it."""
    found = match.group()
    return found[: len(found) - len(found.lstrip())] + placeholder + found[len(found.rstrip()) :]


def _has_currency(match: re.Match[str]) -> bool:
    return any(match.group(name) for name in ("pre", "mid", "post"))
