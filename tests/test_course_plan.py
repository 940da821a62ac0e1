"""cm_lib.course's plan of runs: one place for the run folders that notebooks 03/04 write and 05/06 read."""

from __future__ import annotations

from pathlib import Path

import pytest

from cm_lib.errors import AssetNotFoundError


@pytest.fixture()
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CM_RUNS_DIR", str(tmp_path))
    return tmp_path


SCRATCH_STEPS, SCRATCH_SFT_STEPS = 240, 150  # the composer's full-mode budget (cm_lib.course._PLANS)


def test_plan_is_the_one_notebooks_03_and_04_train(runs: Path) -> None:
    from cm_lib.corpus.tasks import GENERATION_TASKS
    from cm_lib.course import _runs

    corpus = runs / "corpus" / "smoke"
    smoke = _runs(True, corpus)
    assert smoke["scratch"] == dict(model="composer", data=corpus, out=runs / "cpt" / "composer", hardware="cpu-smoke",
                                    max_steps=12, lora=False, categories=("scores",), eval_rows=8, view="composer")
    assert smoke["cpt"] == dict(model=str(runs / "cpt" / "composer" / "model"), data=corpus,
                                out=runs / "cpt" / "composer-lora", hardware="cpu-smoke", max_steps=3, lora=True)
    assert smoke["sft"] == dict(model=str(runs / "cpt" / "composer-lora" / "merged"), data=corpus,
                                out=runs / "sft" / "composer-lora", hardware="cpu-smoke", max_steps=3, lora=True)
    assert smoke["scratch_sft"] == dict(model=str(runs / "cpt" / "composer" / "model"), data=corpus,
                                        out=runs / "sft" / "composer", hardware="cpu-smoke", max_steps=3, lora=False,
                                        tasks=tuple(GENERATION_TASKS))
    assert smoke["base"] == {"model": str(runs / "cpt" / "composer" / "model")} and smoke["corpus"] == {"path": corpus}
    full = _runs(False, corpus)
    assert full["scratch"] == dict(model="composer", data=corpus, out=runs / "cpt" / "composer", hardware="cpu-scratch",
                                   max_steps=SCRATCH_STEPS, lora=False, categories=("scores",), eval_rows=64,
                                   view="composer")
    assert full["cpt"] == dict(model="smollm2-135m", data=corpus, out=runs / "cpt" / "smollm2-135m", hardware="cpu",
                               max_steps=16, lora=True)
    assert full["sft"]["out"] == runs / "sft" / "smollm2-135m" and full["sft"]["max_steps"] == 8
    assert (full["scratch_sft"]["max_steps"], full["scratch_sft"]["hardware"]) == (SCRATCH_SFT_STEPS, "cpu-scratch")
    assert full["scratch_sft"]["tasks"] == tuple(GENERATION_TASKS) and full["scratch_sft"]["lora"] is False
    assert full["base"] == {"model": "smollm2-135m"}


def test_course_model_dir_names_the_notebook_and_bench_follows_it(runs: Path) -> None:
    from cm_lib.bench.run import course_models
    from cm_lib.course import course_model_dir

    with pytest.raises(AssetNotFoundError, match="run notebook 03_lora_continual_pretraining.*--only 03 --smoke"):
        course_model_dir("cpt", smoke=True)
    with pytest.raises(AssetNotFoundError, match="04_supervised_finetuning"):
        course_model_dir("sft", smoke=False)
    assert course_models(True) == {"base (composer)": "composer"}
    for sub in ("model", "merged"):
        (runs / "cpt" / "composer-lora" / sub).mkdir(parents=True)
        (runs / "cpt" / "composer-lora" / sub / "config.json").write_text("{}")
    assert course_model_dir("cpt", smoke=True) == runs / "cpt" / "composer-lora" / "merged"  # merged wins over model
    (runs / "sft" / "smollm2-135m" / "model").mkdir(parents=True)
    (runs / "sft" / "smollm2-135m" / "model" / "config.json").write_text("{}")
    assert course_models(False) == {"base (smollm2-135m)": "smollm2-135m",
                                    "SFT (smollm2-135m)": str(runs / "sft" / "smollm2-135m" / "model")}
    assert course_models(True) == {"base (composer)": "composer", "CPT (composer-lora)": str(runs / "cpt" / "composer-lora" / "merged")}
    assert not (runs / "sft" / "composer-lora").exists()  # looking does not create run folders
