"""Customer identity for public `site` keys: the store's server signs a customer id, the browser shows it.

The proof is the hex HMAC-SHA256 of the customer id under the site key's identity secret. Only the store's back
end holds that secret, so a visitor cannot make a proof for anyone but the customer the store signed in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from salesbot.errors import PermissionDenied

HEADER = "X-Customer-Hash"


def new_secret() -> str:
    return secrets.token_hex(32)


def sign(secret: str, customer_id: str) -> str:
    """What the store's server computes for a signed-in customer."""
    return hmac.new(bytes.fromhex(secret), customer_id.encode(), hashlib.sha256).hexdigest()


def verify(*, secret: str | None, customer_id: str, proof: str | None) -> None:
    """Nothing when `proof` is the customer's hash under `secret`; `PermissionDenied` saying what to send else."""
    if secret is None:
        raise PermissionDenied(
            "this site key has no identity secret, so it cannot act for a customer; give it one with "
            "`salesbot keys identity-secret KEY_ID`, or call from your server with a server key"
        )
    if not proof:
        raise PermissionDenied(
            f"a site key acts for customer {customer_id!r} only with their identity hash in {HEADER} "
            "(hex HMAC-SHA256 of the customer id under the site key's identity secret, computed by your server); "
            "without it, serve the visitor anonymously (POST /v1/recommendations/session, or a conversation "
            "started with a visitor_id)"
        )
    if not hmac.compare_digest(sign(secret, customer_id).encode(), proof.strip().lower().encode()):
        raise PermissionDenied(f"{HEADER} is not customer {customer_id!r}'s identity hash")
