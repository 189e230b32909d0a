"""How every option is checked: a pydantic model per backend (or component), one way for all.

An options model lists each option once, with its type, bounds, default and description
(``Field(...)``). Building a model, directly (``Model(...)``) or with :meth:`Options.validated`,
checks the values and turns pydantic's report into a :class:`~rerankit.ConfigurationError` that
names each bad option, the rule it breaks and the value it got (never the value of a secret), as
``"batch_size must be an integer of at least 1, got 0"``; an unknown option is one too. Every
options model behaves so: no caller sees pydantic's ``ValidationError``. The signature defaults of
a backend's ``__init__`` and its ``Args:`` entries are made from its model (:func:`takes_options`
for a local backend, ``RemoteBackend``'s ``options_model`` for a provider; :func:`keyword_signature`,
:func:`args_entries`), so an option is written in one place: its field. An unknown option is the
same :class:`~rerankit.ConfigurationError` through a backend's class as through a spec string
(:func:`unknown_options_error`).
"""

from __future__ import annotations

import functools
import inspect
import operator
import re
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from rerankit._errors import ConfigurationError, RerankError

_Model = TypeVar("_Model", bound="Options")
_Class = TypeVar("_Class", bound=type)


def _non_blank(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise ValueError("must be a non-blank string")


#: An optional text option that, when given, must show something. A wrong type and a blank text
#: break the same rule and get the same message: ``"instruction must be a non-blank string"``.
OptionalNonBlankStr = Annotated[str | None, BeforeValidator(_non_blank)]
#: The same rule for a text option that is required when given (``NonBlankStr | None`` lets
#: ``None`` through).
NonBlankStr = Annotated[str, BeforeValidator(_non_blank)]


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
    >>> Demo(batch_size=0)
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: batch_size must be an integer of at least 1, got 0
    >>> Demo(batch=2)
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: unknown option 'batch'; valid options: batch_size
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, hide_input_in_errors=True, arbitrary_types_allowed=True
    )

    #: What the options belong to, for the message ("local", "cohere", ...); ``None``: unnamed.
    owner: ClassVar[str | None] = None

    def __init__(self, **values: Any) -> None:
        """Check ``values``; a bad or unknown one is a :class:`~rerankit.ConfigurationError` (whose
        ``provider`` is a ``provider`` value, else the model's :attr:`owner`)."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            provider = values.get("provider")
            raise ConfigurationError(
                describe_invalid(exc, type(self)),
                provider=provider if isinstance(provider, str) else type(self).owner,
            ) from None

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
        except ConfigurationError as exc:  # from __init__, with the model's owner: name the provider
            raise ConfigurationError(exc.message, provider=provider or cls.owner) from None

    @classmethod
    def from_arguments(
        cls: type[_Model], arguments: Mapping[str, Any], *, provider: str | None = None
    ) -> _Model:
        """:meth:`validated` of the options among ``arguments``: each field the model declares,
        taken from a function's arguments (``locals()`` first thing in an ``__init__`` whose
        keyword parameters are the model's fields); other names are left out.

        Raises:
            ConfigurationError: As :meth:`validated`.
        """
        values = {name: arguments[name] for name in cls.model_fields if name in arguments}
        return cls.validated(values, provider=provider)

    @classmethod
    def of_backend(cls: type[_Model], options: Mapping[str, Any], *, backend: str) -> _Model:
        """The options model of a backend's keyword ``options``: an unknown name is refused as a
        spec string refuses it (:func:`unknown_options_error`), then :meth:`validated`.

        >>> from pydantic import Field
        >>> class Demo(Options):
        ...     batch_size: int = Field(default=32, ge=1, description="Pairs per forward pass.")
        >>> Demo.of_backend({"batch": 2}, backend="local")
        Traceback (most recent call last):
        ...
        rerankit.ConfigurationError: unknown option(s) 'batch' for backend 'local'; valid options: batch_size (provider=local)

        Raises:
            ConfigurationError: An option is unknown, or breaks its rule (as :meth:`validated`).
        """
        unknown = set(options) - set(cls.model_fields)
        if unknown:
            raise unknown_options_error(backend, unknown, cls.model_fields)
        return cls.validated(dict(options), provider=backend)


def unknown_options_error(backend: str, unknown: Iterable[str], valid: Iterable[str]) -> ConfigurationError:
    """The error for options a backend does not take, the same through its class and a spec string:
    ``"unknown option(s) 'temprature' for backend 'cohere'; valid options: base_url, ..."``."""
    return ConfigurationError(
        f"unknown option(s) {', '.join(map(repr, sorted(unknown)))} for backend {backend!r}; "
        f"valid options: {', '.join(valid)}",
        provider=backend,
    )


def takes_options(model: type[Options]) -> Callable[[_Class], _Class]:
    """Class decorator: the class's ``__init__(self, model, **options)`` shows ``model``'s fields
    as its keyword-only parameters (their types and defaults), and the ``**options:`` entry of the
    class docstring's ``Args:`` becomes one entry per field (its description and default). The
    class's ``options_model`` is ``model``; its ``__init__`` checks what it got with
    :meth:`Options.of_backend`.

    >>> from pydantic import Field
    >>> class Demo(Options):
    ...     batch_size: int = Field(default=32, ge=1, description="Pairs per forward pass.")
    >>> @takes_options(Demo)
    ... class Scorer:
    ...     '''Scores.
    ...
    ...     Args:
    ...         model: A model id.
    ...         **options: (made from the options model)
    ...     '''
    ...     def __init__(self, model: str, **options: Any) -> None:
    ...         self.batch_size = Demo.of_backend(options, backend="demo").batch_size
    >>> import inspect
    >>> str(inspect.signature(Scorer.__init__))
    '(self, model: str, *, batch_size: int = 32) -> None'
    >>> print(Scorer.__doc__.split("Args:")[1].strip())
    model: A model id.
            batch_size: Pairs per forward pass. Defaults to 32.
    """

    def declare(cls: _Class) -> _Class:
        init = cls.__dict__["__init__"]
        init.__signature__ = keyword_signature(model.model_fields)
        cls.__doc__ = with_args_entries(cls.__doc__ or "", args_entries(model.model_fields), replace=True)
        cls.options_model = model  # type: ignore[attr-defined]
        return cls

    return declare


def keyword_signature(
    fields: Mapping[str, FieldInfo],
    *,
    defaults: Mapping[str, Any] | None = None,
    var_keyword: str | None = None,
) -> inspect.Signature:
    """``(self, model, *, <field>=<default>, ..., **<var_keyword>)``: an ``__init__`` signature made
    from options fields (``model_fields`` of one model or several merged), so the options a class
    takes, their types and defaults are its model's. ``defaults`` overrides a field's default in
    the signature (an option resolved later, such as an address read from the environment).

    >>> from pydantic import Field
    >>> class Demo(Options):
    ...     batch_size: int = Field(default=32, ge=1, description="Pairs per forward pass.")
    >>> str(keyword_signature(Demo.model_fields, var_keyword="options"))
    '(self, model: str, *, batch_size: int = 32, **options: Any) -> None'
    """
    defaults = defaults or {}
    parameters = [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
    ]
    for name, field in fields.items():
        default = defaults[name] if name in defaults else field.get_default(call_default_factory=True)
        annotation = _shown_type(field.annotation) if field.annotation is not None else Any
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        )
    if var_keyword is not None:
        parameters.append(inspect.Parameter(var_keyword, inspect.Parameter.VAR_KEYWORD, annotation=Any))
    return inspect.Signature(parameters, return_annotation=None)


def _shown_type(annotation: Any) -> Any:
    """``annotation`` without its ``Annotated`` metadata (validators, bounds), as a signature
    shows it: ``str | None``, not ``Optional[Annotated[str, BeforeValidator(...)]]``."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _shown_type(typing.get_args(annotation)[0])
    if _is_union(annotation):
        arms = typing.get_args(annotation)
        shown = tuple(_shown_type(arm) for arm in arms)
        if shown != arms:
            return functools.reduce(operator.or_, shown)
    return annotation


