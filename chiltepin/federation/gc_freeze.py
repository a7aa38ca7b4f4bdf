"""Keep the garbage collector's full passes cheap while a federation runs (``gc.freeze``).

CPython makes a full collection each time the objects that survived the young generations
grow by a quarter. A fanout's in-flight tasks are such objects, so a long map brings
several full passes, and each walks every tracked object in the process with the GIL held:
mostly the tens of thousands that importing Parsl, Globus Compute and pydantic leaves
behind, none of which the run will free.

While any federation that asked for it runs, the objects that existed before it are moved
out of the collector's way (``gc.freeze``), so full passes walk only what the run creates;
the last such federation to shut down gives them back (``gc.unfreeze``), so whatever died
meanwhile is collected as usual and nothing leaks. It is on by default; turn it off with
``Federation(gc_freeze=False)`` or ``gc_freeze: false`` in the sites file, e.g. when the
host application manages ``gc.freeze`` itself.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_running = 0


def freeze_for_run() -> None:
    """A federation starts: freeze what exists unless another running one already did."""
    global _running
    with _lock:
        if _running == 0:
            gc.freeze()
        _running += 1


def thaw_after_run() -> None:
    """A federation stopped: give the objects back to the collector if it was the last."""
    global _running
    with _lock:
        _running -= 1
        if _running == 0:
            gc.unfreeze()
