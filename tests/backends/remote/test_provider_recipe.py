"""A rerank API is four pieces: its backend module (with its ``ProviderSpec``), its loopback format
module, its docs page and one registry line.

Every registered provider has all four (a test names what one lacks), and the made-up provider of
docs/architecture.md's recipe, built from the four blocks of that page alone, reranks over real
HTTP against the loopback server.
"""

from __future__ import annotations

import ast
import doctest
import re
import sys
import types
from pathlib import Path

import pytest

from rerankit import AuthenticationError, MalformedResponseError, Reranker
from rerankit.backends import RERANK_APIS
from rerankit.backends._registry import backend_class
from rerankit.testing.servers import FORMATS, PROVIDERS, RerankServer, expected_score
from rerankit.testing.servers._registry import loopback_format

ROOT = Path(__file__).resolve().parents[3]
RECIPE = ROOT / "docs" / "architecture.md"


def missing_pieces(name: str, root: Path = ROOT) -> list[str]:
    """What registered provider ``name`` lacks of its four pieces, each named (empty: nothing)."""
    cls = backend_class(name)
    spec = getattr(cls, "provider", None)
    if spec is None:
        return [f"{name}: {cls.__name__} declares no ProviderSpec (provider = PROVIDER in its module)"]
    problems = []
    if spec.name != name:
        problems.append(f"{name}: its spec is named {spec.name!r}, not its registry name")
    if not (root / spec.docs_page).is_file():
        problems.append(f"{name}: no docs page {spec.docs_page}")
    try:
        format_class = loopback_format(name)
    except (ImportError, LookupError) as exc:
        problems.append(f"{name}: no loopback format ({spec.loopback}: {exc})")
    else:
        if format_class.provider is not spec:
            problems.append(f"{name}: its loopback format {format_class.__name__} does not read its spec")
        try:
            format_class.documented_request("q", ["d"])
        except NotImplementedError:
            problems.append(
                f"{name}: its loopback format {format_class.__name__} shows no documented_request"
            )
    examples = [
        example
        for test in doctest.DocTestFinder(recurse=False).find(cls, cls.__name__)
        for example in test.examples
        if not example.options.get(doctest.SKIP)
    ]
    if not any(f'RerankServer("{name}"' in example.source for example in examples):
        problems.append(
            f"{name}: {cls.__name__}'s docstring has no example that runs against RerankServer({name!r})"
        )
    return problems


@pytest.mark.parametrize("name", list(RERANK_APIS))
def test_every_registered_provider_has_its_four_pieces(name: str) -> None:
    assert missing_pieces(name) == []
    assert name in FORMATS and name in PROVIDERS


# -- the made-up provider of the recipe ---------------------------------------------------------------


