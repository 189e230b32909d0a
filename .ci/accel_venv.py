"""Make the environment the accelerated-runtime tests run in, on top of the active one.

``python .ci/accel_venv.py DIR [--without-pip]``

optimum-onnx pins transformers<4.58, so the ONNX Runtime / OpenVINO tests run in a second venv that
sees the active environment's packages (torch, the shipped MiniLM weights, ...) and installs its
own older transformers over them. ``python -m venv --system-site-packages`` alone is not enough
when the active interpreter is itself a virtualenv: the new venv inherits the *base* interpreter's
site-packages (``sys.base_prefix``), not the active venv's (``sys.prefix``), so everything
installed in the active venv would be missing. Here the active venv's site directories are added
to the new venv with a ``.pth`` file, after the new venv's own site-packages (its packages win) and
before the base interpreter's.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "_rerankit_active_env.pth"


def active_site_dirs() -> list[str]:
    """The active venv's site-packages directories; none on a system interpreter."""
    if sys.prefix == sys.base_prefix:
        return []  # --system-site-packages already sees everything of this interpreter
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def main(argv: list[str]) -> int:
    target = Path(argv[0]).resolve()
    with_pip = "--without-pip" not in argv[1:]
    command = [sys.executable, "-m", "venv", "--system-site-packages", str(target)]
    subprocess.run(command if with_pip else [*command, "--without-pip"], check=True)
    python = target / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pth = Path(purelib) / PTH_NAME
    directories = active_site_dirs()
    if directories:
        # Plain path lines, so that pip's isolated build environments (which re-add the system
        # site directories to find and drop what they bring) drop these too; then an "import" line,
        # which is executed, to run the active venv's own .pth files (editable installs, ...).
        lines = [f"{d}\n" for d in directories]
        lines += [f"import site; site.addsitedir({d!r})\n" for d in directories]
        pth.write_text("".join(lines))
        print(f"{target}: sees the active virtualenv {sys.prefix} (after its own packages)")
    elif pth.exists():
        pth.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
