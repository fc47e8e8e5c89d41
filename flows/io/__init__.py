"""Files: every output path, params.yaml, the dataset loaders and the JSON artifacts a stage writes.

May import nas_core only.
"""
