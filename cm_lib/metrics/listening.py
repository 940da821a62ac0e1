"""The blind listening test's store (notebook 05): the order each pair plays in, the judgements appended to a CSV,
and how often listeners preferred one label, with n and a Wilson 95% interval (the widget: cm_lib.widgets.listening).

A CSV holds one row per judgement (LISTENING_FIELDS): the labels played as Tune 1 and Tune 2 and the label chosen.
It is only ever appended to, one flushed write per row, and never written into when its header is not ours.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cm_lib.errors import UsageError
from cm_lib.paths import stage_dir
from cm_lib.stats import format_rate, rate

LISTENING_FIELDS = ("session", "trial", "first", "second", "chosen", "time")


def listening_order(n: int, seed: int = 0) -> list[tuple[int, int]]:
    """For each of n trials, which tune of its pair plays as 'Tune 1' and which as 'Tune 2': (0, 1) or (1, 0).

    Counterbalanced: half the trials (n odd: one fewer) play the pair swapped, in an order shuffled
    by `seed`, so a listener who always picks 'Tune 1' scores 50% however the pairs were built.
    """
    if n < 0:
        raise UsageError(f"the number of trials must not be negative, got {n}")
    swapped = [i % 2 == 1 for i in range(n)]
    random.Random(seed).shuffle(swapped)
    return [(1, 0) if s else (0, 1) for s in swapped]


def default_listening_csv(labels: tuple[str, str] = ("real", "generated")) -> Path:
    """runs/listening/<label0>_vs_<label1>.csv: where a listening test appends its judgements by default."""
    safe = [re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-") or "tune" for label in labels]
    return stage_dir("listening") / f"{safe[0]}_vs_{safe[1]}.csv"


def _csv_line(values: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def record_judgement(csv_path: str | Path, trial: int, first: str, second: str, chosen: str,
                     session: str = "", when: datetime | None = None) -> dict[str, str]:
    """Append one judgement (the labels played as Tune 1 and Tune 2, the label chosen) to a CSV; returns the row.

    A new file gets the header LISTENING_FIELDS; an existing file must carry that header (else
    UsageError: we never write into, or replace, a file we did not write). Each row is one write to a
    file opened for appending and is flushed to disk, so an interrupted test keeps every earlier row.
    """
    if chosen not in (first, second):
        raise UsageError(f"chosen label {chosen!r} is neither {first!r} nor {second!r}")
    path = Path(csv_path)
    stamp = (when or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    row = {"session": session, "trial": str(trial), "first": first, "second": second, "chosen": chosen, "time": stamp}
    line = _csv_line([row[k] for k in LISTENING_FIELDS])
    header = _csv_line(LISTENING_FIELDS)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        data = header + line
    except FileExistsError:
        with path.open("rb") as fh:
            head = fh.readline().decode("utf-8", "replace")
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size:
                fh.seek(size - 1)
            ends_line = not size or fh.read(1) == b"\n"
        if head.strip() != header.strip():
            raise UsageError(f"{path} is not a listening-test CSV (its first line is not {header.strip()!r}); "
                             "give another out_csv") from None
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        data = ("" if ends_line else "\n") + line  # a row cut off by a crash stays a row of its own (then skipped)
    try:
        os.write(fd, data.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return row


def preference_summary(csv_path: str | Path, label: str = "generated") -> dict[str, Any]:
    """How often listeners chose `label` over the other tune, from a listening-test CSV.

    Counts every complete row whose two tunes include `label` (n) and those where it was chosen (k):
    {"label", "k", "n", "rate", "ci95" (Wilson 95%), "text" ('3/5 = 60% [23%, 88%]'), "tune1" (the
    same for choosing whichever tune played first: a position bias), "skipped" (incomplete rows)}.
    A file that does not exist yet gives n = 0.
    """
    path = Path(csv_path)
    k = n = first = skipped = 0
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                values = [row.get(f) for f in LISTENING_FIELDS]
                if any(v is None or v == "" for v in values[1:]) or row["chosen"] not in (row["first"], row["second"]):
                    skipped += 1
                    continue
                if label not in (row["first"], row["second"]):
                    continue
                n += 1
                k += row["chosen"] == label
                first += row["chosen"] == row["first"]
    out = rate(k, n)
    return {"label": label, **out, "text": format_rate(out), "tune1": rate(first, n), "skipped": skipped}
