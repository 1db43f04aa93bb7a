"""Which rep a waiting conversation is offered to: a pure choice among candidates, no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from salesbot.errors import InvalidInput

POLICIES = ("least_loaded", "round_robin")


@dataclass(frozen=True)
class Candidate:
    """A rep as routing sees them: what they take, how busy they are, whether they are there."""

    rep_id: str
    teams: frozenset[str]
    languages: frozenset[str]
    categories: frozenset[str]
    capacity: int
    load: int  # conversations they hold now
    online: bool
    last_assigned_at: datetime | None

    @property
    def has_room(self) -> bool:
        return self.load < self.capacity


@dataclass(frozen=True)
class Need:
    """What the conversation asks for; None: anyone will do on that count."""

    owner: str | None = None  # the rep who owns the customer's lead
    team: str | None = None
    language: str | None = None  # ISO 639-1; a locale like de-DE counts as de
    category: str | None = None


def choose(
    *, candidates: Sequence[Candidate], need: Need, policy: str = "least_loaded", skip: frozenset[str] = frozenset()
) -> str | None:
    """The rep to offer the conversation to, or None: it waits in the queue.

    Never a rep who is offline, full, or in `skip` (they let this offer time out). The customer's owner comes first
    when they can take it; then the reps who fit best, and among those the policy decides.
    """
    if policy not in POLICIES:
        raise InvalidInput.for_field("policy", f"must be `least_loaded` or `round_robin`, not {policy!r}")
    able = [c for c in candidates if c.online and c.has_room and c.rep_id not in skip]
    if need.owner is not None and any(c.rep_id == need.owner for c in able):
        return need.owner
    fitting = [(fitness, c) for c in able if (fitness := fit(c, need)) is not None]
    if not fitting:
        return None
    best = max(fitness for fitness, _ in fitting)
    order = _least_loaded if policy == "least_loaded" else _round_robin
    return min((c for fitness, c in fitting if fitness == best), key=order).rep_id


def fit(candidate: Candidate, need: Need) -> tuple[int, int] | None:
    """(explicit matches, open dimensions), higher is better; None: the rep does not speak the language.

    A rep who lists nothing on a dimension fits any value there, but below one who lists the value; one who lists
    other teams or categories still fits, below both; one who lists other languages cannot talk to the customer.
    """
    language = _language(need.language)
    if language and candidate.languages and language not in candidate.languages:
        return None
    dimensions = ((need.team, candidate.teams), (language, candidate.languages), (need.category, candidate.categories))
    asked = [(wanted, offered) for wanted, offered in dimensions if wanted]
    matches = sum(1 for wanted, offered in asked if wanted in offered)
    open_ = sum(1 for _, offered in asked if not offered)
    return matches, open_


def _least_loaded(candidate: Candidate) -> tuple:
    return (Fraction(candidate.load, candidate.capacity), *_round_robin(candidate))


def _round_robin(candidate: Candidate) -> tuple:
    # Never assigned sorts first; the id breaks the last ties so the choice is the same every time.
    return (candidate.last_assigned_at is not None, candidate.last_assigned_at, candidate.rep_id)


def _language(value: str | None) -> str | None:
    if not value:
        return None
    return value.replace("_", "-").split("-")[0].strip().lower() or None
