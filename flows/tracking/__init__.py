"""Tracking: the only code that talks to MLflow. Owns the tag schema, resume, the champion, and reading a search back.

May import flows.reports, flows.runtime, flows.io and nas_core.
"""
