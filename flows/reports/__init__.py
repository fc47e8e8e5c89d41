"""Reports: rendering only (matplotlib figures, the HTML page, CSV plot data). Never talks to MLflow.

May import flows.io and nas_core.
"""
