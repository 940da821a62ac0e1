"""MusicTheoryBench probing: schema and loaders (data), OpenCompass prompts, scoring modes, results, lm-eval export.

Modules: `schema`, `data`, `prompts`, `scoring`, `results`, `run`, `lmeval`; CLI `python -m cm_lib bench`.
"""
