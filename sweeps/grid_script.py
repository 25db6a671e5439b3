"""Deprecated: moved to ``sweeps.engine.grid_script`` (this alias goes in the next release)."""
from sweeps._moved import alias

alias(__name__, "sweeps.engine.grid_script")
