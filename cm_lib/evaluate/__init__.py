"""Numbers for notebooks 03-05: likelihood, sampling drivers, probes, and sentences read from them.

likelihood: bits per character, perplexity, the forgetting check on English prose; sampling: answers to records,
tunes from headers, validity per checkpoint; plans: requests read into plans and answered under them; probes: does
a model read its request, can it copy; readings: sentences for notebooks. How answers obey their requests is
`cm_lib.metrics.request` (`request_compliance`); interval statistics are `cm_lib.stats`; requests and held-out
splits are the corpus's (`cm_lib.corpus.tasks.requested`, `cm_lib.corpus.splits`); chord symbols are
`cm_lib.abc.chords`. `from cm_lib.evaluate import X` works for every name below (notebooks 03-05, benchmarks).
"""

# Re-exported from their homes below this package (notebooks 03-05 import them from here).
from cm_lib.abc.chords import chord_symbols, chords_in_order
from cm_lib.corpus.analysis import tune_attributes
from cm_lib.corpus.splits import pick_eval_records
from cm_lib.corpus.tasks import requested
from cm_lib.evaluate.likelihood import (
    NLL,
    PROSE_SOURCE,
    bits_per_character,
    english_prose,
    language_model_report,
    perplexity,
    text_nll,
    text_nll_each,
)
from cm_lib.evaluate.probes import COPY_ALPHABET, HEADER_VALUE_FIELDS, copy_test, prompt_reliance
from cm_lib.evaluate.readings import copy_reading, reliance_reading, runs_reading
from cm_lib.evaluate.sampling import (
    COMPOSER_SAMPLING,
    READER_HEADER_TOKENS,
    ReadWrite,
    Sample,
    answer_records,
    checkpoint_steps,
    generation_report,
    header_prompts,
    judge_sample,
    read_then_write,
    sample_tunes,
    validity_curve,
)
from cm_lib.stats import (
    compare_rates,
    format_mean,
    format_rate,
    interval_sign,
    mean_interval,
    paired_change,
    rate,
    versus_target,
)

__all__ = [
    "COMPOSER_SAMPLING", "COPY_ALPHABET", "HEADER_VALUE_FIELDS", "NLL", "PROSE_SOURCE",
    "READER_HEADER_TOKENS", "ReadWrite", "Sample", "answer_records", "bits_per_character", "checkpoint_steps",
    "chord_symbols", "chords_in_order", "compare_rates", "copy_reading", "copy_test",
    "english_prose", "format_mean", "format_rate", "generation_report", "header_prompts",
    "interval_sign", "judge_sample", "language_model_report", "mean_interval", "paired_change", "perplexity",
    "pick_eval_records", "prompt_reliance", "rate", "read_then_write", "reliance_reading", "requested",
    "runs_reading", "sample_tunes", "text_nll", "text_nll_each", "tune_attributes",
    "validity_curve", "versus_target",
]