def args_entries(
    fields: Mapping[str, FieldInfo], *, indent: int = 8, defaults: Mapping[str, str] | None = None
) -> str:
    """Google-style ``Args:`` entries, one per field: its description and ``Defaults to <default>.``
    (``defaults`` gives the words for a default the value does not say, as "the provider's address"),
    each line indented by ``indent`` and continuation lines by four more.

    >>> from pydantic import Field
    >>> class Demo(Options):
    ...     batch_size: int = Field(default=32, ge=1, description="Pairs per forward pass.")
    >>> print(args_entries(Demo.model_fields, indent=4))
        batch_size: Pairs per forward pass. Defaults to 32.
    """
    defaults = defaults or {}
    lines: list[str] = []
    for name, field in fields.items():
        default = defaults.get(name)
        if default is None:
            default = _default_words(field.get_default(call_default_factory=True))
        # "Defaults to" kept on one line, as readers (and tests) look for it
        text = f"{name}: {(field.description or '').strip()} {default}".strip().replace(
            "Defaults to", "Defaults\0to"
        )
        lines += textwrap.wrap(
            text,
            width=100,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + 4),
            break_on_hyphens=False,
            break_long_words=False,
        )
    return "\n".join(lines).replace("\0", " ")


def with_args_entries(doc: str, entries: str, *, replace: bool = False) -> str:
    """``doc`` (a docstring) with ``entries`` put before its ``**options:`` entry (re-indented to
    it), or, with ``replace``, in place of that entry (and its continuation lines)."""
    found = re.search(r"^( *)\*\*options:", doc, re.M)
    if found is None:
        raise TypeError("a backend with an options_model documents '**options:' in its Args: section")
    indent = found.group(1)
    block = textwrap.indent(textwrap.dedent(entries), indent)
    if not replace:
        return doc[: found.start()] + block + "\n" + doc[found.start() :]
    before, entry_and_after = doc[: found.start()], doc[found.start() :].split("\n")
    kept = 1  # the entry's first line, then its continuation lines (indented deeper than it)
    while kept < len(entry_and_after) and entry_and_after[kept].startswith(indent + " "):
        kept += 1
    return before + block + "\n" + "\n".join(entry_and_after[kept:])


