"""runs/summary.md (cm_lib.course.format_summary): a short table of each stage's headline numbers, not JSON dumps."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cm_lib.stats import rate


def _lm_change(mean: float, lo: float, hi: float, n: int) -> dict:
    return {"mean": mean, "ci95": [lo, hi], "n": n}


# Shaped as notebooks 01-06 write them in full mode (keys and nesting of write_summary's dicts; values of a CPU run).
SUMMARIES = {
    "01_abc": {"bars_pass_rate": 0.6437, "chars_per_token_abc_bpe": 1.4296, "chars_per_token_smollm2": 1.4932,
               "checked_tunes": 12978, "corpus_tunes": 12978, "midi_events_per_tune": 449.4, "smoke": False,
               "syntax_pass_rate": 0.9921, "tokens_per_tune_smollm2": 161.8,
               "top_problems": {"bar-too-long": 1102, "missing-bar-line": 2011}},
    "02_corpus": {"augmented_copies": 4021, "duplicates_removed": 131, "near_duplicate_clusters": 58, "preset": "small",
                  "pretrain_records": {"test": 640, "train": 9874, "validation": 512},
                  "sft_records": {"test": 301, "train": 3658, "validation": 276}, "sft_tasks": 11,
                  "shares_chars": {"general": 0.1802, "scores": 0.4493}, "tunes_in": 5276, "tunes_kept": 5101,
                  "rejected": 44},
    "03_cpt": {"abc_bits_per_char": [2.9012, 2.2498], "abc_change": _lm_change(-0.6514, -0.6822, -0.6206, 60),
               "prose_bits_per_char": [1.3007, 1.2933], "prose_change": _lm_change(-0.0074, -0.0121, -0.0027, 40),
               "composer_generation": {"syntax": rate(86, 100), "bars": rate(0, 100), "ended": rate(93, 100)},
               "composer_bars_constrained": {"syntax": rate(100, 100), "bars": rate(99, 100), "ended": rate(100, 100)},
               "composer_validity_curve": [{"step": 100, "syntax": rate(40, 40)}],
               "composer_loss": [5.233, 1.823], "composer_steps": 400, "composer_seconds": 224.1,
               "cpt_steps": 16, "cpt_seconds": 100.3, "cpt_loss": [2.1, 1.7], "smoke": False,
               "base_model": "smollm2-135m (SmolLM2-135M-Instruct, dequantised from Q4_1)"},
    "04_sft": {"composer before SFT_valid": rate(2, 77), "composer before SFT_key": rate(7, 77),
               "composer before SFT_meter": rate(6, 77),
               "composer after SFT_valid": rate(19, 77), "composer after SFT_key": rate(12, 77),
               "composer after SFT_meter": rate(14, 77), "composer after SFT_form": rate(6, 19),
               "composer after SFT_copy_test_saved": _lm_change(-0.06, -0.15, 0.02, 20),
               "SmolLM2 CPT_key": rate(4, 77), "SmolLM2 CPT_meter": rate(4, 77), "SmolLM2 CPT_valid": rate(0, 77),
               "SmolLM2 reads + composer writes_key": rate(77, 77), "SmolLM2 reads + composer writes_meter": rate(74, 77),
               "SmolLM2 reads + composer writes_valid": rate(63, 77),
               "reader after SFT, template_key": rate(68, 80),
               "sft_steps": 8, "sft_seconds": 67.2, "composer_sft_steps": 120, "composer_sft_seconds": 128.4,
               "reader_steps": 24, "reader_seconds": 76.0, "tasks": ["key_meter_conditioned"], "smoke": False},
    "05_generate": {"constrained": {"none": {"valid_syntax": rate(33, 40), "valid_bars": rate(0, 40),
                                             "seconds_per_token": 0.00065},
                                    "bars": {"valid_syntax": rate(40, 40), "valid_bars": rate(39, 40),
                                             "seconds_per_token": 0.00101}},
                    "jsd_sft_vs_real": {"interval": 0.081, "pitch_class": 0.029},
                    "memorisation": {"SFT": {"copy": rate(0, 40), "exact": rate(0, 40), "max_similarity": 0.0}},
                    "metric_table": {"SFT": {"valid_bars": rate(0, 40)}}, "seconds": {"SFT": 10.9}, "smoke": False},
    "06_bench": {"ppl_accuracy": {"base (smollm2-135m)": {"overall": 0.2286}, "SFT (smollm2-135m)": {"overall": 0.2190}},
                 "ppl_ci95": {"base (smollm2-135m)": {"overall": [0.16, 0.31]}, "SFT (smollm2-135m)": {"overall": [0.15, 0.30]}},
                 "n_test": 21, "shuffles": 5, "generated_overall": 0.2575, "generated_n": 400,
                 "topics_above_baselines": [], "content_free_prior": {"A": 0.4, "B": 0.2, "C": 0.2, "D": 0.2}},
}


def test_format_summary_is_one_readable_table_of_headline_numbers() -> None:
    from cm_lib.course import NotebookRun, format_summary

    runs = [NotebookRun("01_abc_as_a_second_language", True, 58.2, Path("x")),
            NotebookRun("03_lora_continual_pretraining", False, 12.0, Path("y"), "boom")]
    text = format_summary(runs, smoke=False, summaries=SUMMARIES)
    assert text.startswith("# Course run (full mode)")
    assert "| 01_abc_as_a_second_language | ok | 58.2 |" in text and "| 03_lora_continual_pretraining | FAILED | 12.0 |" in text
    assert "Total: 70.2 s" in text
    assert "```" not in text and "{" not in text  # no JSON dumps
    rows = [line for line in text.splitlines() if line.startswith("| 0") and line.count("|") == 4]
    table = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): line.split("|")[3].strip() for line in rows}
    assert table[("01 ABC", "tunes checked")] == "12,978 of the corpus's 12,978"
    assert table[("01 ABC", "pass the checker: syntax / bars")] == "99.2% / 64.4%"
    assert table[("02 corpus", "tunes kept")] == "5,101 of 5,276 (44 rejected, 131 duplicates removed)"
    assert table[("03 CPT", "composer's samples")] == (
        "syntax-valid 86/100 = 86% [78%, 91%]; bars-valid 0/100 = 0% [0%, 4%]; ended 93/100 = 93% [86%, 97%]")
    assert table[("03 CPT", "SmolLM2 bits/char on held-out ABC")] == "2.901 -> 2.250, change -0.651 [-0.682, -0.621] (n = 60)"
    assert table[("03 CPT", "training")] == "composer 400 steps in 224 s; SmolLM2 LoRA 16 steps in 100 s"
    assert table[("04 SFT", "composer after SFT: requests obeyed")] == (
        "valid ABC 19/77 = 25% [16%, 35%]; key 12/77 = 16% [9%, 25%]; meter 14/77 = 18% [11%, 28%]")
    assert table[("04 SFT", "SmolLM2 reads + composer writes: requests obeyed")].startswith("valid ABC 63/77 = 82%")
    assert table[("05 generation", "composer's tunes, constrain='bars'")] == (
        "syntax-valid 40/40 = 100% [91%, 100%]; bars-valid 39/40 = 98% [87%, 100%]")
    assert table[("06 MusicTheoryBench", "MusicTheoryBench accuracy, ppl mode (21 questions x 5 orders)")] == (
        "base (smollm2-135m) 23% [16%, 31%]; SFT (smollm2-135m) 22% [15%, 30%]")
    assert table[("06 MusicTheoryBench", "topics above every baseline")] == "none"
    # baselines and keys no headline reads stay out: the JSON files keep them for programs
    for absent in ("before SFT", "SmolLM2 CPT:", "reader after SFT", "top_problems", "content_free_prior",
                   "metric_table", "midi_events", "seconds_per_token", "validity_curve"):
        assert absent not in text, absent
    assert "summary/<stage>.json beside this file" in text


def test_format_summary_leaves_out_what_it_does_not_know() -> None:
    from cm_lib.course import format_summary
    from cm_lib.headlines import headline_rows

    odd = {"03_cpt": {"composer_generation": {"syntax": rate(5, 10)}, "mystery": {"deep": [1, 2]}},
           "04_sft": {"smoke": True}, "09_extra": {"x": 1}}
    text = format_summary([], smoke=True, summaries=odd)
    assert "# Course run (smoke mode)" in text
    assert "| 03 CPT | composer's samples | syntax-valid 5/10 = 50% [24%, 76%] |" in text
    assert "mystery" not in text and "deep" not in text
    assert "| 04 SFT | (no headline figures) | runs/summary/04_sft.json |" in text
    assert "| 09_extra | (no headline figures) | runs/summary/09_extra.json |" in text
    assert headline_rows("03_cpt", {}) == [] and headline_rows("99_x", SUMMARIES["03_cpt"]) == []
    assert "Headline numbers" not in format_summary([], smoke=False, summaries={})


def test_a_course_run_records_its_notebook_times_with_provenance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cm_lib.course import notebooks as course

    monkeypatch.setenv("CM_RUNS_DIR", str(tmp_path))
    start = time.time()
    course._write_course_run([course.NotebookRun("03_lora_continual_pretraining", True, 528.31, Path("x"))],
                             False, start)
    record = json.loads((tmp_path / "notebooks" / course.COURSE_RUN_FILE).read_text())
    assert record["notebooks"] == [{"name": "03_lora_continual_pretraining", "ok": True, "seconds": 528.3}]
    assert record["smoke"] is False and record["device"] == "cpu" and record["started"] == start
    assert record["machine"] and record["commit"] and record["date"][:2] == "20"
