"""Typed extractors: what a visitor's words say about timeline, contact details, role, company and its size
(budgets are read in `money`).

Each returns the value normalised as a lead stores it, or None. `asked` is the field the bot just asked for:
a bare answer ("50k", "Acme", "next quarter") counts for that field, while volunteered facts need a cue
("my budget is", "I'm Maria from Acme", "by March") so that "40 tablets" is not read as a budget.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

import phonenumbers
from dateutil import parser as dates
from email_validator import EmailNotValidError, validate_email

from salesbot.conversation.money import number

MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name} | {
    name.lower(): n for n, name in enumerate(calendar.month_abbr) if name
}
HORIZON = re.compile(
    r"\b(?:in|within|next|over the next)\s+(?P<count>\d+|a|an|one|two|three|four|six|few)"
    r"\s+(?P<unit>day|week|month|year)s?\b",
    re.I,
)
MAX_DAYS = 3650  # "in 10000 years" is "not within ten years"
WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "few": 3}
SOON = re.compile(r"\b(asap|as soon as possible|urgent(ly)?|immediately|right away|right now|yesterday)\b", re.I)
NOT_SOON = re.compile(r"\b(no rush|no hurry|just (browsing|looking)|some ?day|not sure when|no timeline)\b", re.I)
BY_MONTH = re.compile(r"\b(?:by|before|until|in|end of|for)\s+(?:the\s+end\s+of\s+)?(?P<month>[a-z]{3,9})\b", re.I)
QUARTER = re.compile(r"\b(?:(?P<which>this|next)\s+quarter|q(?P<number>[1-4]))\b", re.I)
RELATIVE = re.compile(r"\b(?P<which>this|next|end of (?:the|this)?)\s*(?P<unit>week|month|year)\b", re.I)

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
OTHERS = re.compile(r"\b(?:colleague|boss|manager|wife|husband|friend|partner|assistant|his|her|their|"
                    r"someone|somebody|another|other person|cc)\b", re.I)  # fmt: skip
SIZE = re.compile(
    r"(?P<low>\d[\d,.]*)\s*(?:k\b)?(?:\s*(?:-|\u2013|to)\s*(?P<high>\d[\d,.]*))?\+?\s*"
    r"(?:employees|people|staff|persons|heads|(?:person|people|member)\s+team|fte)\b"
    r"|\bteam of\s+(?P<team>\d[\d,]*)",
    re.I,
)
YES_NO = re.compile(r"\s*(?:(?P<yes>yes|yep|yeah|sure|i do|i will)|no|nope|not me|i don'?t)\s*[.!]*\s*", re.I)
DECIDERS = re.compile(
    r"\b(ceo|cto|cfo|coo|cio|cmo|founder|co-?founder|owner|president|director|vp|vice president|head of|partner|"
    r"managing director|i decide|i sign|my call|i make the decision|decision maker|i approve|decision is mine|"
    r"final say|my decision|i have the final|it's on me)\b",
    re.I,
)
NOT_DECIDERS = re.compile(
    r"\b(not the decision|need to ask|check with my|my (boss|manager) decides|intern|student|assistant|"
    r"not my call|someone else decides|my \w+ decides?|i recommend|not the one who decides)\b",
    re.I,
)
TITLES = (
    r"ceo|cto|cfo|coo|cio|cmo|founder|co-?founder|owner|president|director|vp|manager|engineer|developer|buyer|"
    r"consultant|analyst|scientist|designer|lead|head of [a-z ]+?|officer|administrator|admin|specialist|"
    r"assistant|intern|student|partner|architect|marketer|accountant"
)
ROLE = re.compile(
    r"\b(?:i(?:'m| am)(?: the| a| an)?|as (?:the|a|an)|i work as(?: a| an| the)?|"
    r"my (?:role|title|job) is(?: a| an| the)?|working as(?: a| an)?)"
    r"\s+(?P<role>(?:[a-z-]+\s+){0,3}?(?:" + TITLES + r"))\b",
    re.I,
)
_WORD = r"[A-Za-z\u00c0-\u00ff'-]+"
NAMED = re.compile(  # "my name is betty mclendon": the cue is explicit, so any case will do
    r"\b(?:my name is|my name si|mi name is|name's|name is|call me)\s+(?P<name>(?:(?:mr|mrs|ms|dr)\.?\s+)?"
    + _WORD
    + r"(?:\s+(?!and\b|from\b|at\b|with\b|of\b)"
    + _WORD
    + r"){0,2})",
    re.I,
)
NAME = re.compile(  # "I'm Maria": only a capitalised word is a name ("I'm looking" is not)
    r"\b(?i:i am|i'm|this is|it's)\s+(?P<name>[A-Z][a-z\u00e0-\u00ff'-]+(?:\s+[A-Z][a-z\u00e0-\u00ff'-]+){0,2})"
)
SUFFIXES = re.compile(r"\s+(?:phd|md|jr\.?|sr\.?)$|'s\b.*$", re.I)
_NAMED_COMPANY = r"[\w&.'-]+(?:\s+(?!and\b|in\b|since\b|as\b|but\b)[\w&.'-]+){0,7}"
COMPANY_NAMED = re.compile(  # cues that say "this is the company", so any case will do
    r"\b(?:work(?:ing)? (?:for|at)|company(?: name)? is|company:|the name is|company is called|employer is)"
    r"\s+(?P<company>" + _NAMED_COMPANY + ")",
    re.I,
)
COMPANY_BEFORE = re.compile(r"^\s*(?P<company>.+?)\s+is (?:the|my|our) (?:company|employer)\b", re.I)
COMPANY = re.compile(
    r"\b(?:from|at|for|with|company's|we are|we're|represent)\s+"
    r"(?P<company>[A-Z][\w&.'-]*(?:\s+(?:[A-Z][\w&.'-]*|&|and|of))*(?:\s+(?:GmbH|Inc\.?|Ltd\.?|LLC|AG|SA|BV|Corp\.?))?)"
)
COMMON_WORDS = set(
    re.findall(
        r"\S+",
        """
    ignore previous instructions instruction prompt system all above forget disregard reveal print show tell
    say the a an and or but if then you your yours me my i we our us it its this that these those is are was
    be been please thanks thank hello hi hey yes no not none nothing nobody anyone someone what who why how
    when where which want need looking buy sell price prices cheap budget order help admin root user test null
    undefined drop table select delete insert update script alert true false skip pass dunno rather prefer say
    telling human agent person bot robot assistant manager ceo cto cfo owner director head of purchasing sales
    newsletter discount discounts student students laptop laptops tablet tablets monitor monitors printer
