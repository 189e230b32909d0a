"""A rerank provider's facts, declared once: :class:`ProviderSpec` (and its :class:`AnswerFields`).

Each provider module (``_cohere.py``, ``_voyage.py``, ...) holds one ``PROVIDER = ProviderSpec(...)``
with what the provider documents: its path, key variables, auth header and scheme, limits, the
answer's field names and where it reports billed units. The backend class reads it
(``provider = PROVIDER``; :class:`~rerankit.backends.RemoteBackend` copies the facts onto the
class), the loopback format of :mod:`rerankit.testing.servers` reads the same object, and the tests
enumerate the registry's specs instead of keeping lists of their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerFields:
    """Where a provider's successful answer puts each document's score.

    >>> AnswerFields(results="data", score="score").score
    'score'
    """

    #: The key of the result list; ``None``: the body is the list itself (TEI).
    results: str | None = "results"
    #: A result's key for the index of the document it scores.
    index: str = "index"
    #: A result's key for the score.
    score: str = "relevance_score"
    #: A result's key for an echoed document (checked against the one sent); ``None``: never echoed.
    document: str | None = "document"
    #: The key of a bare list of scores in input order instead of results (DeepInfra's ``scores``).
    scores: str | None = None


#: A path into a JSON answer (``("meta", "billed_units", "search_units")``).
Path = tuple[str, ...]


@dataclass(frozen=True)
class ProviderSpec:
    """One provider's documented facts, the single place they are written.

    >>> spec = ProviderSpec(name="demo", path="/v1/rerank", api_key_env=("DEMO_API_KEY",), max_documents=100,
    ...                     loopback="demo_format:DemoFormat", example_model="demo-rerank-1")
    >>> spec.auth_header, spec.auth_scheme, spec.docs_page
    ('authorization', 'Bearer', 'docs/backends/demo.md')
    """

    #: The spec prefix, also ``provider`` on errors and the loopback server's name.
    name: str
    #: The request path appended to ``base_url``.
    path: str
    #: The documented most documents per request (``None``: no count limit).
    max_documents: int | None
    #: ``"module:Class"`` of the :class:`~rerankit.testing.servers.ProviderFormat` that speaks it.
    loopback: str
    #: A model id the tests and examples use (``"rerank-v3.5"``).
    example_model: str
    #: Environment variables holding the key, first set wins.
    api_key_env: tuple[str, ...] = ()
    #: Whether calls without a key are refused before any request.
    api_key_required: bool = True
    #: The header the key travels in, and its scheme (``""``: the bare key).
    auth_header: str = "authorization"
    auth_scheme: str = "Bearer"
    #: The address used when neither ``base_url`` nor a ``base_url_env`` variable is set (``None``: required).
    default_base_url: str | None = None
    #: Environment variables holding the address, first set wins.
    base_url_env: tuple[str, ...] = ()
    #: The documented per-document token limit (``None``: none documented).
    document_token_limit: int | None = None
    #: Whether that limit is a context the query shares (else it counts the document alone).
    limit_counts_query: bool = True
    #: Whether the provider truncates a longer document itself (documented) instead of rejecting it.
    truncates_server_side: bool = False
    #: The documented most bytes per request (``None``: none documented).
    max_request_bytes: int | None = None
    #: The answer's field names; ``None``: any known shape is read (a gateway in front of others).
    answer: AnswerFields | None = AnswerFields()
    #: Where the answer reports tokens and search units: alternative paths, the first present wins.
    tokens_at: tuple[Path, ...] = ()
    search_units_at: tuple[Path, ...] = ()
    #: The provider's page in the documentation, from the repository root.
    docs: str | None = None
    #: The request body's fields that carry the query and the documents; every other field is a
    #: setting that changes the scores, and the score cache keys on it.
    content_fields: tuple[str, ...] = ("query", "documents")

    @property
    def docs_page(self) -> str:
        """The docs page: :attr:`docs`, or ``docs/backends/<name>.md``."""
        return self.docs or f"docs/backends/{self.name}.md"

    def auth_headers(self, key: str) -> dict[str, str]:
        """The header that carries ``key`` (lower-case name, as a server sees it)."""
        value = f"{self.auth_scheme} {key}" if self.auth_scheme else key
        return {self.auth_header.lower(): value}

    def sent_key(self, headers: dict[str, str]) -> str:
        """The key a request's (lower-case) headers carried."""
        value = headers[self.auth_header.lower()]
        return value.removeprefix(f"{self.auth_scheme} ") if self.auth_scheme else value


__all__ = ["AnswerFields", "ProviderSpec"]
