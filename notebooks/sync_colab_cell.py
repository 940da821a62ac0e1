"""Make the first code cell of every notebook equal notebooks/colab_cell.py: `python notebooks/sync_colab_cell.py`."""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def sync(root: Path = HERE) -> list[Path]:
    """Rewrite the notebooks whose first code cell differs from colab_cell.py; return them."""
    reference = (root / "colab_cell.py").read_text().strip()
    changed = []
    for path in sorted(root.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if c.cell_type == "code")
        if cell.source.strip() != reference:
            cell.source = reference
            nbformat.write(nb, path)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for p in sync():
        print("synced", p.relative_to(HERE))
