"""Option checks shared by the local backends."""

from __future__ import annotations

from pathlib import Path

from rerankit._errors import ConfigurationError


def check_integer(option: str, value: object, *, minimum: int) -> None:
    """A :class:`ConfigurationError` unless ``value`` is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ConfigurationError(f"{option} must be {wanted}, got {value!r}")


def load_failed(
    kind: str, model: str, error: Exception, *, provider: str, location: str | None = None
) -> ConfigurationError:
    """The error a local backend raises when its model does not load: what was asked for, whether it
    was taken for a directory or a hub id, and the loader's own message.

    >>> load_failed("local", "/no/such/dir", OSError("not found"), provider="local").message
    "could not load local model '/no/such/dir' (hub id or directory): not found"
    """
    where = "directory" if Path(location or model).exists() else "hub id or directory"
    return ConfigurationError(f"could not load {kind} model {model!r} ({where}): {error}", provider=provider)
