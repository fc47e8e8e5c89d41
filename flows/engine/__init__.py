"""The search engine: setup, candidate evaluation on Prefect's task runners, rungs, weight sharing, the end of a search.

May import flows.tracking, flows.reports, flows.runtime, flows.io and nas_core; never an entry point.
"""