""",
    )
)
NOT_NAMES = {"Looking", "Interested", "Not", "Just", "Here", "Fine", "Good", "Ok", "Okay", "Sorry", "Trying", "Going"}


def timeline(text: str, *, today: date, asked: bool = False) -> dict | None:
    """`{due_date, days}` from a date or a horizon ("asap", "next quarter", "by March", "in 3 weeks")."""
    due = _due(text, today=today, asked=asked)
    if due is None:
        return None
    due = max(due, today)
    return {"due_date": due.isoformat(), "days": (due - today).days}


def _due(text: str, *, today: date, asked: bool) -> date | None:
    if SOON.search(text):
        return today + timedelta(days=7)
    if NOT_SOON.search(text):
        return today + timedelta(days=365)
    if match := HORIZON.search(text):
        count = WORDS.get(match.group("count").lower()) or int(match.group("count"))
        return _later(today, count, match.group("unit").lower())
    if match := QUARTER.search(text):
        return _quarter_end(today, match)
    if match := RELATIVE.search(text):
        return _period_end(today, match.group("which").lower(), match.group("unit").lower())
    for match in BY_MONTH.finditer(text):
        if (month := MONTHS.get(match.group("month").lower())) is not None:
            return _month_end(today, month, text)
    return _explicit_date(text, today=today) if asked or re.search(r"\b(by|before|until|on)\b", text, re.I) else None


def _later(today: date, count: int, unit: str) -> date:
    days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit]
    return today + timedelta(days=min(count * days, MAX_DAYS))


def _quarter_end(today: date, match: re.Match) -> date:
    current = (today.month - 1) // 3 + 1
    if match.group("number"):
        quarter, year = int(match.group("number")), today.year
        if quarter < current:
            year += 1
    else:
        quarter, year = current + (match.group("which").lower() == "next"), today.year
        if quarter > 4:
            quarter, year = 1, year + 1
    return _last_day(year, quarter * 3)


def _period_end(today: date, which: str, unit: str) -> date:
    ahead = which == "next"
    if unit == "week":
        return today + timedelta(days=6 - today.weekday() + 7 * ahead)
    if unit == "month":
        month = today.month + ahead
        return _last_day(today.year + (month > 12), (month - 1) % 12 + 1)
    return date(today.year + ahead, 12, 31)


def _month_end(today: date, month: int, text: str) -> date:
    year = int(found.group()) if (found := re.search(r"\b20\d\d\b", text)) else today.year + (month < today.month)
    return _last_day(year, month)


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _explicit_date(text: str, *, today: date) -> date | None:
    if not re.search(r"\d", text):
        return None
    try:
        parsed = dates.parse(text, fuzzy=True, default=datetime(today.year, today.month, 1), dayfirst=True)
    except (ValueError, OverflowError, TypeError):
        return None
    return parsed.date() if today <= parsed.date() <= today + timedelta(days=MAX_DAYS) else None


def email(text: str) -> str | None:
    """The visitor's own address; one said to be someone else's ("my colleague's is ...") is not theirs."""
    for match in EMAIL.finditer(text):
        if OTHERS.search(text[max(0, match.start() - 40) : match.start()]):
            continue
        try:
            return validate_email(match.group().strip(".'"), check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            continue
    return None


def phone(text: str, *, region: str = "DE") -> str | None:
    """E.164 (+4930123456), for numbers written with a country code or in the store's own region."""
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        if phonenumbers.is_valid_number(match.number):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def authority(text: str, *, asked: bool = False) -> dict | None:
    """`{role, decision_maker}`: decision_maker is True, False or None (not said)."""
    if asked and (bare := YES_NO.fullmatch(text)):
        return {"role": None, "decision_maker": bare.group("yes") is not None}
    role = ROLE.search(text)
    title = role.group("role").strip().lower() if role else None
    if title is None and asked and _bare_role(text) and not NOT_DECIDERS.search(text):
        title = text.strip(" .!").lower()
    decider: bool | None = None
    if NOT_DECIDERS.search(text):
        decider = False
    elif DECIDERS.search(text):
        decider = True
    if title is None and decider is None:
        return None
    return {"role": title, "decision_maker": decider}


