"""Bearer API keys, compared in constant time, failing closed.

Every configured key is compared (no early exit), so the time taken does not reveal how
much of a guess was right; a missing or malformed header is refused like a wrong key. Logs
and rate limits use a key id (a short hash), never the key itself.
"""

from __future__ import annotations

import hashlib
import hmac

from persian_chat.server.http.api_errors import ApiError

ANONYMOUS = "anonymous"


def key_id(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


class ApiKeys:
    """`label` names the kind of key in the 401 (and its code): the admin key reuses this
    check with a one-key set, so both are compared the same constant-time way."""

    def __init__(self, keys: frozenset[str], label: str = "API key") -> None:
        self._keys = [k.encode("utf-8") for k in sorted(keys)]
        self.label = label

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def authorize(self, header: str | None) -> str:
        """The caller's key id, or ApiError 401. With no keys configured, everyone is
        'anonymous' (the operator chose an open server)."""
        if not self._keys:
            return ANONYMOUS
        scheme, _, token = (header or "").partition(" ")
        candidate = token.strip().encode("utf-8")
        matched = b""
        for key in self._keys:
            if hmac.compare_digest(candidate, key):
                matched = key
        if scheme.lower() != "bearer" or not matched:
            raise ApiError(
                401,
                f"missing or invalid {self.label} (send 'Authorization: Bearer <key>')",
                code="invalid_" + self.label.lower().replace(" ", "_"),
                headers={"WWW-Authenticate": "Bearer"},
            )
        return key_id(matched.decode("utf-8"))
