"""Reading a request body as JSON without unbounded recursion.

The standard library's parser recurses once per nesting level, so a body of 50,000 ``[`` ends in
``RecursionError`` (a 500) after a deep descent. :func:`parse_json_body` first measures the
nesting, in linear time and without recursion, and refuses anything deeper than
:data:`MAX_JSON_DEPTH` before parsing (the parser never goes deeper than the deepest prefix) (a rerank request needs 3 levels: the object, the documents
list, a ``{"text"}`` document).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

#: Deepest nesting accepted: far more than any rerank request needs, far less than the
#: interpreter's recursion limit.
MAX_JSON_DEPTH = 32

#: A JSON string (its brackets are text, not nesting).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
#: Every byte but the four brackets, deleted by ``bytes.translate``.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
#: What each bracket does to the depth.
_DEPTH_CHANGE = [0] * 256
_DEPTH_CHANGE[ord("[")] = _DEPTH_CHANGE[ord("{")] = 1
_DEPTH_CHANGE[ord("]")] = _DEPTH_CHANGE[ord("}")] = -1


class JSONBodyError(ValueError):
    """The body is not JSON this server reads; the message says why."""


def nesting_depth(body: bytes) -> int:
    """How deep ``body`` nests arrays and objects at its deepest (brackets inside strings are text).

    Linear and without recursion: the strings are cut out, the brackets kept, and the running
    depth summed in C (``itertools.accumulate``).

    >>> nesting_depth(b'{"documents": [{"text": "[[[["}]}'), nesting_depth(b"[" * 50_000)
    (3, 50000)
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(map(_DEPTH_CHANGE.__getitem__, brackets)))


def parse_json_body(body: bytes) -> Any:
    """The JSON value of ``body``, or :class:`JSONBodyError` naming the problem."""
    if nesting_depth(body) > MAX_JSON_DEPTH:  # the parser recurses at most this deep below it
        raise JSONBodyError(f"request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(body)
    except ValueError:
        raise JSONBodyError("request body is not valid JSON") from None


__all__ = ["MAX_JSON_DEPTH", "JSONBodyError", "nesting_depth", "parse_json_body"]
