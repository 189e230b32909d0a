"""The options every remote backend shares, validated once by pydantic (:class:`TransportSettings`).

A bad value raises :class:`~rerankit.ConfigurationError` naming the option, when the
reranker is built.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from rerankit._errors import ConfigurationError


class TransportSettings(BaseModel):
    """The options every remote backend shares, validated once.

    ``base_url`` is one address or several (replicas); ``api_key`` one key for all of them or a
    tuple with one per address.

    >>> TransportSettings(provider="cohere", base_url="https://api.cohere.com/").base_url
    ('https://api.cohere.com',)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)

    provider: str
    base_url: tuple[str, ...]
    api_key: SecretStr | tuple[SecretStr, ...] | None = None
    auth_scheme: str = "Bearer"
    #: The header the key travels in; with a scheme of ``""`` the key is sent bare (Pinecone's ``Api-Key``).
    auth_header: str = "authorization"
    #: Headers every request carries besides the key (an API version, for instance).
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    deadline: float | None = Field(default=None, gt=0)
    max_retry_wait: float = Field(default=60.0, ge=0)
    backoff_base: float = Field(default=0.5, ge=0)
    max_connections: int = Field(default=64, ge=1)
    circuit_breaker: bool = True
    breaker_threshold: int = Field(default=3, ge=1)
    breaker_cooldown: float = Field(default=5.0, gt=0)
    breaker_max_cooldown: float = Field(default=30.0, gt=0)
    retry_budget: bool = True
    retry_budget_ratio: float = Field(default=0.2, ge=0)
    retry_budget_floor: float = Field(default=2.0, ge=0)
    retry_budget_window: float = Field(default=10.0, gt=0)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(
                _describe_invalid_options(exc), provider=values.get("provider")
            ) from None

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


def _checked_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash, if it is an http(s) address without credentials."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid address: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http(s) address like 'https://host[:port][/prefix]'")
    if url.userinfo:
        raise ValueError("must not hold credentials; pass the key as api_key (or its environment variable)")
    if url.query or url.fragment:
        raise ValueError("must not have a query or fragment")
    return str(url).rstrip("/")


def _describe_invalid_options(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return "invalid option(s): " + "; ".join(problems)


__all__ = ["TransportSettings"]
