"""The serializer conformance kit (ferroflow.testing.serializers) on the built-in
serializers, and on broken ones (the kit must catch them)."""

from __future__ import annotations

import pytest

from ferroflow.results.serializers import CloudpickleSerializer, JSONSerializer
from ferroflow.testing.serializers import JSON_VALUES, SerializerConformance, serializer_conformance


class TestCloudpickleConformance(SerializerConformance):
    serializer_factory = CloudpickleSerializer
    registered_name = "cloudpickle"


TestJSONConformance = serializer_conformance(
    JSONSerializer, name="JSON", registered_name="json", round_trip_values=JSON_VALUES,
    deterministic=True, unserializable_values=staticmethod(lambda: [object(), {1, 2}]))


class BytearraySerializer(JSONSerializer):
    """Breaks the contract: dumps gives a bytearray and lets TypeError through."""

    name = "bytearray-json"

    def dumps(self, value):
        import json

        return bytearray(json.dumps(value).encode())


BrokenKit = serializer_conformance(BytearraySerializer, name="Broken", round_trip_values=JSON_VALUES)
BrokenKit.__test__ = False  # run by hand below, not collected


@pytest.mark.parametrize("test", ["test_dumps_gives_bytes", "test_unserializable_values_raise_a_clear_error"])
def test_the_kit_catches_a_broken_serializer(test, tmp_path_factory, monkeypatch):
    kit = BrokenKit()
    with pytest.raises(AssertionError, match="must r"):
        getattr(kit, test)()
