"""Fixtures for the LlamaIndex adapter tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.callbacks import CallbackManager, LlamaDebugHandler
from llama_index.core.instrumentation import root_dispatcher

from rerankit import Reranker
from tests.llama_index.llama_index_support import EventLog


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    """An :class:`EventLog` on the root dispatcher for the duration of one test."""
    log = EventLog()
    root_dispatcher.add_event_handler(log)
    try:
        yield log
    finally:
        root_dispatcher.event_handlers = [h for h in root_dispatcher.event_handlers if h is not log]


@pytest.fixture
def debug_handler() -> LlamaDebugHandler:
    """LlamaIndex's own legacy callback handler, which records start/end event pairs."""
    return LlamaDebugHandler()


@pytest.fixture
def callback_manager(debug_handler: LlamaDebugHandler) -> CallbackManager:
    return CallbackManager([debug_handler])


@pytest.fixture(scope="session")
def local_spec(bert_model: Path) -> str:
    """The spec of the tiny offline BERT cross-encoder."""
    return f"local/{bert_model}"


@pytest.fixture(scope="session")
def local_reranker(local_spec: str) -> Reranker:
    """A Reranker on the tiny BERT model, to compute the expected scores directly."""
    return Reranker(local_spec, device="cpu")
