"""The sweep engine: spec -> plan -> driver, status and lock, cost estimate, the shared CLI helper.

The entry scripts a user runs are the modules of ``sweeps/`` itself (docs/design.md §2).
"""
