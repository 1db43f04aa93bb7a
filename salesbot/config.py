"""Settings: every `SALESBOT_*` environment variable, read once into one frozen object."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from salesbot.errors import InvalidInput

PREFIX = "SALESBOT_"
DEFAULT_EVENT_WEIGHTS = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 5.0, "rating": 1.0}
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _words(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _flag(raw: str) -> bool:
    if raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What an operator can configure. Each field's `metadata["help"]` feeds the README's table."""

    database_url: str = field(
        default="sqlite:///salesbot.db",
        metadata={"help": "SQLAlchemy URL of the database; `postgresql+psycopg://...` for production"},
    )
    cors_origins: tuple[str, ...] = field(
        default=(),
        metadata={"help": "Comma-separated origins whose browsers may call the API with `site` keys"},
    )
    redis_url: str | None = field(
        default=None,
        metadata={"help": "Redis URL for shared rate-limit counters; in-memory per process when unset"},
    )
    rate_limit: str = field(
        default="1200/minute",
        metadata={"help": "Requests allowed per API key (`server`, `rep`, `marketer`, `admin`)"},
    )
    site_rate_limit: str = field(
        default="120/minute",
        metadata={"help": "Requests allowed per `site` key and client address"},
    )
    trusted_proxies: int = field(
        default=0,
        metadata={"help": "How many reverse proxies set `X-Forwarded-For` in front of the API"},
    )
    max_body_bytes: int = field(
        default=2 * 1024 * 1024, metadata={"help": "Largest request body accepted; larger gets 413"}
    )
    event_weights: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS),
        metadata={"help": "Event types accepted and their weight in training, as `type=weight,...`"},
    )
    unknown_items: str = field(
        default="reject",
        metadata={"help": "Events for items not in the catalog: `reject` them or `keep` them"},
    )
    trusted_event_types: tuple[str, ...] = field(
        default=("purchase",),
        metadata={"help": "Event types only the store's server may send (a `site` key in a browser may not)"},
    )
    artifact_dir: str | None = field(
        default=None,
        metadata={"help": "Directory for trained models' artifacts (shared by every API host); the database if unset"},
    )
    model_check_seconds: float = field(
        default=5.0,
        metadata={"help": "How often each process checks which model version is active (hot reload)"},
    )
    brain: str | None = field(
        default=None,
        metadata={"help": "`rules` or `llm`; by default the LLM when a base URL or key is set, else rules"},
    )
    llm_base_url: str | None = field(
        default=None,
        metadata={"help": "OpenAI-compatible server (vLLM, Ollama, llama.cpp, Azure); OpenAI itself when unset"},
    )
    llm_api_key: str | None = field(
        default=None, metadata={"help": "Key for the LLM server (never logged); `OPENAI_API_KEY` is read too"}
    )
    llm_model: str = field(default="gpt-4o-mini", metadata={"help": "Chat model name on the LLM server"})
    llm_timeout_seconds: float = field(
        default=10.0, metadata={"help": "Longest wait for one LLM answer; then the rules brain answers that turn"}
    )
    llm_max_retries: int = field(
        default=2, metadata={"help": "Retries of a failed LLM call (429 and 5xx, honouring Retry-After)"}
    )
    llm_price_prompt: float = field(
        default=0.0,
        metadata={"help": "What the LLM costs per million prompt tokens, for the KPIs' cost estimate (0: not counted)"},
    )
    llm_price_completion: float = field(
        default=0.0, metadata={"help": "What the LLM costs per million completion tokens, for the KPIs' cost estimate"}
    )
    llm_token_budget: int = field(
        default=30_000,
        metadata={"help": "LLM tokens one conversation may use; past it, the rules brain answers"},
    )
    message_max_chars: int = field(default=2000, metadata={"help": "Longest visitor message accepted"})
    conversation_rate_limit: str = field(default="20/minute", metadata={"help": "Messages allowed per conversation"})
    faq_min_match: float = field(
        default=0.4,
        metadata={
            "help": "Share of a message's words an FAQ must contain to answer it; else the bot says it does not know"
        },
    )
    embeddings: str = field(
        default="local",
        metadata={
            "help": "What finds FAQ answers and products by meaning: `local` (all-MiniLM-L6-v2 on the CPU, offline), "
            "`openai` (the LLM server's embeddings endpoint) or `off` (words only)"
        },
    )
    embeddings_model: str = field(
        default="text-embedding-3-small",
        metadata={"help": "Embeddings model on the LLM server, with `SALESBOT_EMBEDDINGS=openai`"},
    )
    faq_min_similarity: float = field(
        default=0.5,
        metadata={
            "help": "How close in meaning (0..1, after the word-match bonus) an FAQ must be to answer a message; "
            "else the bot says it does not know"
        },
    )
    default_currency: str = field(default="EUR", metadata={"help": "Currency of budgets stated without one"})
    default_region: str = field(
        default="DE", metadata={"help": "Country (ISO 3166) of phone numbers written without a country code"}
    )
    public_url: str = field(
        default="http://127.0.0.1:8000",
        metadata={"help": "Where this API is reached from outside; links in webhook payloads start with it"},
    )
    webhook_allow_networks: tuple[str, ...] = field(
        default=(),
        metadata={"help": "CIDRs webhooks may reach although private or loopback (plain http is allowed only there)"},
    )
    metrics_allow_networks: tuple[str, ...] = field(
        default=(),
        metadata={"help": "CIDRs that may read /metrics (others get 403); anyone when empty, as scrapers expect"},
    )
    webhook_timeout_seconds: float = field(
        default=15.0, metadata={"help": "A receiver must answer 2xx within this long for a delivery to count"}
    )
    webhook_lease_seconds: float = field(
        default=60.0,
        metadata={"help": "How long a worker holds a delivery; one a killed worker held is claimed again after it"},
    )
    webhook_secret_grace_hours: float = field(
        default=24.0, metadata={"help": "After a secret rotation, how long the old secret keeps signing too"}
    )
    accept_seconds: float = field(
        default=60.0, metadata={"help": "A conversation offered to a rep who does not accept it within this moves on"}
    )
    routing: str = field(
        default="least_loaded",
        metadata={"help": "Among reps who fit and have room: `least_loaded` or `round_robin`"},
    )
    presence_seconds: float = field(
        default=90.0, metadata={"help": "A rep whose console has not been heard from for this long counts as away"}
    )
    opening_hours: str | None = field(
        default=None,
        metadata={"help": "When reps answer, e.g. `Mon-Fri 09:00-18:00 Europe/Berlin`; unset: whenever one is online"},
    )
    live_updates: str = field(
        default="auto",
        metadata={"help": "How streams hear of new messages across processes: `auto` (PostgreSQL LISTEN/NOTIFY, "
                  "else Redis pub/sub when SALESBOT_REDIS_URL is set, else polling), `postgres`, `redis`, `poll`"},
    )  # fmt: skip
    session_secret: str | None = field(
        default=None,
        metadata={"help": "Signs the rep console's session cookies; `salesbot serve` makes one per start when unset "
                  "(all its workers share it; a restart signs reps out)"},
    )  # fmt: skip
    retrain_after_events: int = field(
        default=0,
        metadata={"help": "`salesbot worker` retrains the recommender once this many new events arrived since the "
                  "newest model (0: never for that reason); the new model serves only if it beats the active one"},
    )  # fmt: skip
    retrain_every_hours: float = field(
        default=0.0,
        metadata={"help": "`salesbot worker` also retrains after this many hours (0: never for that reason)"},
    )
    keep_model_versions: int = field(
        default=5,
        metadata={
            "help": "Model versions whose artifacts are kept for rolling back; older ones are pruned (rows stay)"
        },
    )
    reembed_every_minutes: float = field(
        default=10.0,
        metadata={"help": "`salesbot worker` embeds FAQs and catalog items whose text changed since their vectors "
                  "were made this often, with the configured embedding model (0: only by `salesbot jobs run reembed`)"},
    )  # fmt: skip
    faq_gaps_every_hours: float = field(
        default=24.0,
        metadata={"help": "`salesbot worker` groups the last 30 days' questions the bot could not answer this often "
                  "(`salesbot faq gaps` and `GET /v1/faqs/gaps` any time; 0: only on demand)"},
    )  # fmt: skip
    demo_site_key: str | None = field(
        default=None,
        metadata={"help": "A site key for the demo store at /demo, whose pages carry the chat widget; /demo answers "
                  "404 without one (`make demo` makes one)"},
    )  # fmt: skip
    log_level: str = field(default="INFO", metadata={"help": "Log level (DEBUG, INFO, WARNING, ERROR)"})
    log_format: str = field(default="text", metadata={"help": "`text` or `json` (one JSON object per line)"})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the settings from `environ` (default: the process environment); overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = PREFIX + spec.name.upper()
            if name in environ:
                values[spec.name] = _parse(name, spec.type, environ[name])
        if "llm_api_key" not in values and environ.get("OPENAI_API_KEY"):
            values["llm_api_key"] = environ["OPENAI_API_KEY"]  # the openai SDK's own variable works too
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.log_format not in {"text", "json"}:
            raise InvalidInput.for_field("SALESBOT_LOG_FORMAT", "must be `text` or `json`")
        if self.unknown_items not in {"reject", "keep"}:
            raise InvalidInput.for_field("SALESBOT_UNKNOWN_ITEMS", "must be `reject` or `keep`")
        if not self.event_weights or not all(EVENT_TYPE.match(name) for name in self.event_weights):
            raise InvalidInput.for_field(
                "SALESBOT_EVENT_WEIGHTS", "needs at least one type; types are lower-case words like add_to_cart"
            )
        if self.brain not in {None, "rules", "llm"}:
            raise InvalidInput.for_field("SALESBOT_BRAIN", "must be `rules` or `llm`")
        if self.embeddings not in {"local", "openai", "off"}:
            raise InvalidInput.for_field("SALESBOT_EMBEDDINGS", "must be `local`, `openai` or `off`")
        if self.message_max_chars < 1:
            raise InvalidInput.for_field("SALESBOT_MESSAGE_MAX_CHARS", "must be at least 1")
        if self.routing not in {"least_loaded", "round_robin"}:
            raise InvalidInput.for_field("SALESBOT_ROUTING", "must be `least_loaded` or `round_robin`")
        if self.live_updates not in {"auto", "postgres", "redis", "poll"}:
            raise InvalidInput.for_field("SALESBOT_LIVE_UPDATES", "must be `auto`, `postgres`, `redis` or `poll`")
        if self.max_body_bytes < 1024:
            raise InvalidInput.for_field("SALESBOT_MAX_BODY_BYTES", "must be at least 1024")
        for name in ("reembed_every_minutes", "faq_gaps_every_hours"):
            if getattr(self, name) < 0:
                raise InvalidInput.for_field(PREFIX + name.upper(), "must be 0 (off) or more")
        for cidr in self.metrics_allow_networks:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise InvalidInput.for_field("SALESBOT_METRICS_ALLOW_NETWORKS", str(exc)) from exc

    @property
    def artifacts(self) -> Path | None:
        return Path(self.artifact_dir) if self.artifact_dir else None

    @property
    def uses_llm(self) -> bool:
        if self.brain is not None:
            return self.brain == "llm"
        return bool(self.llm_base_url or self.llm_api_key)

    @classmethod
    def documented(cls) -> list[tuple[str, str, str]]:
        """(variable, default, meaning) for every setting, in declaration order."""
        rows = []
        for spec in fields(cls):
            default = spec.default if spec.default_factory is MISSING else spec.default_factory()
            shown = _show(default)
            rows.append((PREFIX + spec.name.upper(), str(shown), spec.metadata["help"]))
        return rows


def _show(default: Any) -> str:
    if isinstance(default, dict):
        return ",".join(f"{name}={weight:g}" for name, weight in default.items())
    if isinstance(default, tuple):
        return ",".join(default)
    return "" if default is None else str(default)


def _weights(raw: str) -> dict[str, float]:
    weights = {}
    for pair in _words(raw):
        name, _, weight = pair.partition("=")
        weights[name.strip()] = float(weight) if weight.strip() else 1.0
    return weights


def _parse(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind.startswith("dict"):
            return _weights(raw)
        if kind.startswith("tuple"):
            return _words(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return _flag(raw)
    except ValueError as exc:
        raise InvalidInput.for_field(name, f"cannot read {raw!r}: {exc}") from exc
    return raw or None if "None" in kind else raw
