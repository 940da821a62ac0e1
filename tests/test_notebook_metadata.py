"""Every lesson and solutions notebook names its kernel (JupyterLab opens it without a "Select Kernel" dialog) and ids its cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("**/[0-9][0-9]_*.ipynb"))


def test_the_course_has_notebooks() -> None:
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.relative_to(REPO / "notebooks").as_posix())
def test_notebook_has_a_python3_kernelspec(nb_path: Path) -> None:
    meta = json.loads(nb_path.read_text())["metadata"]
    spec = meta.get("kernelspec") or {}
    assert spec.get("name") == "python3", f"{nb_path.name}: kernelspec {spec!r} (JupyterLab will ask for a kernel)"
    assert spec.get("language") == "python" and spec.get("display_name")
    assert meta.get("language_info", {}).get("name") == "python"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.relative_to(REPO / "notebooks").as_posix())
def test_every_cell_has_a_unique_id(nb_path: Path) -> None:
    """nbformat 4.5 cells need ids: without them nbformat warns today and will refuse the notebook later."""
    nb = json.loads(nb_path.read_text())
    ids = [c.get("id") for c in nb["cells"]]
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5)
    assert None not in ids, f"{nb_path.name}: cells {[i for i, x in enumerate(ids) if x is None]} have no id"
    assert len(set(ids)) == len(ids), f"{nb_path.name}: repeated cell ids"
