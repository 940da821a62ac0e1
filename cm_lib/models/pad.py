"""A pad token distinct from EOS: why fine-tuned models otherwise never learn to stop."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

PAD_CANDIDATES = ["<pad>", "<|endoftext|>", "<|finetune_right_pad_id|>", "<unk>"]


def fix_pad_token(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Give the tokenizer a pad token distinct from EOS, taken from its vocabulary where possible.

    If pad == EOS, collators mask every pad position out of the labels, and with it the real EOS at
    the end of each answer: the fine-tuned model never learns to stop. SmolLM2's GGUF sets pad =
    <|im_end|> = EOS, so we use <|endoftext|>; LLaMA-2 has no pad, so we use <unk>. Only a vocabulary
    without any candidate gets a new <pad> (and load_model resizes the embeddings).
    """
    eos = tokenizer.eos_token
    if tokenizer.pad_token is not None and tokenizer.pad_token != eos:
        return tokenizer
    vocab = tokenizer.get_vocab()
    for cand in [tokenizer.unk_token, *PAD_CANDIDATES]:
        if cand and cand != eos and cand in vocab:
            tokenizer.pad_token = cand
            return tokenizer
    tokenizer.add_special_tokens({"pad_token": "<pad>"})
    return tokenizer
