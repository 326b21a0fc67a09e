"""Shared parts of the benchmarks: a real coordinator process, simulated agents."""
