"""Generation: the paper's sampling, batched seeded sampling, stopping at a tune's end, grammar-constrained ABC.

Notebooks 03-05 teach it. `core` holds single-prompt generation and ABC extraction, `sampling` batched
seeded sampling, `stopping` the per-row end-of-tune criteria, `constrain` the ABC grammars, `processor` the
logits processor that keeps every sample a valid tune, `plan_grammar` a request's plan made binding.
"""

from cm_lib.generate.core import PAPER_SAMPLING, GeneratedTune, check_abc, extract_abc, generate, generate_abc
from cm_lib.generate.sampling import Sample, sample_batch

__all__ = [
    "PAPER_SAMPLING",
    "GeneratedTune",
    "Sample",
    "check_abc",
    "extract_abc",
    "generate",
    "generate_abc",
    "sample_batch",
]
