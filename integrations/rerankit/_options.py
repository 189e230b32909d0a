"""How every option is checked: a pydantic model per backend (or component), one way for all.

An options model lists each option once, with its type, bounds, default and description
(``Field(...)``). :meth:`Options.validated` checks the values a user passed and turns pydantic's
report into a :class:`~rerankit.ConfigurationError` that names each bad option, the rule it breaks
and the value it got (never the value of a secret), as ``"batch_size must be an integer of at least
1, got 0"``. The signature defaults of a backend's ``__init__`` are read from its model with
:meth:`Options.default`, so a default is written in one place.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from rerankit._errors import ConfigurationError

_Model = TypeVar("_Model", bound="Options")


class Options(BaseModel):
    """Base of the options models: strict types (``"3"`` is not 3, ``True`` is not 1), frozen, and
    unknown names refused.

    >>> from pydantic import Field
    >>> class Demo(Options):
    ...     batch_size: int = Field(default=32, ge=1, description="Pairs per forward pass.")
    >>> Demo.default("batch_size")
    32
    >>> Demo.validated({"batch_size": 0}, provider="local")
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: batch_size must be an integer of at least 1, got 0 (provider=local)
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, hide_input_in_errors=True, arbitrary_types_allowed=True
    )

    #: What the options belong to, for the message ("local", "cohere", ...); ``None``: unnamed.
    owner: ClassVar[str | None] = None

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of option ``name``, as the model declares it.

        Args:
            name: A field of the model.

        Returns:
            The field's default (its ``default_factory`` called, if it has one).

        Raises:
            KeyError: The model has no field ``name``.
        """
        return cls.model_fields[name].get_default(call_default_factory=True)

    @classmethod
    def validated(cls: type[_Model], values: dict[str, Any], *, provider: str | None = None) -> _Model:
        """The options model of ``values``.

        Raises:
            ConfigurationError: One or more values break their option's rule; the message names
                each of them (and ``provider`` is set on the error).
        """
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigurationError(describe_invalid(exc, cls), provider=provider or cls.owner) from None


def describe_invalid(exc: ValidationError, model: type[BaseModel]) -> str:
    """One clause per bad option: ``"<option> must be <rule>, got <value>"``, or the validator's own
    message; joined by ``"; "``."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"]]
        name = location[0] if location else ""
        field = model.model_fields.get(name)
        if error["type"] == "value_error":  # a validator's own message says what is wrong
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name} {message}" if name else message)
            continue
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown option {name!r}; valid options: {', '.join(model.model_fields)}")
            continue
        if field is None:
            problems.append(f"{'.'.join(location)}: {error['msg']}")
            continue
        rule = _rule(field)
        if rule is None:  # a type without a plain-words rule (and possibly a secret): no value shown
            problems.append(f"{name}: {error['msg']}")
            continue
        value = error.get("input")
        problems.append(f"{name} must be {rule}, got {value!r}")
    return "; ".join(dict.fromkeys(problems))


def _rule(field: FieldInfo) -> str | None:
    """The rule a field's type and bounds make, in words (``None`` for other kinds of field)."""
    annotation = field.annotation
    arms = list(typing.get_args(annotation)) if _is_union(annotation) else [annotation]
    optional = type(None) in arms
    arms = [arm for arm in arms if arm is not type(None)]
    if arms == [bool]:
        noun = "True or False"
    elif arms == [int]:
        noun = "an integer"
    elif set(arms) <= {int, float} and arms:
        noun = "a number"
    elif len(arms) == 1 and typing.get_origin(arms[0]) is Literal:
        noun = "one of " + ", ".join(repr(choice) for choice in typing.get_args(arms[0]))
    else:
        return None
    low = next((m for m in field.metadata if isinstance(m, (Ge, Gt))), None)
    high = next((m for m in field.metadata if isinstance(m, (Le, Lt))), None)
    if isinstance(low, Ge) and isinstance(high, Le):
        noun += f" from {low.ge} to {high.le}"
    elif isinstance(low, Ge):
        noun += f" of at least {low.ge}"
    elif isinstance(low, Gt):
        noun += f" greater than {low.gt}"
    if isinstance(high, Le) and not isinstance(low, Ge):
        noun += f" of at most {high.le}"
    elif isinstance(high, Lt):
        noun += f" below {high.lt}"
    return noun + (" (or None)" if optional else "")


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _non_blank(value: Any) -> Any:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError("must be a non-blank string")
    return value


#: A string that is not only whitespace; a bad one reads ``"instruction must be a non-blank string"``
#: (``NonBlankStr | None`` lets ``None`` through).
NonBlankStr = Annotated[str, BeforeValidator(_non_blank)]


__all__ = ["NonBlankStr", "Options", "describe_invalid"]
