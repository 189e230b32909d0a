"""A loopback OpenAI-compatible chat-completions server whose "LLM" ranks passages, for tests and docs.

:class:`ChatCompletionsServer` runs starlette on uvicorn in a background thread on a free port of
127.0.0.1 and serves ``POST /v1/chat/completions``. It checks each request the way OpenAI's API
documents it (https://platform.openai.com/docs/api-reference/chat/create): a JSON object with a
non-empty ``model`` and ``messages`` of ``{"role", "content"}`` objects, known fields only,
``Authorization: Bearer <key>``; and answers a ``chat.completion`` object with ``choices`` and
``usage`` (``prompt_tokens``, ``completion_tokens``, ``total_tokens``), or OpenAI's error body
``{"error": {"message", "type", "param", "code"}}``.

Its "LLM" finds the passages of a listwise prompt (user messages ``[i] {text}``) and answers
their identifiers ordered by ``relevance(text)``, best first: ``[3] > [1] > [2]``. Tokens are
counted by ``count_tokens`` (whitespace words by default) over every message's content (prompt)
and over the answer (completion).

>>> from rerankit import Reranker
>>> with ChatCompletionsServer() as server:  # doctest: +SKIP
...     reranker = Reranker("listwise/test-llm", base_url=server.base_url, api_key="test-key")
...     reranker.rerank("q", ["passage 1", "passage 2"]).results[0].document

Answer faults (queue with :meth:`ChatCompletionsServer.fail_next`, one per request, first in first out):

=================== ================================================================================
``"prose"``         the ranking wrapped in sentences
``"duplicates"``    some identifiers repeated
``"missing"``       the last half of the identifiers left out
``"out-of-range"``  identifiers 0 and ``n + 1`` .. ``n + 3`` mixed in
``"no-ranking"``    a refusal, no identifier at all
``"think"``         a ``<think>`` block ranking the passages backwards, then the right ranking
``"bare-numbers"``  ``3 > 1 > 2`` without brackets
``"reversed"``      the ranking worst first (a wrong but well-formed answer)
``"null-content"``  ``message.content`` is ``null``
``"no-choices"``    ``choices`` is empty
``"NNN"``           that HTTP status with OpenAI's error body (``"429"``, ``"500"``, ``"503"``, ...)
=================== ================================================================================
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

#: The answer faults the server knows, besides HTTP status codes.
ANSWER_FAULTS = frozenset(
    {
        "prose",
        "duplicates",
        "missing",
        "out-of-range",
        "no-ranking",
        "think",
        "bare-numbers",
        "reversed",
        "null-content",
        "no-choices",
    }
)
_STATUS = re.compile(r"^[45]\d\d$")
_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.DOTALL)


def hashed_relevance(text: str) -> float:
    """The default relevance: a stable hash of the text, in [0, 1)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def word_count(text: str) -> int:
    """The default token count: whitespace words."""
    return len(text.split())


# OpenAI's chat completion request (the fields a listwise client may send; others are refused).
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _TextPart(_Strict):
    type: Literal["text"]
    text: str


class _Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[_TextPart]
    name: str | None = None


class _ChatRequest(_Strict):
    model: str = Field(min_length=1)
    messages: list[_Message] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: Literal[False] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = None


@dataclass(frozen=True)
class ChatRecord:
    """One request the server answered: its body, the fault applied, the answer and its token counts."""

    json: Any
    headers: dict[str, str]
    fault: str | None
    status: int
    passages: list[str]
    answer: str | None
    prompt_tokens: int
    completion_tokens: int


