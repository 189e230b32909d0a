"""Option checks shared by the local backends."""

from __future__ import annotations

from rerankit.errors import ConfigurationError


def check_integer(option: str, value: object, *, minimum: int) -> None:
    """A :class:`ConfigurationError` unless ``value`` is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ConfigurationError(f"{option} must be {wanted}, got {value!r}")