def recipe_blocks() -> dict[str, str]:
    """The recipe's blocks by the file each names in its first line (``# file: ...`` or ``<!-- file: ... -->``)."""
    text = RECIPE.read_text(encoding="utf-8")
    blocks: dict[str, str] = {}
    for fence, body in re.findall(r"^( *)`{3,}\w+\n(.*?)^\1`{3,}$", text, re.M | re.S):
        lines = [line.removeprefix(fence) for line in body.splitlines()]
        found = re.match(r"(?:# file: |<!-- file: )(\S+)", lines[0]) if lines else None
        if found:
            blocks[found.group(1)] = "\n".join(lines[1:]) + "\n"
    return blocks


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The recipe's four pieces, installed: the two modules (under the names the recipe gives them),
    the docs page (under ``tmp_path``) and the registry line. Returns the docs root."""
    blocks = recipe_blocks()
    assert set(blocks) == {
        "rerankit/backends/_acme.py",
        "rerankit/testing/servers/_acme.py",
        "docs/backends/acme.md",
        "rerankit/backends/_registry.py",
    }, "the recipe is four files"
    for path in ("rerankit/backends/_acme.py", "rerankit/testing/servers/_acme.py"):
        name = path.removesuffix(".py").replace("/", ".")
        module = types.ModuleType(name)
        module.__file__ = str(tmp_path / path)
        monkeypatch.setitem(sys.modules, name, module)
        exec(compile(blocks[path], module.__file__, "exec"), module.__dict__)
    page = tmp_path / "docs" / "backends" / "acme.md"
    page.parent.mkdir(parents=True)
    page.write_text(blocks["docs/backends/acme.md"], encoding="utf-8")
    entry = ast.literal_eval("{" + blocks["rerankit/backends/_registry.py"] + "}")
    for prefix, target in entry.items():
        monkeypatch.setitem(RERANK_APIS, prefix, target)
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    return tmp_path


def test_the_made_up_provider_is_four_pieces_and_reranks_over_http(acme: Path) -> None:
    assert missing_pieces("acme", acme) == []
    query, documents = "what is bm25", ["a banana is a fruit", "bm25 is a ranking function", "paris"]
    with (
        RerankServer("acme") as server,
        Reranker("acme/acme-rank-1", base_url=server.base_url, api_key="test-key") as reranker,
    ):
        response = reranker.rerank(query, documents)
        [request] = server.requests
    assert request.path == "/v2/score"
    assert request.headers["x-acme-key"] == "test-key" and "authorization" not in request.headers
    assert request.json == {"model": "acme-rank-1", "question": query, "passages": documents}
    # the request its format module writes down from Acme's reference: what the wire-format tests hold it to
    assert (request.path, request.json) == FORMATS["acme"].documented_request(query, documents)
    assert sorted(result.index for result in response.results) == [0, 1, 2]
    for result in response.results:
        assert result.relevance_score == expected_score(query, documents[result.index])
    assert response.results[0].document == "bm25 is a ranking function"
    assert response.usage.search_units == 1
    assert response.backend == "acme"


def test_the_made_up_provider_gets_the_shared_behaviour(acme: Path) -> None:
    """Its limit splits, its key is checked where its spec says, and its answer is read by its fields."""
    documents = [f"document {i} about bm25" for i in range(120)]
    with RerankServer("acme") as server:
        with Reranker("acme/acme-rank-1", base_url=server.base_url, api_key="test-key") as reranker:
            response = reranker.rerank("bm25", documents)
        assert len(response.results) == 120 and response.usage.requests == 3  # 50 a request
        with (
            Reranker(
                "acme/acme-rank-1", base_url=server.base_url, api_key="wrong", max_retries=0
            ) as reranker,
            pytest.raises(AuthenticationError),
        ):
            reranker.rerank("bm25", documents[:2])


def test_the_made_up_providers_docstring_example_runs(acme: Path) -> None:
    module = sys.modules["rerankit.backends._acme"]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    reports: list[str] = []
    for test in doctest.DocTestFinder().find(module, module.__name__, globs=dict(module.__dict__)):
        runner.run(test, out=reports.append)
    assert runner.tries > 0 and runner.failures == 0, "".join(reports)


def test_a_missing_piece_is_named(acme: Path) -> None:
    (acme / "docs" / "backends" / "acme.md").unlink()
    assert missing_pieces("acme", acme) == ["acme: no docs page docs/backends/acme.md"]
    format_module = sys.modules["rerankit.testing.servers._acme"]
    del format_module.AcmeFormat
    problems = missing_pieces("acme", acme)
    assert problems[1].startswith("acme: no loopback format (rerankit.testing.servers._acme:AcmeFormat")


def test_an_answer_missing_a_declared_field_names_it(acme: Path) -> None:
    """Acme's answer read by its own field names: a result without ``relevance`` is named as such."""
    from rerankit.backends._responses import ProviderReply

    backend = backend_class("acme")("acme-rank-1", base_url="http://127.0.0.1:9", api_key="k")
    reply = ProviderReply("acme", 200, {"ranking": [{"index": 0, "relevance_score": 0.5}]}, "req-1")
    with pytest.raises(MalformedResponseError, match="result 0 \\(index 0\\) has no 'relevance' field"):
        backend.read_scores(reply, ["a"])
    reply = ProviderReply("acme", 200, {"ranking": [{"relevance": 0.5}]}, "req-1")
    with pytest.raises(MalformedResponseError, match="result 0 has no 'index' field"):
        backend.read_scores(reply, ["a"])
    reply = ProviderReply("acme", 200, {"results": []}, "req-1")
    with pytest.raises(MalformedResponseError, match="no result list 'ranking'"):
        backend.read_scores(reply, ["a"])
