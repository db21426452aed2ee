"""Evaluation: listening tests (MUSHRA, win rate), automatic judges and benchmarks.
Imports flowtts/codec only to synthesize; nothing imports evals."""
