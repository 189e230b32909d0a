"""A griffe extension for the API reference: render rerankit's docstrings as Markdown.

rerankit's docstrings carry runnable ``>>>`` examples in their prose and Sphinx-style roles
(``:class:`~rerankit.Reranker```). Griffe's Google parser turns ``>>>`` into code only inside an
``Examples:`` section; elsewhere Markdown would read ``>>>`` as a triple block quote, and it leaves
roles as literal text. This wraps each bare doctest block (its ``>>>``/``...`` lines and the output
up to the next blank line) in a ``pycon`` fence, drops ``# doctest:`` flags, and turns a role into
inline code (``~`` keeps the last dotted part, as Sphinx does). Loaded by mkdocstrings through
``extensions:`` in mkdocs.yml; it only changes how the site renders.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_DOCTEST_FLAGS = re.compile(r"\s*#\s*doctest:.*$")
_SECTION_HEADER = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_EXAMPLES_HEADER = re.compile(r"^\s*Examples?:\s*$")
_ROLE = re.compile(r":(?:class|meth|func|attr|mod|exc|data|obj|const):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """Replace Sphinx roles with inline code.

    >>> plain_roles("a :class:`~rerankit.backends._base.Backend` or :meth:`rerank`")
    'a `Backend` or `rerank`'
    """
    return _ROLE.sub(lambda match: f"`{match[2].rsplit('.', 1)[-1] if match[1] else match[2]}`", text)


def fence_doctests(text: str) -> str:
    """Wrap bare ``>>>`` blocks of a docstring in ``pycon`` fences, leaving fenced code alone.

    >>> fence_doctests("Text.\\n\\n>>> 1 + 1\\n2\\n\\nMore text.").splitlines()
    ['Text.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More text.']
    """
    out: list[str] = []
    in_fence = in_examples = in_doctest = False
    indent = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if in_doctest and not stripped:
            out.append(f"{indent}```")
            in_doctest = False
        if in_doctest:
            out.append(_DOCTEST_FLAGS.sub("", line))
            continue
        if stripped.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and _SECTION_HEADER.match(line):
            in_examples = bool(_EXAMPLES_HEADER.match(line))
        elif not in_fence and not in_examples and stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            out.append(_DOCTEST_FLAGS.sub("", line))
            in_doctest = True
            continue
        out.append(line)
    if in_doctest:
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(Extension):
    """Rewrite each docstring with :func:`fence_doctests` and :func:`plain_roles` once the tree is built."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(fence_doctests(obj.docstring.value))
