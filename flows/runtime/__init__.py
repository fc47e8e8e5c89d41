"""The process around a stage: environment defaults, `main()` and exit codes, Prefect's server, Dask, worker start-up.

May import flows.io and nas_core.
"""
