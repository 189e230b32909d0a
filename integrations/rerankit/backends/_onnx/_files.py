"""Where a checkpoint's files are: a local directory or a hub repository, read as the hub ships them.

The layouts found on the hub, all read the same way (the configuration and tokenizer files at the
top, the network in one ONNX file):

- sentence-transformers' (``cross-encoder/ms-marco-MiniLM-L6-v2``): ``onnx/model.onnx`` and the
  quantized ``onnx/model_qint8_avx512_vnni.onnx``, ``onnx/model_quint8_avx2.onnx``, ..., and the
  OpenVINO IR ``openvino/openvino_model.xml`` (+ ``.bin``);
- transformers.js' (``Alibaba-NLP/gte-reranker-modernbert-base``): ``onnx/model.onnx``,
  ``onnx/model_quantized.onnx``, ``onnx/model_int8.onnx``, ...;
- Optimum's ``optimum-cli export onnx`` (and many community repos): ``model.onnx`` at the top;
- a model over 2 GB (``BAAI/bge-reranker-v2-m3`` in fp32): the weights beside the graph in
  ``<file>_data`` or ``<file>.data`` (ONNX external data), fetched with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rerankit._errors import ConfigurationError

#: The file loaded when ``model_file`` is not given, first found wins: sentence-transformers' and
#: transformers.js' layout, then Optimum's.
DEFAULT_MODEL_FILES = ("onnx/model.onnx", "model.onnx")
#: Files every checkpoint must have: the model's configuration and its fast tokenizer.
REQUIRED_FILES = ("config.json", "tokenizer.json")
#: Files read when they are there (special tokens, lengths, sentence-transformers' own settings).
OPTIONAL_FILES = (
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
)
#: What an exported network's weights may sit beside it in (ONNX external data; OpenVINO's .bin).
SIDECAR_SUFFIXES = ("_data", ".data")


@dataclass(frozen=True)
class CheckpointFiles:
    """The files of one checkpoint on this machine.

    Attributes:
        directory: Where the configuration and tokenizer files are (a local directory or the hub
            cache's snapshot of the repository).
        model_file: The network's file, relative to ``directory`` (``"onnx/model.onnx"``).
    """

    directory: Path
    model_file: str

    @property
    def model_path(self) -> Path:
        """The network's file on disk."""
        return self.directory / self.model_file

    def optional(self, name: str) -> Path | None:
        """``name`` in the checkpoint's directory, or ``None`` when the checkpoint has none."""
        path = self.directory / name
        return path if path.is_file() else None


def exported_files(directory: Path) -> list[str]:
    """The networks a local checkpoint directory holds (``.onnx`` files and OpenVINO ``.xml`` IRs)."""
    found = [*directory.rglob("*.onnx"), *directory.rglob("openvino*.xml")]
    return sorted(str(path.relative_to(directory)) for path in found)


def locate(model: str, *, model_file: str | None, revision: str | None) -> CheckpointFiles:
    """The files of ``model``, a local directory or a hub id (downloaded, or from the hub cache when
    offline), with the network ``model_file`` (default: the first of :data:`DEFAULT_MODEL_FILES`).

    Raises:
        ConfigurationError: A required file is missing; ``model_file`` is not in the checkpoint (the
            message lists the networks a local directory has); the hub cannot be reached and the
            files are not cached.
    """
    directory = Path(model).expanduser()
    if directory.is_dir():
        return _local(model, directory, model_file)
    return _from_hub(model, model_file, revision)


def _local(model: str, directory: Path, model_file: str | None) -> CheckpointFiles:
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"onnx model {model!r} lacks {', '.join(missing)}: an ONNX checkpoint needs its config.json "
            "and a fast tokenizer's tokenizer.json beside the network (rerankit export-onnx writes both)"
        )
    candidates = (model_file,) if model_file is not None else DEFAULT_MODEL_FILES
    for candidate in candidates:
        if (directory / candidate).is_file():
            return CheckpointFiles(directory, candidate)
    found = ", ".join(exported_files(directory)) or "none (export one with: rerankit export-onnx MODEL DIR)"
    asked = f"model_file {model_file!r} is not" if model_file is not None else "no network file is"
    raise ConfigurationError(
        f"{asked} in {model!r} (looked for {', '.join(candidates)}); networks there: {found}"
    )


def _from_hub(model: str, model_file: str | None, revision: str | None) -> CheckpointFiles:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    def fetch(name: str) -> Path:
        return Path(hf_hub_download(model, name, revision=revision))

    def fetch_if_there(name: str) -> bool:
        """Fetch ``name``; ``False`` when the repository has no such file (or, offline, the cache)."""
        try:
            fetch(name)
        except (EntryNotFoundError, LocalEntryNotFoundError):
            return False
        return True

    candidates = (model_file,) if model_file is not None else DEFAULT_MODEL_FILES
    try:
        directory = fetch(REQUIRED_FILES[0]).parent
        for name in REQUIRED_FILES[1:]:
            fetch(name)
        for name in OPTIONAL_FILES:
            fetch_if_there(name)  # absent: the defaults apply
        chosen = next((candidate for candidate in candidates if fetch_if_there(candidate)), None)
        if chosen is not None:
            for sidecar in _sidecars(chosen):
                fetch_if_there(sidecar)  # most networks hold their weights inside the file
    except (OSError, ValueError, HfHubHTTPError) as exc:  # unknown repo, offline and not cached, ...
        raise ConfigurationError(f"could not load onnx model {model!r} (hub id or directory): {exc}") from exc
    if chosen is None:
        asked = f"model_file {model_file!r} is not" if model_file is not None else "no network file is"
        raise ConfigurationError(
            f"{asked} in hub repository {model!r} (looked for {', '.join(candidates)}); pick one with "
            "model_file= or export one with: rerankit export-onnx MODEL DIR"
        )
    return CheckpointFiles(directory, chosen)


def _sidecars(model_file: str) -> list[str]:
    """The files a network's weights may be kept in beside it."""
    if model_file.endswith(".xml"):
        return [model_file[: -len(".xml")] + ".bin"]
    return [model_file + suffix for suffix in SIDECAR_SUFFIXES]


__all__ = ["DEFAULT_MODEL_FILES", "CheckpointFiles", "exported_files", "locate"]
