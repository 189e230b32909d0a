"""The options every remote backend takes, each declared once: :class:`RemoteOptions` (what
:class:`~rerankit.backends.RemoteBackend` itself keeps) and :class:`TransportSettings` (what the
HTTP transport uses).

Both are :class:`~rerankit._options_base.Options`: a bad value raises
:class:`~rerankit.ConfigurationError` naming the option, the rule and the value got (never a key),
when the reranker is built. Their field defaults are the signature defaults of
``RemoteBackend.__init__``.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo

from rerankit._options_base import Options
from rerankit.backends._retry_quota import INITIAL_TOKENS, RETRY_COST


class RemoteOptions(Options):
    """What :class:`~rerankit.backends.RemoteBackend` keeps beside the transport.

    >>> RemoteOptions.default("max_concurrency")
    8
    >>> RemoteOptions.validated({"max_concurrency": 0}, provider="cohere")
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: max_concurrency must be an integer of at least 1, got 0 (provider=cohere)
    """

    # Checked as the address and key are resolved (the environment first), so any value is let through.
    base_url: Any = Field(
        default=None,
        description="One address or a list of them (replicas, regions), ``http(s)://host[:port][/prefix]`` "
        "without credentials; each request goes to the healthy one with the fewest requests in flight, "
        "each has its own circuit breaker and pools.",
    )
    api_key: Any = Field(
        default=None,
        description="One key for all addresses, or a list with one per address; a string or a "
        "``SecretStr``, never logged.",
    )
    max_concurrency: int = Field(
        default=8,
        ge=1,
        description=(
            "Requests one call has in flight at once: the parts of a split call run this many at a time."
        ),
    )
    max_document_tokens: int | None = Field(
        default=None,
        ge=1,
        description=(
            "The (query + document) token limit of a server that rejects longer pairs (a self-hosted "
            "TEI's ``max_input_length``, say): documents are cut to it client-side, and "
            '``long_documents="chunk"`` windows fit it. Tokens are counted by a conservative estimate '
            "that never undercounts a word-piece tokenizer (docs/long-documents.md). ``None``: the "
            "provider's documented limit, if any."
        ),
    )


class TransportSettings(Options):
    """The options of the one HTTP transport, validated once.

    ``base_url`` is one address or several (replicas); ``api_key`` one key for all of them or a
    tuple with one per address. Built directly, a bad value raises
    :class:`~rerankit.ConfigurationError` too (with ``provider`` set).

    >>> TransportSettings(provider="cohere", base_url="https://api.cohere.com/").base_url
    ('https://api.cohere.com',)
    >>> TransportSettings(provider="cohere", base_url="https://api.cohere.com", timeout=0)
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: timeout must be a number greater than 0, got 0 (provider=cohere)
    """

    provider: str = Field(description="The backend's name, on errors and logs.")
    base_url: tuple[str, ...] = Field(
        description="One address or a list of them (replicas, regions), each http(s) without credentials."
    )
    api_key: SecretStr | tuple[SecretStr, ...] | None = Field(
        default=None, description="One key for all addresses, or one per address; None: no key."
    )
    auth_scheme: str = Field(
        default="Bearer", description="The key's scheme in its header; '': the bare key (Pinecone's Api-Key)."
    )
    auth_header: str = Field(default="authorization", description="The header the key travels in.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers every request carries besides the key (an API version)."
    )
    timeout: float = Field(
        default=30.0, gt=0, description="Seconds each step of one request (connect, write, read) may take."
    )
    max_retries: int = Field(
        default=6,
        ge=0,
        description=(
            "Retries after the first attempt, for 408, 409, 425, 429, 500, 502, 503 and 504 answers, "
            "timeouts and dropped connections, as long as the retry budget allows. At 30% transient "
            "faults 6 leave 0.3^7 of calls (about 2 in 10,000) failing."
        ),
    )
    deadline: float | None = Field(
        default=None,
        gt=0,
        description="Seconds a whole part may take, retries and waits included; ``None``: no deadline.",
    )
    max_retry_wait: float = Field(
        default=60.0,
        ge=0,
        description="Cap in seconds on any one wait between attempts, ``Retry-After`` included.",
    )
    backoff_base: float = Field(
        default=0.5,
        ge=0,
        description=(
            "First backoff in seconds when the provider sends no ``Retry-After``; it doubles each "
            "retry, plus up to ``backoff_base`` of jitter."
        ),
    )
    max_connections: int = Field(
        default=64, ge=1, description="Connections kept open per endpoint, shared by all calls."
    )
    circuit_breaker: bool = Field(default=True, description="Whether each endpoint has a circuit breaker.")
    # 12, not Envoy's 5: a client's one endpoint may be all it has; at a 30% transient fault rate
    # 5 failures in a row come about every 600 requests, 12 about every 2.6 million, while an
    # outage fails them all at once (docs/reliability.md, backends/_breaker.py).
    breaker_threshold: int = Field(
        default=12,
        ge=1,
        description=(
            "Consecutive failed requests (attempts, of the kinds a fallback is tried on) that open an"
            " endpoint's breaker; a success resets the count."
        ),
    )
    # failures that all come at one moment, every request in flight timing out together because the
    # client's own event loop stalled for a second, say, are not yet an outage: the retries decide
    breaker_failure_span: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Seconds that run of failed requests must last, from its first, before it opens the "
            "breaker: failures that all come at one moment (every request in flight timing out "
            "together) are not yet an outage."
        ),
    )
    breaker_cooldown: float = Field(
        default=5.0, gt=0, description="First cool-down in seconds, doubled at each re-opening."
    )
    breaker_max_cooldown: float = Field(
        default=30.0, gt=0, description="Cap on the cool-down in seconds; at least ``breaker_cooldown``."
    )
    retry_budget: bool = Field(
        default=True,
        description=(
            "Whether retries are limited by the retry budget, a token bucket per backend (the AWS "
            "SDKs' standard retry quota): a retry takes tokens, a call that succeeds gives back its "
            "last retry's (or 1), so only retries that keep failing drain it."
        ),
    )
    retry_budget_tokens: int = Field(
        default=INITIAL_TOKENS, ge=0, description="The budget's size in tokens; it starts full."
    )
    retry_budget_cost: int = Field(
        default=RETRY_COST,
        ge=0,
        description="Tokens one retry takes, twice that after a timeout.",
    )

    @field_validator("base_url", mode="before")
    @classmethod
    def _normalize_base_url(cls, base_url: Any) -> tuple[str, ...]:
        if isinstance(base_url, str):
            return (_checked_base_url(base_url),)
        if not isinstance(base_url, (list, tuple)) or not base_url:
            raise ValueError("must be an address or a non-empty list of addresses")
        urls = []
        for position, url in enumerate(base_url):
            if not isinstance(url, str):
                raise ValueError(f"entry {position} is {type(url).__name__}, expected an address string")
            try:
                urls.append(_checked_base_url(url))
            except ValueError as exc:
                raise ValueError(f"entry {position} {exc}") from None
        if len(set(urls)) != len(urls):
            raise ValueError("lists the same address twice")
        return tuple(urls)

    @model_validator(mode="after")
    def _check_pairs(self) -> TransportSettings:
        if isinstance(self.api_key, tuple) and len(self.api_key) != len(self.base_url):
            raise ValueError(
                f"api_key lists {len(self.api_key)} keys for {len(self.base_url)} addresses: "
                "give one key for all, or one per address"
            )
        if self.breaker_max_cooldown < self.breaker_cooldown:
            raise ValueError("breaker_max_cooldown must be at least breaker_cooldown")
        return self

    def api_keys(self) -> list[SecretStr | None]:
        """The key of each address, in order."""
        if isinstance(self.api_key, tuple):
            return list(self.api_key)
        return [self.api_key] * len(self.base_url)


#: What the transport model holds that is not a user's option (set by the backend class itself), and
#: the two it gets resolved (from :class:`RemoteOptions`' ``base_url`` and ``api_key``).
_SET_BY_THE_BACKEND = frozenset({"provider", "auth_scheme", "auth_header", "headers", "base_url", "api_key"})
#: Every remote backend's options, in signature order, each declared once above.
SHARED_OPTIONS: dict[str, FieldInfo] = {
    **RemoteOptions.model_fields,
    **{
        name: field
        for name, field in TransportSettings.model_fields.items()
        if name not in _SET_BY_THE_BACKEND
    },
}


def _checked_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash, if it is an http(s) address without credentials."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"is not a valid address: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http(s) address like 'https://host[:port][/prefix]'")
    if url.userinfo:
        raise ValueError("must not hold credentials; pass the key as api_key (or its environment variable)")
    if url.query or url.fragment:
        raise ValueError("must not have a query or fragment")
    return str(url).rstrip("/")


__all__ = ["SHARED_OPTIONS", "RemoteOptions", "TransportSettings"]
