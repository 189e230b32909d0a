"""Install hygiene: the torch-free extras stay torch-free, and every extra installs beside ``[local]``
(no extra pins transformers below what ``[local]`` needs, as optimum-onnx's ``[accel]`` once did)."""

from __future__ import annotations

from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
#: What the torch-free runtimes may bring: their runtime, the tokenizer, the hub client, numpy.
TORCH_FREE = {
    "onnx": {"onnxruntime", "tokenizers", "huggingface-hub", "numpy"},
    "openvino": {"openvino", "tokenizers", "huggingface-hub", "numpy"},
}


def extra(name: str) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["optional-dependencies"][name]]


def _name(requirement: Requirement) -> str:
    return requirement.name.lower().replace("_", "-")


def test_the_torch_free_extras_bring_only_their_runtime_tokenizers_hub_and_numpy() -> None:
    for name, allowed in TORCH_FREE.items():
        assert {_name(r) for r in extra(name)} == allowed, name


def test_no_extra_caps_transformers_below_what_local_needs() -> None:
    """[all] holds every runtime now: nothing may pin transformers (or sentence-transformers) older."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    current = {"transformers": Version("5.24.0"), "sentence-transformers": Version("6.3.0")}
    for name in project["optional-dependencies"]:
        for requirement in extra(name):
            if _name(requirement) in current:
                assert current[_name(requirement)] in requirement.specifier, (name, str(requirement))
            assert not _name(requirement).startswith("optimum"), (name, str(requirement))
    assert {"onnx", "openvino", "export", "local"} <= extra("all")[0].extras
