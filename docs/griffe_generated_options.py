"""A griffe extension for the API reference: show the options a backend's options model makes.

A backend whose options are written once, as the fields of its options model, gets its
``__init__`` signature and its docstring's ``Args:`` entries made from them when its module is
imported (``rerankit._options_base.takes_options``, ``RemoteBackend``'s ``options_model``).
Griffe reads the source, where the signature is ``(model, **options)`` and the entries are one
``**options:`` line. For such a class this takes the imported class's docstring and its
``__init__``'s ``__signature__`` instead, so the site shows each option with its type, default and
description, as ``help()`` does. Loaded by mkdocstrings through ``extensions:`` in mkdocs.yml; it
only changes how the site renders.
"""

from __future__ import annotations

import inspect
from typing import Any

from griffe import (
    Class,
    Docstring,
    Extension,
    Function,
    Object,
    Parameter,
    ParameterKind,
    Parameters,
    dynamic_import,
)

_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: ParameterKind.positional_only,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: ParameterKind.positional_or_keyword,
    inspect.Parameter.VAR_POSITIONAL: ParameterKind.var_positional,
    inspect.Parameter.KEYWORD_ONLY: ParameterKind.keyword_only,
    inspect.Parameter.VAR_KEYWORD: ParameterKind.var_keyword,
}


def _made_signature(cls: type) -> inspect.Signature | None:
    """The signature made from the options model ``cls`` declares (``options_model``: its own
    ``__init__``'s, or the one ``RemoteBackend`` made for a provider), else ``None``."""
    if cls.__dict__.get("options_model") is None:
        return None
    return getattr(cls.__init__, "__signature__", None)


def _parameters(signature: inspect.Signature) -> Parameters:
    return Parameters(
        *(
            Parameter(
                parameter.name,
                annotation=None
                if parameter.annotation is inspect.Parameter.empty
                else inspect.formatannotation(parameter.annotation),
                kind=_KINDS[parameter.kind],
                default=None if parameter.default is inspect.Parameter.empty else repr(parameter.default),
            )
            for parameter in signature.parameters.values()
        )
    )


class GeneratedOptions(Extension):
    """Give a class whose options are made from its model the imported docstring and signature."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if not isinstance(obj, Class) or not obj.path.startswith("rerankit."):
            return
        try:
            runtime = dynamic_import(obj.path)
        except ImportError:  # an optional dependency missing: the source's text stays
            return
        signature = _made_signature(runtime) if isinstance(runtime, type) else None
        if signature is None:
            return
        obj.docstring = Docstring(inspect.cleandoc(runtime.__doc__ or ""), parent=obj)
        init = obj.members.get("__init__")
        if not isinstance(init, Function):  # a provider's __init__ is made at import, not in the source
            init = Function("__init__", lineno=obj.lineno, endlineno=obj.lineno)
            obj.set_member("__init__", init)
        init.parameters = _parameters(signature)
        init.docstring = Docstring(inspect.cleandoc(runtime.__init__.__doc__ or ""), parent=init)
