"""Orchestration and I/O: Prefect flows, file formats, tracking; the pure work lives in nas_core."""

from flows.environment import apply_defaults

apply_defaults()
