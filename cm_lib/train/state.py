"""A run folder on disk: its marker, its checkpoints (complete or not), its result and loss curve.

A folder is ours when it holds RUN_MARKER (written before training starts) or a train_result.json
(written last, atomically: the mark of a complete run). A checkpoint is complete once the trainer
wrote its trainer_state.json, the last file of a save. The marker keeps a run's fingerprint (what makes
it a different run: model, data, view, seed, preset...) apart from its length (max_steps): a run with
the same fingerprint continues towards more steps from its newest complete checkpoint (the trainer saves
one at the last step of every run, and keep_checkpoints removes only older ones).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cm_lib.errors import AssetNotFoundError, UsageError
from cm_lib.paths import atomic_write_text

RUN_MARKER = "cm_run.json"
RESULT_FILE = "train_result.json"
# Everything a run writes into its folder (what --overwrite may delete); other files are never touched.
RUN_OUTPUTS = ("adapter", "model", "merged", "trainer_state.json", "settings.json", "README.md", RESULT_FILE)


@dataclass
class TrainResult:
    """What a training run produced: folders, steps, losses (mean of the first/last 3 logged) and speed."""

    stage: str
    out: Path
    model_dir: Path  # the adapter (LoRA) or the full model
    merged_dir: Path | None
    lora: bool
    steps: int
    first_loss: float
    final_loss: float
    seconds: float
    tokens_per_second: float
    settings: dict = field(default_factory=dict)
    skipped: bool = False

    @property
    def trained_model(self) -> Path:
        """The model to load after this run (cm_lib.models.load_model): merged, else the full model or kept adapter (notebooks 03, 04)."""
        return self.merged_dir if self.merged_dir is not None else self.model_dir

    def to_json(self) -> dict:
        """A JSON-safe dict of the result."""
        d = asdict(self)
        for k in ("out", "model_dir", "merged_dir"):
            d[k] = None if d[k] is None else str(d[k])
        return d


def result_from_json(d: dict, skipped: bool = False) -> TrainResult:
    """TrainResult from its train_result.json."""
    d = dict(d)
    d["skipped"] = skipped
    for k in ("out", "model_dir", "merged_dir"):
        d[k] = None if d[k] is None else Path(d[k])
    return TrainResult(**d)


def load_result(out: Path) -> TrainResult | None:
    """The finished run in `out` (its train_result.json), or None."""
    path = Path(out) / RESULT_FILE
    return result_from_json(json.loads(path.read_text())) if path.exists() else None


def trained_stage(folder: str | Path) -> str | None:
    """The stage ('cpt' or 'sft') of the finished cm_lib run that wrote a model folder: the run folder itself or a
    folder inside it (its model/, merged/, adapter/ or a checkpoint); None for anything else (a preset, a hub model).

    An 'sft' model was trained on the chat format (cm_lib.chat), so that is how it is asked (notebook 05's studio)."""
    path = Path(folder)
    if not path.is_dir():
        return None
    for run in (path, path.parent):
        try:
            stage = json.loads((run / RESULT_FILE).read_text()).get("stage")
        except (OSError, ValueError, AttributeError):
            continue
        return stage if isinstance(stage, str) else None
    return None


def checkpoints(out: Path) -> list[Path]:
    """checkpoint-N folders of a run, oldest first (complete or not)."""
    found = [p for p in Path(out).glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def is_complete_checkpoint(path: Path) -> bool:
    """True when the trainer finished saving this checkpoint (its trainer_state.json, written last, parses)."""
    try:
        state = json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and "global_step" in state


def latest_complete_checkpoint(out: Path) -> Path | None:
    """The newest checkpoint a run can resume from (partial saves, e.g. interrupted, are skipped), or None."""
    complete = [c for c in checkpoints(out) if is_complete_checkpoint(c)]
    return complete[-1] if complete else None


def loss_curve(out: Path, key: str = "loss") -> list[tuple[int, float]]:
    """(step, loss) pairs from a run's trainer_state.json (or its newest complete checkpoint's); key="eval_loss": validation (notebook 03)."""
    out = Path(out)
    path = out / "trainer_state.json"
    if not path.exists():
        cp = latest_complete_checkpoint(out)
        if cp is None:
            raise AssetNotFoundError(f"no trainer_state.json in {out}")
        path = cp / "trainer_state.json"
    hist = json.loads(path.read_text()).get("log_history", [])
    return [(int(h["step"]), float(h[key])) for h in hist if key in h]


def is_run_folder(out: Path) -> bool:
    """True when `out` was written by cm_lib's trainer (its marker or a finished result is there)."""
    return (out / RUN_MARKER).is_file() or (out / RESULT_FILE).is_file()


def run_marker(out: Path) -> dict:
    """The marker of the run in `out` ({"fingerprint", "max_steps"}; older markers lack "max_steps"), or {}."""
    try:
        marker = json.loads((out / RUN_MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def run_fingerprint(out: Path) -> str | None:
    """The settings fingerprint the run in `out` was started with (from its marker), or None."""
    return run_marker(out).get("fingerprint")


def checkpoint_step(path: Path) -> int:
    """The optimizer steps a complete checkpoint holds (its trainer_state.json's global_step)."""
    return int(json.loads((path / "trainer_state.json").read_text())["global_step"])


def trained_steps(out: Path) -> int:
    """The most steps the run in `out` has trained: its finished result's, or its newest complete checkpoint's (0: none)."""
    newest = latest_complete_checkpoint(out)
    done = checkpoint_step(newest) if newest is not None else 0
    try:
        return max(done, int(json.loads((out / RESULT_FILE).read_text())["steps"]))
    except (OSError, ValueError, KeyError, TypeError):
        return done


def remove_outputs(out: Path, keep_checkpoints: bool = False) -> None:
    """Delete what a run wrote into `out` (RUN_OUTPUTS and, unless kept, checkpoint-N); nothing else."""
    if not keep_checkpoints:
        for c in checkpoints(out):
            shutil.rmtree(c, ignore_errors=True)  # ignore_errors: the ranks of `accelerate launch` race here
    for name in RUN_OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _length_words(max_steps: int | None) -> str:
    """'a 16-step run', or 'an epoch-long run' for a run without max_steps."""
    return f"a {max_steps}-step run" if max_steps is not None else "a run of the preset's epochs"


def check_run_folder(out: Path, fingerprint: str, resume: bool, overwrite: bool, max_steps: int | None = None,
                     legacy: dict[str, int | None] | None = None, same_schedule: Callable[[int, int], bool] | None = None) -> Path | None:
    """The checkpoint a run in `out` continues from (None: start fresh), or UsageError; changes nothing on disk.

    `fingerprint` names what makes a run a different run (model, data, view, seed, preset...), `max_steps` its
    length; `legacy` maps the fingerprints older markers carry (length included) to that length; `same_schedule(old_max_steps, step)`
    says whether a run of `old_max_steps` steps gave steps 1..step+1 the learning rates a `max_steps` run gives them.
    Continued: with `resume`, the newest complete checkpoint of the same run (partial saves skipped), also towards more
    steps; without it, a finished run of the same settings towards more steps. Both only where the continuation
    equals a straight run of `max_steps` steps (the same learning rates so far).
    Refused: an --out that is a file; a non-empty folder that is not a run of ours (unless `overwrite`);
    an unfinished run without `resume` or `overwrite` (its checkpoints would be lost); resuming checkpoints
    written with other settings, with fewer steps than already trained, or where the schedule differs.
    Without `resume`, a finished run that cannot be continued is replaced (a run of ours, other settings).
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if not out.is_dir():
        return None
    if any(out.iterdir()) and not is_run_folder(out) and not overwrite:
        raise UsageError(f"{out} is not empty and holds no {RUN_MARKER}, so it is not a cm_lib training run: "
                         "choose another --out, or pass --overwrite (overwrite=True) to train into it "
                         "(files we did not write are kept)")
    if overwrite:
        return None
    if not resume and checkpoints(out) and not (out / RESULT_FILE).is_file():
        complete = latest_complete_checkpoint(out)
        newest = f" (newest complete checkpoint: {complete.name})" if complete else " (no complete checkpoint)"
        raise UsageError(f"{out} holds an unfinished run{newest}: add --resume (resume=True) to continue it, "
                         "or --overwrite (overwrite=True) to start over (deletes its checkpoints)")
    resume_from = latest_complete_checkpoint(out)
    if resume_from is None:
        return None  # nothing to continue from: start fresh
    marker = run_marker(out)
    if marker.get("fingerprint") == fingerprint and "max_steps" in marker:
        planned = marker["max_steps"]
    elif legacy and marker.get("fingerprint") in legacy:
        planned = legacy[marker["fingerprint"]]  # a marker from before lengths were kept apart
    elif resume:
        raise UsageError(f"the checkpoints in {out} were written with other settings (model, data, view, seed, "
                         "preset...): rerun with those settings to resume, or pass --overwrite (overwrite=True) "
                         "instead of --resume to start over")
    else:
        return None  # a finished run of other settings: this run replaces it
    done, step = trained_steps(out), checkpoint_step(resume_from)
    if max_steps is not None and done > max_steps:
        if not resume:
            return None  # a finished longer run: this shorter one replaces it
        raise UsageError(f"{out} already holds {done} trained steps of this run, more than --max-steps {max_steps} "
                         f"(max_steps={max_steps}): pass --max-steps {done} or more to continue it, or --overwrite "
                         f"(overwrite=True) to train {max_steps} steps from scratch")
    if planned == max_steps or (planned is not None and max_steps is not None and same_schedule is not None
                                and same_schedule(planned, step)):
        return resume_from
    if not resume:
        return None  # continuing would not equal a straight run of max_steps: start over
    raise UsageError(f"{out} holds {step} steps of {_length_words(planned)} whose learning-rate schedule (warm-up, "
                     f"decay) over those steps differs from {_length_words(max_steps)}'s, so continuing would not give "
                     f"{_length_words(max_steps)}: pass --max-steps {planned} to finish that run, or --overwrite "
                     f"(overwrite=True) to train {max_steps} steps from scratch")


def claim_run_folder(out: Path, fingerprint: str, resume_from: Path | None, max_steps: int | None = None) -> None:
    """Mark `out` as this run's folder (its fingerprint and length), clearing our earlier outputs (continuing: all but the complete checkpoints); others are kept."""
    out.mkdir(parents=True, exist_ok=True)
    if resume_from is None:
        remove_outputs(out)
    else:
        (out / RESULT_FILE).unlink(missing_ok=True)  # first: a continued run is unfinished until its new result
        remove_outputs(out, keep_checkpoints=True)  # a shorter run's model, merge and card: not this run's
        for c in checkpoints(out):
            if not is_complete_checkpoint(c):
                shutil.rmtree(c, ignore_errors=True)  # an interrupted save of ours: the trainer writes it again
    atomic_write_text(out / RUN_MARKER, json.dumps({"written_by": "cm_lib.train", "fingerprint": fingerprint,
                                                    "max_steps": max_steps}) + "\n")
