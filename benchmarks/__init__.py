"""Scripts that print speed and memory figures (never timed tests): ``python -m benchmarks.NAME``
from the checkout (docs/design.md §2; README "Benchmarks")."""
