"""Reading an image given by URL: a ``data:`` URL decoded, an http(s) URL fetched only when allowed.

An http(s) URL is fetched only with ``Reranker(..., fetch_image_urls=True)`` and then within
``image_fetch_timeout`` seconds and ``max_image_bytes`` bytes (the download stops at the limit),
so a document cannot make the process fetch an address on its own.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

#: URL schemes an image may be fetched from (with ``fetch_image_urls=True``).
FETCHABLE_SCHEMES = ("http://", "https://")


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URL.

    Raises:
        ValueError: it is not a base64 data URL.

    >>> decode_data_url("data:image/png;base64,aGk=")
    b'hi'
    """
    header, comma, payload = url.partition(",")
    if not comma or not header.startswith("data:") or not header.endswith(";base64"):
        raise ValueError("a data URL must look like 'data:image/png;base64,<data>'")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the data URL's base64 payload is not valid base64") from None


def read_url(url: str, options: Any) -> bytes:
    """The bytes of the image at ``url`` (a data URL, or http(s) with ``options.fetch_image_urls``).

    Raises:
        ValueError: the URL is not allowed, the fetch fails, or breaks a limit.
    """
    if url.startswith("data:"):
        return decode_data_url(url)
    if not url.startswith(FETCHABLE_SCHEMES):
        raise ValueError(f"an image URL must be http(s):// or data:, got {url.split(':', 1)[0]!r}")
    if not options.fetch_image_urls:
        raise ValueError(
            f"it is an image URL ({url}); rerankit fetches image URLs only when allowed: "
            "Reranker(..., fetch_image_urls=True), or pass the bytes (Image.from_bytes)"
        )
    import httpx

    chunks, size = [], 0
    try:
        with (
            httpx.Client(
                timeout=options.image_fetch_timeout, follow_redirects=True, max_redirects=3
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"fetching the image URL {url} answered HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > options.max_image_bytes:
                    raise ValueError(
                        f"the image at {url} is over max_image_bytes={options.max_image_bytes:,} bytes"
                    )
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise ValueError(
            f"fetching the image URL {url} took over image_fetch_timeout={options.image_fetch_timeout:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise ValueError(f"fetching the image URL {url} failed ({type(exc).__name__}: {exc})") from None
    return b"".join(chunks)


__all__ = ["FETCHABLE_SCHEMES", "decode_data_url", "read_url"]
