"""Deprecated: moved to ``sweeps.engine.driver`` (this alias goes in the next release)."""
from sweeps._moved import alias

alias(__name__, "sweeps.engine.driver")
