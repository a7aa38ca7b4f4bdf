"""Contract: the ``DillDataBase64`` payload chiltepin writes is the SDK's own."""

from __future__ import annotations

import pytest
from globus_compute_sdk.serialize import (
    ComputeSerializer,
    DillDataBase64,
    JSONData,
    SerializationStrategy,
)

from chiltepin.upstream.wire import dill_data_payload, writes_dill_data
from tests.upstream.contract import contract

SDK = "globus-compute-sdk"
PLAIN = [None, True, 7, 2.5, 1j, "text", b"\x00bytes", (1, "a"), [1, [2]], {3}, {"k": [1.0]}]


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_the_payload_reads_back_with_the_sdks_own_deserializers(value: object) -> None:
    payload = dill_data_payload(value)
    with contract("DillDataBase64 (identifier + base64 dill pickle)", SDK, "reads our payload"):
        assert payload[:3] == DillDataBase64().serialize(value)[:3]
        assert SerializationStrategy.get_cached_by_id(payload[:3]) is not None
        assert type(SerializationStrategy.get_cached_by_id(payload[:3])) is DillDataBase64
        assert DillDataBase64().deserialize(payload) == value
        assert ComputeSerializer().deserialize(payload) == value


def test_the_sdk_serializes_data_with_dill_by_default() -> None:
    """Otherwise the shortcut never engages (nothing breaks, submits just get slower)."""
    with contract("DEFAULT_STRATEGY_DATA", SDK, "is DillDataBase64"):
        assert writes_dill_data(ComputeSerializer().data_serializer)
    assert not writes_dill_data(ComputeSerializer(strategy_data=JSONData()).data_serializer)
