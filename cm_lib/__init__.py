"""cm_lib: the library behind the chatmusician-course notebooks (ABC, corpus, models, training, benchmarks)."""

__version__ = "0.1.0"
