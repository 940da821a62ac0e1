"""The from-scratch presets: `tiny` (a byte-level BPE trained on music21's ABC tunes) and `composer` (plain
bytes, one character per token), each with a seeded, randomly initialised Llama of its preset's shape."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cm_lib.models.cache import atomic_build, models_cache
from cm_lib.models.presets import MODEL_PRESETS

if TYPE_CHECKING:  # heavy imports stay inside functions so the CLI starts fast
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

TINY = MODEL_PRESETS["tiny"]
TINY_BUILD_VERSION = 1  # bump when the tiny recipe changes: cached folders are rebuilt
SCRATCH_PRESETS = ("tiny", "composer")  # built here from their preset's shape, never downloaded
BYTE_VOCAB = 256 + 3  # a byte-level BPE of this size has no merges: every byte (ASCII character) is a token


def iter_corpus_texts() -> Iterator[str]:
    """The text of every ABC tune in music21's corpus, read by cm_lib.abc (the tiny tokenizer's training data)."""
    from cm_lib.abc.music21_corpus import iter_music21_tunes

    for _collection, tune in iter_music21_tunes():
        yield tune.text


def train_abc_tokenizer(texts: Iterable[str], vocab_size: int = TINY.vocab) -> PreTrainedTokenizerBase:
    """A byte-level BPE tokenizer with <pad>/<s>/</s> (ids 0/1/2) that prepends <s>, like LLaMA's (notebook 01, via tokenstats.abc_bpe_tokenizer)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=TINY.max_positions,
        padding_side="right",
    )


def build_tiny_model(
    tokenizer: PreTrainedTokenizerBase,
    hidden: int = TINY.hidden,
    layers: int = TINY.layers,
    heads: int = TINY.heads,
    intermediate: int = TINY.intermediate,
    max_positions: int = TINY.max_positions,
    seed: int = 0,
    tied_embeddings: bool = TINY.tied_embeddings,
) -> PreTrainedModel:
    """A randomly initialised LlamaForCausalLM sized for CPU (defaults: the `tiny` preset, ~3.7M parameters), seeded."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_positions,
        tie_word_embeddings=tied_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def prepare_tiny(seed: int = 0, vocab_size: int = TINY.vocab) -> Path:
    """The cached `tiny` folder (tokenizer + seeded random model), built in seconds when missing or stale."""
    return prepare_scratch("tiny", seed=seed, vocab_size=vocab_size)


def prepare_scratch(name: str = "tiny", seed: int = 0, vocab_size: int | None = None) -> Path:
    """The cached folder of a from-scratch preset (`tiny` or `composer`): tokenizer + seeded random model of its shape."""
    preset = MODEL_PRESETS[name]
    vocab = preset.vocab if vocab_size is None else vocab_size
    key = {
        "preset": name,
        "version": TINY_BUILD_VERSION,
        "seed": seed,
        "vocab_size": vocab,
        "shape": [preset.layers, preset.hidden, preset.intermediate, preset.heads],
        "corpus": "cm_lib.abc",  # the reader of music21's tunes (the only one since the raw fallback went)
    }
    if name == "tiny":
        del key["shape"]  # the key cached `tiny` folders were built under

    def build(tmp: Path) -> None:
        texts = iter_corpus_texts() if vocab > BYTE_VOCAB else iter(["X:1"])  # bytes alone: nothing to learn
        tokenizer = train_abc_tokenizer(texts, vocab_size=vocab)
        model = build_tiny_model(tokenizer, hidden=preset.hidden, layers=preset.layers, heads=preset.heads,
                                 intermediate=preset.intermediate, max_positions=preset.max_positions, seed=seed,
                                 tied_embeddings=preset.tied_embeddings)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    return atomic_build(models_cache() / name, build, key)
