"""The engine's one error a sweep stops with (its own module so the pool and the driver share it
without importing each other).  ``sweeps.engine.driver.SweepError`` is the same class."""


class SweepError(RuntimeError):
    """The sweep cannot go on (a worker cannot load its model, all workers are gone, ...)."""
