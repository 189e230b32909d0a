"""API keys: compared in constant time, never logged, never echoed."""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def is_authorized(authorization: str | None, api_key: SecretStr | None) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <api_key>`` (any case of ``bearer``).

    The comparison takes the same time wherever the tokens differ (``hmac.compare_digest``), so
    response times reveal nothing about the key. Always true when the server has no key.

    >>> is_authorized("Bearer s3cret", SecretStr("s3cret")), is_authorized("Bearer guess", SecretStr("s3cret"))
    (True, False)
    """
    if api_key is None:
        return True
    scheme, _, token = (authorization or "").partition(" ")
    token_matches = hmac.compare_digest(token.strip().encode(), api_key.get_secret_value().encode())
    return token_matches and scheme.lower() == "bearer"
