"""What the remote backends share: key and address lookup, the transport, the Backend methods.

A provider module declares its facts once, as a :class:`~rerankit.backends.ProviderSpec` (name,
path, address, key variables, auth, limits, the answer's fields and billed units), subclasses
:class:`RemoteBackend` with ``provider = PROVIDER`` and supplies only its request body. Scoring, retries, errors and secrets are handled here and in
:mod:`rerankit.backends._http` once for all of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import SecretStr

from rerankit._chunking import estimate_tokens, estimated_token_offsets
from rerankit._errors import ConfigurationError
from rerankit._options_base import (
    Options,
    args_entries,
    keyword_signature,
    unknown_options_error,
    with_args_entries,
)
from rerankit._types import Scores, Usage
from rerankit.backends._endpoints import BackendHealth
from rerankit.backends._http import HTTPTransport
from rerankit.backends._provider import ProviderSpec
from rerankit.backends._responses import ProviderReply, number_at, scores_in_input_order, whole_number_at
from rerankit.backends._settings import SHARED_OPTIONS, RemoteOptions, TransportSettings

#: Tokens kept free beside the query for a provider's special and prompt tokens, when its
#: per-document limit is a context shared with the query.
RESERVED_PAIR_TOKENS = 16


class RemoteBackend:
    """Base of the HTTP backends; see :class:`~rerankit.backends._cohere.CohereBackend` for an example.

    Subclasses set ``provider`` (a :class:`~rerankit.backends.ProviderSpec`, whose facts become
    the class attributes below) and implement :meth:`request_body`; :meth:`request_path`,
    :meth:`read_usage` and :meth:`read_scores` read the spec unless overridden. Setting the class
    attributes by hand works too. A whole backend, here for Jina's wire format against the
    loopback server that speaks it:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> class MyJina(RemoteBackend):
    ...     name = "my-jina"
    ...     default_base_url = "https://api.jina.ai"
    ...     api_key_env = ("JINA_API_KEY",)
    ...     max_documents_per_request = 1000
    ...     def request_path(self):
    ...         return "/v1/rerank"
    ...     def request_body(self, query, texts):
    ...         return {"model": self.model, "query": query, "documents": texts}
    >>> with RerankServer("jina") as server:
    ...     backend = MyJina("jina-reranker-v2-base-multilingual", base_url=server.base_url, api_key="test-key")
    ...     with Reranker(backend) as reranker:
    ...         response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    >>> response.backend, response.results[0].index
    ('my-jina', 1)
    """

    #: The provider's declared facts (``None``: the class attributes are set by hand).
    provider: ClassVar[ProviderSpec | None] = None
    #: The provider's own options model, beside the shared ones (``None``: none). Its fields are
    #: the class's keyword options (a signature and ``Args:`` entries are made from them) and
    #: become attributes of the instance.
    options_model: ClassVar[type[Options] | None] = None
    #: Spec prefix, also the ``provider`` on errors.
    name: ClassVar[str]
    #: Address used when neither ``base_url`` nor a ``base_url_env`` variable is set (``None``: required).
    default_base_url: ClassVar[str | None] = None
    #: Environment variables holding the address, first set wins.
    base_url_env: ClassVar[tuple[str, ...]] = ()
    #: Environment variables holding the key, first set wins.
    api_key_env: ClassVar[tuple[str, ...]] = ()
    #: Whether calls without a key are refused before any request.
    api_key_required: ClassVar[bool] = True
    #: Most documents per request: on the class the provider's documented limit (``None``: no
    #: count limit), on an instance the one in effect (an option, or what the server reported).
    max_documents_per_request: int | None
    #: The header the key travels in, and its scheme (``""``: the bare key).
    auth_header: ClassVar[str] = "authorization"
    auth_scheme: ClassVar[str] = "Bearer"
    #: The provider's documented per-document token limit (``None``: none documented).
    document_token_limit: ClassVar[int | None] = None
    #: Whether that limit is a context the query shares (else it counts the document alone).
    limit_counts_query: ClassVar[bool] = True
    #: Whether the provider truncates a longer document itself (documented) instead of rejecting it.
    truncates_server_side: ClassVar[bool] = False
    #: The request body's fields that carry the query and the documents (see :meth:`cache_key`).
    content_fields: ClassVar[tuple[str, ...]] = ("query", "documents")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._declare_options()
        spec = cls.__dict__.get("provider")
        if spec is None:
            return
        cls.name = spec.name
        for attribute in (
            "default_base_url",
            "base_url_env",
            "api_key_env",
            "api_key_required",
            "auth_header",
            "auth_scheme",
            "document_token_limit",
            "limit_counts_query",
            "truncates_server_side",
            "content_fields",
        ):
            setattr(cls, attribute, getattr(spec, attribute))
        cls.max_documents_per_request = spec.max_documents

    @classmethod
    def _declare_options(cls) -> None:
        """Make a provider's signature and ``Args:`` entries from its ``options_model``."""
        own_model = cls.__dict__.get("options_model")
        if own_model is None or "__init__" in cls.__dict__:
            return

        def __init__(self: RemoteBackend, model: str, **options: Any) -> None:
            RemoteBackend.__init__(self, model, **options)

        __init__.__signature__ = keyword_signature(own_model.model_fields, var_keyword="options")  # type: ignore[attr-defined]
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        __init__._made_from_options = True  # type: ignore[attr-defined]  # (else its own __init__ sets them)
        __init__.__doc__ = f"Build a {cls.__name__}; its options are documented on the class."
        cls.__init__ = __init__  # type: ignore[method-assign]
        cls.__doc__ = with_args_entries(cls.__doc__ or "", args_entries(own_model.model_fields))

    def __init__(self, model: str, **options: Any) -> None:
        """The options every remote backend takes; a provider adds its own (its ``options_model``).

        Each option is declared once, as a field of
        :class:`~rerankit.backends._settings.RemoteOptions` or
        :class:`~rerankit.backends._settings.TransportSettings` (type, bounds, default,
        description): this signature and the entries below are made from them. See the options
        table of docs/errors.md and, for breakers and retry budgets, docs/reliability.md.

        Args:
            model: The provider's model id (the part of the spec after ``<backend>/``).
            **options: The options of every remote backend, each a field of ``RemoteOptions`` or
                ``TransportSettings``, and the provider's own (its ``options_model``).

        Raises:
            ConfigurationError: ``model`` is blank, an option is unknown or breaks its rule (the
                message names each bad one), or the address or a required key is missing.
        """
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(
                f"{self.name} needs a model id, like '{self.name}/<model>'", provider=self.name
            )
        if not hasattr(self, "max_documents_per_request"):
            raise TypeError(
                f"{type(self).__name__} must set the class attribute max_documents_per_request "
                "(the provider's documented most documents per request; None: no count limit)"
            )
        self.model = model
        own_model = type(self).options_model
        own_fields = own_model.model_fields if own_model is not None else {}
        unknown = set(options) - set(SHARED_OPTIONS) - set(own_fields)
        if unknown:
            from rerankit.backends._registry import option_names  # the registry imports the backends

            raise unknown_options_error(self.name, unknown, option_names(type(self)))
        own_options = None
        if own_model is not None and getattr(type(self).__init__, "_made_from_options", False):
            own_options = own_model.validated(
                {n: options.pop(n) for n in own_fields if n in options}, provider=self.name
            )
            for name in own_fields:  # before the transport: request_headers() may read them
                setattr(self, name, getattr(own_options, name))
        kept = RemoteOptions.validated(
            {name: options.pop(name) for name in RemoteOptions.model_fields if name in options},
            provider=self.name,
        )
        self.max_concurrency = kept.max_concurrency
        self.max_document_tokens = kept.max_document_tokens
        self.transport = HTTPTransport(
            TransportSettings(
                provider=self.name,
                base_url=self._resolve_base_url(kept.base_url),
                api_key=self._resolve_api_key(kept.api_key),
                auth_header=self.auth_header,
                auth_scheme=self.auth_scheme,
                headers=self.request_headers(),
                **options,
            )
        )
        if own_options is not None:
            self.configure(own_options)

    def configure(self, options: Any) -> None:
        """What a provider derives from its own options once they are checked and set as
        attributes, after the transport is built (a limit that depends on the model, say)."""

    # -- what a provider supplies --------------------------------------------------------------

    def request_path(self) -> str:
        """The path appended to ``base_url`` (the spec's ``path``)."""
        if self.provider is None:
            raise NotImplementedError
        return self.provider.path

    def request_headers(self) -> dict[str, str]:
        """Headers every request carries besides the key (none by default; set before ``__init__``)."""
        return {}

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        """The JSON body scoring ``texts`` against ``query``."""
        raise NotImplementedError

    def read_usage(self, payload: Any) -> Usage:
        """The tokens or search units the answer reports: at the spec's ``tokens_at`` and
        ``search_units_at`` paths, the first present of each (none without a spec)."""
        if self.provider is None:
            return Usage()
        tokens = (whole_number_at(payload, *path) for path in self.provider.tokens_at)
        units = (number_at(payload, *path) for path in self.provider.search_units_at)
        return Usage(
            tokens=next((value for value in tokens if value is not None), None),
            search_units=next((value for value in units if value is not None), None),
        )

    def read_scores(self, reply: ProviderReply, texts: list[str]) -> Scores:
        """One score per text in input order, plus usage, from a successful answer (read by the
        spec's answer fields)."""
        fields = self.provider.answer if self.provider is not None else None
        return Scores(
            values=scores_in_input_order(reply, texts, fields), usage=self.read_usage(reply.payload)
        )

    # -- long documents and the score cache ------------------------------------------------------

    def document_token_budget(self, query: str) -> int | None:
        """Estimated document tokens one text sent with ``query`` may have; ``None``: no known limit.

        ``max_document_tokens`` is a pair limit (the query counts); a ``max_tokens_per_doc``
        option counts the document alone (Cohere's meaning); the provider's documented limit
        counts the query when ``limit_counts_query``.
        """
        pair = estimate_tokens(query) + RESERVED_PAIR_TOKENS
        if self.max_document_tokens is not None:
            return self.max_document_tokens - pair
        per_document = getattr(self, "max_tokens_per_doc", None)
        if per_document is not None:
            return per_document
        if self.document_token_limit is None:
            return None
        return self.document_token_limit - (pair if self.limit_counts_query else 0)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Pseudo-token spans of the conservative estimate (the real tokenizer runs on the server)."""
        return estimated_token_offsets(text)

    def client_truncation_budget(self, query: str) -> int | None:
        """With ``long_documents="truncate"``: the budget to cut documents to before sending, so a
        request is never rejected for length; ``None`` where the provider truncates them itself."""
        if self.max_document_tokens is None and (
            self.truncates_server_side or getattr(self, "max_tokens_per_doc", None) is not None
        ):
            return None  # the provider cuts documents to its own limit, counting real tokens
        return self.document_token_budget(query)

    def cache_key(self) -> dict[str, Any]:
        """What changes this backend's scores: provider, address and the request body's settings
        (model, ``max_tokens_per_doc``, ``instruction``, ...): the body built for no query and no
        documents, less its :attr:`content_fields` (the backend's own list of the fields that carry
        them; a test checks each backend's against its bodies)."""
        settings = {
            field: value
            for field, value in self.request_body("", []).items()
            if field not in self.content_fields
        }
        return {
            "backend": self.name,
            "base_url": self.transport.settings.base_url,
            "settings": settings,
            "max_document_tokens": self.max_document_tokens,
        }

    # -- the Backend protocol ------------------------------------------------------------------

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Score every text against ``query`` in one request; one float per text, in input order."""
        texts = list(texts)
        return self.read_scores(self.post(self.request_body(query, texts)), texts)

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """Async :meth:`score`, on the pooled ``httpx.AsyncClient``."""
        texts = list(texts)
        return self.read_scores(await self.apost(self.request_body(query, texts)), texts)

    def post(self, body: dict[str, Any]) -> ProviderReply:
        """Send one request body through the transport."""
        return self.transport.post(self.request_path(), body)

    async def apost(self, body: dict[str, Any]) -> ProviderReply:
        """Async :meth:`post`."""
        return await self.transport.apost(self.request_path(), body)

    def health(self) -> BackendHealth:
        """Each endpoint's circuit-breaker state, requests, failures and in-flight count."""
        return self.transport.health(self.model)

    def close(self) -> None:
        """Close the pooled sync connections (they reopen on the next call)."""
        self.transport.close()

    async def aclose(self) -> None:
        """Close the sync and async connection pools."""
        await self.transport.aclose()

    def __enter__(self) -> RemoteBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> RemoteBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        key = "SecretStr('**********')" if self.transport.settings.api_key is not None else "None"
        return (
            f"{type(self).__name__}(model={self.model!r}, base_url={self.transport.base_url!r}, "
            f"api_key={key})"
        )

    # -- configuration ------------------------------------------------------------------------

    def _resolve_base_url(self, base_url: str | Sequence[str] | None) -> str | list[str]:
        if base_url is not None:
            return base_url if isinstance(base_url, str) else list(base_url)
        for variable in self.base_url_env:
            if os.environ.get(variable, "").strip():
                return os.environ[variable].strip()
        if self.default_base_url is None:
            variables = " or ".join(self.base_url_env)
            raise ConfigurationError(
                f"{self.name} needs an address: pass base_url='https://host[/prefix]'"
                + (f" or set {variables}" if variables else ""),
                provider=self.name,
            )
        return self.default_base_url

    def _resolve_api_key(
        self, api_key: str | SecretStr | Sequence[str | SecretStr] | None
    ) -> SecretStr | tuple[SecretStr, ...] | None:
        if isinstance(api_key, (list, tuple)):
            if not api_key:
                raise ConfigurationError("api_key is an empty list", provider=self.name)
            return tuple(self._resolve_api_key(key) for key in api_key)
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        if api_key is not None and not isinstance(api_key, str):
            raise ConfigurationError(
                f"api_key must be a string or SecretStr, got {type(api_key).__name__}", provider=self.name
            )
        if api_key is not None and not api_key.strip():
            raise ConfigurationError("api_key is empty", provider=self.name)
        if api_key is None:
            api_key = next((os.environ[v] for v in self.api_key_env if os.environ.get(v, "").strip()), None)
        if api_key is None and self.api_key_required:
            raise ConfigurationError(
                f"{self.name} needs an API key: pass api_key=... or set {' or '.join(self.api_key_env)}",
                provider=self.name,
            )
        return SecretStr(api_key.strip()) if api_key is not None else None


RemoteBackend.__init__.__signature__ = keyword_signature(  # type: ignore[attr-defined]
    SHARED_OPTIONS, defaults={"base_url": None, "api_key": None}
)
RemoteBackend.__init__.__doc__ = (RemoteBackend.__init__.__doc__ or "").replace(
    "            **options: The options of every remote backend, each a field of ``RemoteOptions`` or\n"
    "                ``TransportSettings``, and the provider's own (its ``options_model``).\n",
    args_entries(
        SHARED_OPTIONS,
        indent=12,
        defaults={
            "base_url": "Defaults to the provider's address (or its ``base_url_env`` variable; some "
            "providers need one).",
            "api_key": "Defaults to the provider's ``api_key_env`` variable.",
        },
    )
    + "\n",
)

__all__ = ["RESERVED_PAIR_TOKENS", "RemoteBackend"]
