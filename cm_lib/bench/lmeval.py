"""Export the MusicTheoryBench protocol as an lm-evaluation-harness task YAML.

Where the harness differs from OpenCompass's ppl protocol (written into the YAML as comments):
- `acc` ranks options by the summed log-likelihood of the continuation (" A".." D") only, not by
  the mean CE over the whole string. With single-token letters and a shared prompt the two give
  the same ranking (same prefix loss, same token count); `acc_norm` divides by byte length.
- few-shot examples are joined with `fewshot_delimiter` ("\\n\\n"), which matches OpenCompass's
  "Answer: X\\n" + "\\n" separator; the hint line goes in `description`.
- the harness shuffles nothing: run it once per shuffled copy of the data to average shuffles.
"""

from __future__ import annotations

from pathlib import Path

from cm_lib.bench.data import HUB_ID
from cm_lib.bench.prompts import ABC_SENTENCE
from cm_lib.bench.schema import HINT
from cm_lib.paths import atomic_write_text

_INPUT = (
    "{% if abc_score %}{{ stem.replace('" + ABC_SENTENCE + "', '').strip() }}\n{{ abc_score }}"
    "{% else %}{{ stem }}{% endif %}"
)
DOC_TO_TEXT = _INPUT + "\nA. {{ options.A }}\nB. {{ options.B }}\nC. {{ options.C }}\nD. {{ options.D }}\nAnswer:"


def _q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lmeval_task_yaml(task: str = "musictheorybench_ppl", dataset_path: str = HUB_ID, num_fewshot: int = 0) -> str:
    """The task YAML text (multiple_choice over the letters, prompt strings as in our protocol)."""
    lines = [
        "# MusicTheoryBench, OpenCompass ppl protocol, exported by cm_lib.bench.lmeval",
        "# acc = summed log-likelihood of ' X' (same ranking as OpenCompass's whole-string mean CE",
        "# when the four letters are single tokens); the harness does not shuffle options.",
        f"task: {task}",
        f"dataset_path: {dataset_path}",
        "test_split: test",
        "fewshot_split: dev",
        "output_type: multiple_choice",
        f"description: {_q(HINT + chr(10))}",
        f"doc_to_text: {_q(DOC_TO_TEXT)}",
        "doc_to_choice: [\"A\", \"B\", \"C\", \"D\"]",
        "doc_to_target: \"{{ ['A', 'B', 'C', 'D'].index(answer) }}\"",
        "target_delimiter: \" \"",
        f"fewshot_delimiter: {_q(chr(10) * 2)}",
        f"num_fewshot: {num_fewshot}",
        "fewshot_config:",
        "  sampler: first_n",
        "metric_list:",
        "  - metric: acc",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: acc_norm",
        "    aggregation: mean",
        "    higher_is_better: true",
        "metadata:",
        "  version: 1.0",
    ]
    return "\n".join(lines) + "\n"


def export_lmeval(out: str | Path, num_fewshot: int = 0, dataset_path: str = HUB_ID) -> Path:
    """Write the task YAML to `out` (a file, or a folder that gets musictheorybench_ppl.yaml)."""
    out = Path(out)
    if out.is_dir() or not out.suffix:
        out.mkdir(parents=True, exist_ok=True)
        out = out / "musictheorybench_ppl.yaml"
    return atomic_write_text(out, lmeval_task_yaml(dataset_path=dataset_path, num_fewshot=num_fewshot))
