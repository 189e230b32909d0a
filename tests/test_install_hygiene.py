"""Install and CI hygiene: the accel venv inside a virtualenv, the extras that must not share one.

The venv tests really create virtualenvs (without pip, so no network and a few seconds each) and
run ``.ci/accel_venv.py`` from inside one, as ``bash .ci/run`` does from a developer's venv.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from rerankit import ConfigurationError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / ".ci" / "accel_venv.py"


def make_venv(path: Path, python: str = sys.executable, *, system_site_packages: bool = False) -> Path:
    command = [python, "-m", "venv", "--without-pip", str(path)]
    subprocess.run([*command, "--system-site-packages"] if system_site_packages else command, check=True)
    return path / "bin" / "python"


def purelib(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def run(python: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True)


@pytest.fixture(scope="module")
def outer_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv (no system site-packages) holding a package only it has, like a developer's venv."""
    python = make_venv(tmp_path_factory.mktemp("outer") / "venv")
    site = purelib(python)
    (site / "only_in_outer_venv").mkdir()
    (site / "only_in_outer_venv" / "__init__.py").write_text("WHERE = 'outer'\n")
    (site / "shadowed_module.py").write_text("WHERE = 'outer'\n")
    return python


def test_plain_system_site_packages_misses_the_active_venv(outer_venv: Path, tmp_path: Path):
    """The failure .ci/run had: a venv made from inside a venv inherits the base interpreter only."""
    accel = make_venv(tmp_path / "accel", str(outer_venv), system_site_packages=True)
    assert "No module named 'only_in_outer_venv'" in run(accel, "import only_in_outer_venv").stderr


def test_accel_venv_from_inside_a_venv_sees_it_after_its_own_packages(outer_venv: Path, tmp_path: Path):
    subprocess.run([str(outer_venv), str(SCRIPT), str(tmp_path / "accel"), "--without-pip"], check=True)
    accel = tmp_path / "accel" / "bin" / "python"
    (purelib(accel) / "shadowed_module.py").write_text("WHERE = 'accel'\n")  # e.g. its older transformers
    result = run(
        accel,
        "import only_in_outer_venv, shadowed_module, httpx; "
        "print(only_in_outer_venv.WHERE, shadowed_module.WHERE, httpx.__name__)",
    )
    assert result.returncode == 0, result.stderr
    # the active venv's packages are seen, the accel venv's own win, the base interpreter's are there
    assert result.stdout.split() == ["outer", "accel", "httpx"]


def test_accel_venv_from_the_system_interpreter(tmp_path: Path):
    if sys.prefix != sys.base_prefix:
        pytest.skip("this test run is itself inside a virtualenv; the venv case is tested above")
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "accel"), "--without-pip"], check=True)
    accel = tmp_path / "accel" / "bin" / "python"
    assert not (purelib(accel) / "_rerankit_active_env.pth").exists()
    result = run(accel, "import httpx, pydantic; print('ok')")
    assert result.stdout.strip() == "ok", result.stderr


def extra(name: str) -> list[Requirement]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["optional-dependencies"][name]]


def test_local_and_accel_cannot_resolve_together():
    """No transformers release satisfies both extras, so pip refuses [all,accel] instead of
    downgrading transformers to what optimum-onnx pins (docs/performance.md)."""
    local = next(r for r in extra("local") if r.name == "transformers")
    accel = next(r for r in extra("accel") if r.name == "transformers")
    releases = [Version(v) for v in ("4.41.0", "4.45.2", "4.57.6", "4.58.0", "4.60.0", "5.0.0", "5.24.0")]
    assert not any(v in local.specifier and v in accel.specifier for v in releases)
    assert Version("4.57.6") in accel.specifier  # what optimum-onnx 0.1.0 resolves to
    assert Version("5.24.0") in local.specifier
    assert {"local", "cache"} <= extra("all")[0].extras
    assert any(r.name == "redis" for r in extra("cache"))


def test_an_accelerated_runtime_without_its_package_is_a_clear_error(bert_model: Path, monkeypatch):
    import importlib.util

    from rerankit import Reranker

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name.startswith("optimum") else real_find_spec(name, *args),
    )
    for runtime, package in (("onnx", "optimum-onnx"), ("openvino", "optimum-intel")):
        with pytest.raises(ConfigurationError) as error:
            Reranker(f"local/{bert_model}", device="cpu", backend=runtime)
        message = str(error.value)
        assert package in message and "transformers<4.58" in message and "rerankit[accel]" in message
