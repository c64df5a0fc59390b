from __future__ import annotations

import pytest

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.auth import ANONYMOUS, ApiKeys, key_id

KEYS = frozenset({"first-key-0123456789", "second-key-0123456789"})


def test_open_server_calls_everyone_anonymous() -> None:
    assert ApiKeys(frozenset()).authorize(None) == ANONYMOUS


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic first-key-0123456789",
        "first-key-0123456789",
        "Bearer first-key-012345678",
        "Bearer first-key-0123456789x",
        "Bearer wrong",
    ],
)
def test_anything_but_a_configured_bearer_key_is_refused(header: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        ApiKeys(KEYS).authorize(header)
    assert caught.value.status == 401 and caught.value.headers["WWW-Authenticate"] == "Bearer"


def test_the_key_id_names_the_key_without_revealing_it() -> None:
    keys = ApiKeys(KEYS)
    first = keys.authorize("Bearer first-key-0123456789")
    assert first == key_id("first-key-0123456789") != keys.authorize("bearer second-key-0123456789")
    assert "first" not in first and len(first) == len("key-") + 12
