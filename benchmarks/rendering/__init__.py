"""Markdown for the rendered blocks of BENCHMARKS.md, one module per section, computed from benchmarks/results."""
