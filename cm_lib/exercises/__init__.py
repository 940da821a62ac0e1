"""Self-checks for the notebooks' "Your turn" exercises: one module per notebook (nb01, nb02, ...).

Each `check_<name>(answer) -> bool` prints a friendly ✅ or ❌ with a hint and returns the verdict, so
that the solution notebooks can `assert` it. Every verdict is also recorded, machine-readably, as
one JSON line `{"exercise": "nb01.six_eight_pickup", "passed": true, "time": "..."}` appended to
`runs/exercises/verdicts.jsonl` (`cm_lib.exercises._common.VERDICTS_FILE`, under `paths.runs_dir()`);
`read_verdicts()` reads them back (a grader can keep each exercise's last verdict).
"""

from cm_lib.exercises._common import read_verdicts, verdicts_path

__all__ = ["read_verdicts", "verdicts_path"]
