"""Keep the garbage collector's full passes cheap while a federation runs.

CPython 3.11 makes a full collection each time the objects that survived the young
generations grow by a quarter. A fanout's in-flight tasks are such objects, so a
2,000-task map brings a few full passes, and each walks every tracked object in the
process: on our 2-core CI machine some 60 ms for the ~85,000 objects that importing
Parsl, Globus Compute and pydantic leaves behind, all of it with the GIL held.

While any federation runs, the objects that existed before it are moved out of the
collector's way (``gc.freeze``), so full passes walk only what the run creates; the last
federation to shut down gives them back (``gc.unfreeze``), so whatever died meanwhile is
collected as usual and nothing leaks.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_running = 0


def federation_started() -> None:
    global _running
    with _lock:
        if _running == 0:
            gc.freeze()
        _running += 1


def federation_stopped() -> None:
    global _running
    with _lock:
        _running -= 1
        if _running == 0:
            gc.unfreeze()
