"""Orchestration and I/O: Prefect flows, file formats, tracking; the pure work lives in nas_core.

Entry points sit at this level (cli, prepare, space, search, retrain, pipeline, schedule,
summary); everything else is in subpackages by responsibility (docs "Project layout").
Importing any of it changes nothing outside the module: no environment, no exit hooks.
"""