class ChatCompletionsServer:
    """A loopback ``/v1/chat/completions`` server whose LLM ranks passages by ``relevance``.

    Args:
        api_key: the key requests must carry as ``Authorization: Bearer <key>``; ``None`` accepts any.
            Defaults to "test-key".
        relevance: a passage's relevance (higher first); ties keep the window's order. Defaults to
            :func:`hashed_relevance`.
        count_tokens: tokens of a text, for ``usage``. Defaults to :func:`word_count`.
        latency: seconds each answer waits. Defaults to 0.
        max_window: the most passages one request may hold (a 400 above it). Defaults to 100.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        relevance: Callable[[str], float] = hashed_relevance,
        count_tokens: Callable[[str], int] = word_count,
        latency: float = 0.0,
        max_window: int = 100,
    ) -> None:
        self.api_key = api_key
        self.relevance = relevance
        self.count_tokens = count_tokens
        self.latency = latency
        self.max_window = max_window
        self._lock = threading.Lock()
        self._queued: deque[str] = deque()
        self._records: list[ChatRecord] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> ChatCompletionsServer:
        """Serve on a free port of 127.0.0.1; returns once connections are accepted."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/v1/chat/completions", self._handle, methods=["POST"])])
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="ChatCompletionsServer", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the chat-completions loopback server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> ChatCompletionsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the client appends ``/v1/chat/completions``)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._port}"

    # -- what it saw ----------------------------------------------------------------------------

    @property
    def records(self) -> list[ChatRecord]:
        """Every request answered so far, in arrival order."""
        with self._lock:
            return list(self._records)

    @property
    def max_in_flight(self) -> int:
        """The most requests it was answering at once."""
        return self._max_in_flight

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens of every successful answer."""
        return sum(record.prompt_tokens for record in self.records)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens of every successful answer."""
        return sum(record.completion_tokens for record in self.records)

    def fail_next(self, *faults: str) -> None:
        """Queue faults: the next requests get them, one each, in order."""
        for fault in faults:
            if fault not in ANSWER_FAULTS and not _STATUS.match(fault):
                raise ValueError(
                    f"unknown fault {fault!r}; valid: a 4xx/5xx status, {', '.join(sorted(ANSWER_FAULTS))}"
                )
        with self._lock:
            self._queued.extend(faults)

    def reset(self) -> None:
        """Forget the records, queued faults and the in-flight high-water mark."""
        with self._lock:
            self._records.clear()
            self._queued.clear()
            self._max_in_flight = self._in_flight

    # -- answering ------------------------------------------------------------------------------

    def ranking(self, passages: list[str]) -> list[int]:
        """The 1-based identifiers of ``passages``, most relevant first (what a perfect LLM answers)."""
        return sorted(range(1, len(passages) + 1), key=lambda i: (-self.relevance(passages[i - 1]), i))

    async def _handle(self, request: Request) -> JSONResponse:
        with self._lock:
            fault = self._queued.popleft() if self._queued else None
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return self._answer(request, await request.body(), fault)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, request: Request, raw: bytes, fault: str | None) -> JSONResponse:
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            self._check_auth(headers.get("authorization"))
            try:
                payload = json.loads(raw)
            except ValueError:
                raise _Rejected(400, "We could not parse the JSON body of your request.") from None
            parsed = self._parse(payload)
            passages = self._passages(parsed)
        except _Rejected as rejected:
            self._record(ChatRecord(None, headers, fault, rejected.status, [], None, 0, 0))
            return _error(rejected.status, rejected.message, rejected.param)
        if fault is not None and _STATUS.match(fault):
            self._record(ChatRecord(payload, headers, fault, int(fault), passages, None, 0, 0))
            return _error(int(fault), f"simulated HTTP {fault}")
        answer = self._ranked_answer(passages, fault)
        prompt_tokens = sum(self.count_tokens(_text(message.content)) for message in parsed.messages)
        completion_tokens = self.count_tokens(answer or "")
        self._record(
            ChatRecord(payload, headers, fault, 200, passages, answer, prompt_tokens, completion_tokens)
        )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if fault == "null-content" else answer,
        }
        body = {
            "id": f"chatcmpl-{len(self._records)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": parsed.model,
            "choices": []
            if fault == "no-choices"
            else [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return JSONResponse(body)

    def _record(self, record: ChatRecord) -> None:
        with self._lock:
            self._records.append(record)

    def _check_auth(self, header: str | None) -> None:
        if self.api_key is None:
            return
        if not header:
            raise _Rejected(401, "You didn't provide an API key.")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or token != self.api_key:
            raise _Rejected(401, "Incorrect API key provided.")

    def _parse(self, payload: Any) -> _ChatRequest:
        if not isinstance(payload, dict):
            raise _Rejected(400, "The request body must be a JSON object.")
        try:
            return _ChatRequest.model_validate(payload)
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            param = ".".join(str(part) for part in error["loc"])
            raise _Rejected(400, f"Invalid parameter {param}: {error['msg']}", param) from None

    def _passages(self, parsed: _ChatRequest) -> list[str]:
        passages: dict[int, str] = {}
        for message in parsed.messages:
            match = _PASSAGE.match(_text(message.content)) if message.role == "user" else None
            if match:
                passages[int(match.group(1))] = match.group(2)
        if sorted(passages) != list(range(1, len(passages) + 1)):
            raise _Rejected(400, f"passage identifiers must be 1..n, got {sorted(passages)}", "messages")
        if len(passages) > self.max_window:
            raise _Rejected(
                400, f"{len(passages)} passages exceed the context of {self.max_window}", "messages"
            )
        return [passages[i] for i in range(1, len(passages) + 1)]

    def _ranked_answer(self, passages: list[str], fault: str | None) -> str:
        ids = self.ranking(passages)
        n = len(passages)
        chain = " > ".join(f"[{i}]" for i in ids)
        if fault == "prose":
            return f"Sure! Based on relevance, here is the ranking:\n{chain}\nPassage [{ids[0]}] answers it best."
        if fault == "duplicates":
            return " > ".join(f"[{i}]" for i in [ids[0], *ids[:2], *ids[1:], ids[-1]])
        if fault == "missing":
            return " > ".join(f"[{i}]" for i in ids[: max(1, n // 2)])
        if fault == "out-of-range":
            return " > ".join(f"[{i}]" for i in [0, ids[0], n + 1, *ids[1:], n + 2, n + 3])
        if fault == "no-ranking":
            return "I'm sorry, but I cannot rank these passages."
        if fault == "think":
            backwards = " > ".join(f"[{i}]" for i in reversed(ids))
            return f"<think>First guess: {backwards}. Let me reconsider.</think>\n{chain}"
        if fault == "bare-numbers":
            return " > ".join(str(i) for i in ids)
        if fault == "reversed":
            return " > ".join(f"[{i}]" for i in reversed(ids))
        return chain


class _Rejected(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def _text(content: str | list[_TextPart]) -> str:
    return content if isinstance(content, str) else "".join(part.text for part in content)


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    """OpenAI's error body."""
    kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(
        status, "invalid_request_error" if status < 500 else "server_error"
    )
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status)


__all__ = ["ANSWER_FAULTS", "ChatCompletionsServer", "ChatRecord", "hashed_relevance", "word_count"]
