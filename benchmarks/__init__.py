"""Benchmarks: throughput, memory and LLM tokens, each as a ratio against a baseline of the same run."""
