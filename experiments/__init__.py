"""Reproductions of the paper's dynamical claims (issue 5), built on `workers.diagnostics` only.

Each module runs as ``python -m experiments.<name> [--out DIR]`` and writes ``<name>.csv`` plus PNG
figures; ``docs/validation.md`` reports the measured results.
"""