def _default_words(value: Any) -> str:
    shown = f"{value:g}" if isinstance(value, float) else repr(value)
    return f"Defaults to {shown}."


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
            # A validator's message follows the option's name ("base_url" "lists the same address
            # twice"); a rerankit error raised inside one is a whole sentence already.
            inner = error.get("ctx", {}).get("error")
            whole = isinstance(inner, RerankError)
            if whole:  # its message without the "(provider=...)" its str adds
                message = inner.message
            if name and not whole and not message.startswith(f"{name} "):
                message = f"{name} {message}"
            problems.append(message)
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
        # a string option may be a secret: say what was given, never its text
        got = type(value).__name__ if _takes_strings(field) else repr(value)
        problems.append(f"{name} must be {rule}, got {got}")
    return "; ".join(dict.fromkeys(problems))


def _rule(field: FieldInfo) -> str | None:
    """The rule a field's type and bounds make, in words (``None`` for other kinds of field).

    A union lists its arms: ``int | Literal["auto"] | None`` with ``ge=1`` reads "an integer of at
    least 1, 'auto' or None"; a single arm with ``None`` reads "an integer (or None)".
    """
    annotation = field.annotation
    arms = list(typing.get_args(annotation)) if _is_union(annotation) else [annotation]
    optional = type(None) in arms
    arms = [arm for arm in arms if arm is not type(None)]
    if len(arms) == 1:
        noun = _arm_rule(arms[0], field.metadata, alone=True)
        if noun is None:
            return None
        return noun + (" (or None)" if optional else "")
    if all(_bare(arm)[0] in (int, float) for arm in arms):  # int | float
        nouns = [_arm_rule(float, field.metadata, alone=True)]
    else:
        nouns = [_arm_rule(arm, field.metadata, alone=False) for arm in arms]
    if any(noun is None for noun in nouns):
        return None
    words = [noun for noun in nouns if noun is not None] + (["None"] if optional else [])
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def _bare(arm: Any) -> tuple[Any, list[Any]]:
    """An arm without ``Annotated``, and the constraints it carried (``Ge(1)``, a ``Field(ge=1)``)."""
    if typing.get_origin(arm) is not typing.Annotated:
        return arm, []
    base, *extras = typing.get_args(arm)
    metadata: list[Any] = []
    for extra in extras:
        metadata.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
    return base, metadata


def _arm_rule(arm: Any, field_metadata: list[Any], *, alone: bool) -> str | None:
    """One arm of a field's type in words; ``alone``: the field's own bounds apply to it."""
    base, metadata = _bare(arm)
    if alone:
        metadata = [*metadata, *field_metadata]
    if base is bool:
        return "True or False"
    if base is str:
        return "a string"
    if typing.get_origin(base) is Literal:
        choices = typing.get_args(base)
        if len(choices) == 1 and not alone:
            return repr(choices[0])
        return "one of " + ", ".join(repr(choice) for choice in choices)
    if base is int:
        noun = "an integer"
    elif base is float:
        noun = "a number"
    elif isinstance(base, type) and not alone:
        return f"a {base.__name__}"
    else:
        return None
    low = next((m for m in metadata if isinstance(m, (Ge, Gt))), None)
    high = next((m for m in metadata if isinstance(m, (Le, Lt))), None)
    if isinstance(low, Ge) and isinstance(high, Le):
        return noun + f" from {low.ge} to {high.le}"
    if isinstance(low, Ge):
        noun += f" of at least {low.ge}"
    elif isinstance(low, Gt):
        noun += f" greater than {low.gt}"
    if isinstance(high, Le):
        noun += f" of at most {high.le}"
    elif isinstance(high, Lt):
        noun += f" below {high.lt}"
    return noun


def _takes_strings(field: FieldInfo) -> bool:
    annotation = field.annotation
    arms = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    return any(_bare(arm)[0] is str for arm in arms)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


__all__ = [
    "NonBlankStr",
    "OptionalNonBlankStr",
    "Options",
    "args_entries",
    "describe_invalid",
    "keyword_signature",
    "takes_options",
    "unknown_options_error",
    "with_args_entries",
]
