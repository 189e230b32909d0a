"""Names a package exports but imports on first use (PEP 562), so importing the package stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], exports: Mapping[str, str], *, missing: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose ``exports`` are imported on
    first use: ``__getattr__, __dir__ = lazy_exports(globals(), {"Name": "package._module:Name"})``.

    Args:
        namespace: The package's ``globals()``; a name, once imported, is kept there, so later
            lookups skip the hook.
        exports: Name -> ``"module:attribute"``.
        missing: The ``ImportError`` message when a name's module cannot be imported (its
            ``{name}`` and the ``{missing}`` package filled in); the cause stays chained. Defaults
            to None: the ImportError as it is.
    """

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if missing is None:
                raise
            raise ImportError(missing.format(name=name, missing=exc.name)) from exc
        value = namespace[name] = getattr(module, attribute)
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
