"""The course as data and as a run (notebooks 03-06, `python -m cm_lib course`).

- `cm_lib.course.plan`: the plans as data (which runs, on which hardware, online or not; CM_PLAN, CM_BASE_MODEL);
- `cm_lib.course.cost`: what a plan costs (minutes, peak GPU memory, checkpoints; `course plan --json`);
- `cm_lib.course.stages`: the picked plan's runs on disk, what is missing, building it;
- `cm_lib.course.notebooks`: executing every notebook headless into runs/notebooks with a summary.
"""

from cm_lib.course.notebooks import (
    COURSE_RUN_FILE,
    NotebookRun,
    course_notebooks,
    execute_notebook,
    format_summary,
    run_course,
)
from cm_lib.course.plan import COMPOSER_MODEL, CURVE_POINTS, PlanChoice, choose_plan, plan_hardware
from cm_lib.course.stages import (
    MEASURED_COMPOSER_RUNS,
    MEASURED_RUNS_OF,
    course_base_preset,
    course_choice,
    course_model_dir,
    course_models,
    course_plan_summary,
    course_runs,
    ensure_stages,
    lora_track_label,
    run_estimate,
    show_plan,
)

__all__ = [
    "COURSE_RUN_FILE", "CURVE_POINTS", "MEASURED_COMPOSER_RUNS", "MEASURED_RUNS_OF", "COMPOSER_MODEL", "NotebookRun", "PlanChoice",
    "choose_plan", "course_base_preset", "course_choice", "course_model_dir", "course_models", "course_notebooks", "course_plan_summary",
    "course_runs", "ensure_stages", "execute_notebook", "format_summary", "lora_track_label", "plan_hardware",
    "run_course", "run_estimate", "show_plan",
]
