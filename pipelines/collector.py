"""Python's cyclic garbage collector while a process starts a run and while the run's steps execute.

A run's process holds some 190,000 objects from its imports alone (Dagster, Great Expectations,
pandas, the job's definitions), and each full collection walks every object: on a 1M-order night
eight full collections took 1.0 s. While a run executes, the objects alive when it started are
frozen (left out of collections) and collections come less often; both are undone when it ends.
"""

import gc
from typing import NamedTuple

RUN_THRESHOLD = (50_000, 50, 50)  # Python's default is (700, 10, 10)


class Before(NamedTuple):
    threshold: tuple[int, int, int]
    frozen: bool  # objects were frozen already, by the process itself: left so
    enabled: bool  # collection was on (quiet_imports turns it off until the run starts)


def quiet_imports() -> None:
    """For a process started to run the job (`crosswalk run`, the benchmark), before it imports
    Dagster and the pipelines: no collections until the run starts (relax). The imports allocate
    some 460,000 tracked objects, and the default thresholds walked the growing heap again and
    again: 1.27-1.29 s to the run's instance against 0.91-0.94 s without. The cycles they leave
    (about 3,800) are frozen with the rest when the run starts: 2-3 MB kept, where collecting them
    first would take 0.14-0.2 s."""
    gc.disable()


def relax() -> Before:
    """Freeze what is alive, space collections out and turn them on; returns what to restore."""
    before = Before(gc.get_threshold(), gc.get_freeze_count() > 0, gc.isenabled())
    gc.freeze()
    gc.set_threshold(*RUN_THRESHOLD)
    gc.enable()
    return before


def restore(before: Before) -> None:
    gc.set_threshold(*before.threshold)
    if not before.frozen:
        gc.unfreeze()
    if not before.enabled:
        gc.disable()


def freeze_before_exit() -> None:
    """Called by a process that is about to exit: the interpreter's last collections then skip
    every object alive now (1.3 s after a 1M-order night)."""
    gc.freeze()
