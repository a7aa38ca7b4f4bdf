"""The SDK's ``DillDataBase64`` payload, written by the C pickler.

The strategy's payload is its 3-character ``identifier`` followed by the base64 of a
``dill`` pickle. For plain data the C pickler writes a pickle ``dill.loads`` reads the
same way and spares a submit dill's pure-Python pickling, otherwise its dearest step, so
chiltepin writes that payload itself. The SDK documents the identifier, not the body.
"""

from __future__ import annotations

import codecs
import pickle
from typing import Any

from globus_compute_sdk.serialize import DillDataBase64, SerializationStrategy

__all__ = ["dill_data_payload", "writes_dill_data"]


def writes_dill_data(strategy: SerializationStrategy) -> bool:
    """Whether ``strategy`` is exactly the SDK's ``DillDataBase64`` (not a subclass)."""
    return type(strategy) is DillDataBase64


def dill_data_payload(data: Any) -> str:
    """``DillDataBase64().serialize(data)`` for plain data (no references to modules)."""
    pickled = codecs.encode(pickle.dumps(data, pickle.DEFAULT_PROTOCOL), "base64")
    return DillDataBase64.identifier + pickled.decode()
