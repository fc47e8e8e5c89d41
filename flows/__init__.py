"""Orchestration and I/O: Prefect flows, file formats, tracking; the pure work lives in nas_core."""

from flows.runtime import fast_exit
from flows.runtime.environment import apply_defaults

fast_exit.install()  # first, so that it runs after every other exit handler (flows/runtime/fast_exit.py)
apply_defaults()