def _bare_role(text: str) -> bool:
    """A short answer that can only be a role ("purchasing", "office manager"), not "no rush, just browsing"."""
    timely = SOON.search(text) or NOT_SOON.search(text) or HORIZON.search(text)
    return len(text.split()) <= 6 and not timely


def company_size(text: str, *, asked: bool = False) -> dict | None:
    """`{min, max}` people (equal for a single number)."""
    match = SIZE.search(text)
    if match is None and asked and (bare := re.fullmatch(r"\s*(?:about|around|~)?\s*(\d[\d,]*)\+?\s*\.?\s*", text)):
        low = high = number(bare.group(1), None)
    elif match is None:
        return None
    elif match.group("team"):
        low = high = number(match.group("team"), None)
    else:
        low = number(match.group("low"), None)
        high = number(match.group("high"), None) if match.group("high") else low
    if not low or not high or high < low:
        return None
    return {"min": int(low), "max": int(high)}


def name(text: str, *, asked: bool = False) -> str | None:
    """A person's name, when the words could be one ("Ignore Previous Instructions" could not)."""
    for pattern in (NAMED, NAME):
        match = pattern.search(text)
        if match and match.group("name").split()[0].capitalize() not in NOT_NAMES:
            found = _person(SUFFIXES.sub("", match.group("name")))
            return found if plausible_name(found) else None
    words = SUFFIXES.sub("", text.strip(" .!")).split()
    if asked and 1 <= len(words) <= 3 and all(re.fullmatch(_WORD + r"\.?", word) for word in words):
        found = _person(" ".join(words))
        return found if plausible_name(found) else None
    return None


def plausible_name(found: str) -> bool:
    """No ordinary word of a sentence or a command: names are not "Ignore Previous Instructions"."""
    return not any(word.lower().strip(".") in COMMON_WORDS for word in found.split())


def _person(found: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in found.split())


def company(text: str, *, asked: bool = False) -> str | None:
    for pattern in (COMPANY_NAMED, COMPANY_BEFORE, COMPANY):
        if match := pattern.search(text):
            return _company(match.group("company"))
    words = text.strip(" .!").split()
    if asked and 1 <= len(words) <= 5:
        return _company(re.sub(r"^(?:it's|it is|we are|we're|called)\s+", "", text.strip(" .!"), flags=re.I))
    return None


def _company(found: str) -> str:
    found = re.split(r"[,;!?]|\.(?:\s|$)", found.strip())[0]
    return re.sub(r"^(?:the|a|an)\s+", "", found.strip(), flags=re.I).strip(" .")
