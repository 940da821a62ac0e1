"""cm_lib.generate: seeded generation on the real SmolLM2, EOS stopping, ABC extraction from messy text."""

from __future__ import annotations

import pytest
import torch

from cm_lib.generate import PAPER_SAMPLING, GeneratedTune, extract_abc, generate, generate_abc
from cm_lib.models import load_model


@pytest.fixture(scope="module")
def smol():
    return load_model("smollm2-135m")


def test_paper_settings() -> None:
    assert PAPER_SAMPLING == {"temperature": 0.2, "top_k": 40, "top_p": 0.9, "repetition_penalty": 1.1}


def test_seeded_generation_is_deterministic(smol) -> None:
    model, tok = smol
    a = generate(model, tok, "Compose a short tune in ABC notation.", max_new_tokens=6, seed=3, temperature=1.0)
    b = generate(model, tok, "Compose a short tune in ABC notation.", max_new_tokens=6, seed=3, temperature=1.0)
    assert a == b and len(a) > 0


def test_generation_stops_at_eos(smol, monkeypatch: pytest.MonkeyPatch) -> None:
    model, tok = smol
    outputs: list[torch.Tensor] = []
    real = model.generate

    def spy(**kwargs):
        out = real(**kwargs)
        outputs.append(out[0, kwargs["input_ids"].shape[1] :])
        return out

    monkeypatch.setattr(model, "generate", spy)
    # With the paper's settings SmolLM2 closes this turn at once with <|im_end|> (id 2).
    answer = generate(model, tok, "What is the capital of France? Answer in one word.", max_new_tokens=16, seed=0)
    new = outputs[0].tolist()
    assert new[-1] == tok.eos_token_id == 2 and len(new) < 16
    assert answer == tok.decode(new, skip_special_tokens=True).strip()
    assert "<|im_end|>" not in answer


def test_generate_abc_on_tiny_random_model() -> None:
    model, tok = load_model("tiny")
    first = generate_abc(model, tok, "X:1", max_new_tokens=12, seed=0, chat=False, temperature=1.0)
    again = generate_abc(model, tok, "X:1", max_new_tokens=12, seed=0, chat=False, temperature=1.0)
    other = generate_abc(model, tok, "X:1", max_new_tokens=12, seed=1, chat=False, temperature=1.0)
    assert isinstance(first, GeneratedTune) and first.raw == again.raw != other.raw
    assert first.abc == extract_abc(first.raw)


MESSY = {
    "Sure! Here is a tune:\n\nX:1\nT:Test\nM:4/4\nL:1/8\nK:G\n|:GABc d2e2|\"Am\"ABcd e4:|\n\nHope you enjoy it!":
        'X:1\nT:Test\nM:4/4\nL:1/8\nK:G\n|:GABc d2e2|"Am"ABcd e4:|\n',
    "```\nT:No X\nM:3/4\nK:D\nDEF|A3|]\n```": "X:1\nT:No X\nM:3/4\nK:D\nDEF|A3|]\n",
    "The melody is below.\nK:C\nCDEF GABc|\nThis is the end of the song.": "X:1\nK:C\nCDEF GABc|\n",
    "X:7\nT:a\nK:C\nCDEF|\nX:2\nT:b\nK:G\nGABc|": "X:7\nT:a\nK:C\nCDEF|\n",
    "Assistant: X:1\r\nT:crlf\r\nK:Em\r\nE2 B2|]\r\nHuman: thanks": "X:1\nT:crlf\nK:Em\nE2 B2|]\n",
    "X:1\nT:fields inside\nM:6/8\nK:D\nP:A\n|:dfa|\nw:la la la\nP:B\n|:ABc|]": (
        "X:1\nT:fields inside\nM:6/8\nK:D\nP:A\n|:dfa|\nw:la la la\nP:B\n|:ABc|]\n"
    ),
}


@pytest.mark.parametrize("text", list(MESSY))
def test_extract_abc_from_messy_output(text: str) -> None:
    assert extract_abc(text) == MESSY[text]


@pytest.mark.parametrize("text", ["", "nothing here at all", "X:1\nT:header only\nK:C\n", "K: is a letter."])
def test_extract_abc_none(text: str) -> None:
    assert extract_abc(text) is None


def test_extracted_tune_is_checked() -> None:
    abc = extract_abc("Here:\nX:1\nT:t\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|]\n")
    from cm_lib.generate import check_abc

    assert abc is not None and check_abc(abc).ok
    assert GeneratedTune(raw="", abc=abc, check=check_abc(abc)).ok
    assert not GeneratedTune(raw="no tune", abc=None).ok


def test_cli_generate_json(tmp_path) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "samples.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cm_lib", "generate", "--model", "tiny", "--prompt", "X:1\\nM:6/8\\nL:1/8\\nK:D\\n",
         "--n", "3", "--seed", "5", "--max-new-tokens", "40", "--constrain", "bars", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    keys = {"prompt", "request", "raw", "abc", "ok_syntax", "ok_bars", "ended", "tokens", "seconds", "plan", "hits"}
    assert len(rows) == 3 and all(set(r) == keys for r in rows)
    assert all(r["prompt"] == "X:1\nM:6/8\nL:1/8\nK:D\n" and r["request"] == {} and r["plan"] is None and r["hits"] == {}
               for r in rows)
    assert all(r["ok_syntax"] and r["ok_bars"] and r["ended"] and 0 < r["tokens"] <= 40 for r in rows)
    assert all(r["abc"].startswith("X:1\nM:6/8") for r in rows) and len({r["raw"] for r in rows}) == 3
    assert "3 samples: 3 syntax-valid, 3 bars-valid, 3 ended, 0 hit the 40-token limit" in proc.stdout
    task_out = tmp_path / "task.json"
    task = subprocess.run(
        [sys.executable, "-m", "cm_lib", "generate", "--model", "tiny", "--task", "key_meter_conditioned", "--n", "2",
         "--max-new-tokens", "8", "--json", str(task_out)],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert task.returncode == 0, task.stderr
    trows = json.loads(task_out.read_text())
    assert len(trows) == 2 and all(set(r["request"]) >= {"key", "meter"} and "Assistant:" in r["prompt"] for r in trows)
    bad = subprocess.run(
        [sys.executable, "-m", "cm_lib", "generate", "--model", "chatmusician", "--prompt", "x"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "HF_HUB_OFFLINE" in bad.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "cm_lib", "generate", "--model", "course:sft", "--prompt", "x"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert missing.returncode == 2 and "04_supervised_finetuning" in missing.stderr and "Traceback" not in missing.stderr


def test_raw_continuation_is_verbatim() -> None:
    model, tok = load_model("tiny")
    start = "X:1\nT:"
    cont = generate(model, tok, start, max_new_tokens=10, seed=2, chat=False, temperature=1.0)
    ids = tok(start, return_tensors="pt").input_ids
    torch.manual_seed(2)
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=True,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **PAPER_SAMPLING | {"temperature": 1.0})
    assert cont == tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)  # nothing stripped or added
