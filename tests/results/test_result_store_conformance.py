"""The result store conformance kit (ferroflow.testing.result_stores) on the built-in
stores, and on a broken one (the kit must catch it)."""

from __future__ import annotations

import pytest

from ferroflow.results.filesystem import FsspecResultStore
from ferroflow.results.stores import MemoryResultStore
from ferroflow.testing.result_stores import ResultStoreConformance, result_store_conformance


class TestMemoryStoreConformance(ResultStoreConformance):
    store_factory = MemoryResultStore
    takes_base_url = False
    shared_between_processes = False
    registered_name = "memory"


class TestFsspecStoreConformance(ResultStoreConformance):
    store_factory = FsspecResultStore
    registered_name = "fsspec"


TestFsspecFsyncConformance = result_store_conformance(
    FsspecResultStore, name="FsspecFsync", registered_name="fsspec", store_options={"fsync": True})


class ForgetfulStore(MemoryResultStore):
    """Breaks the contract: unknown locations give KeyError, any location is accepted."""

    name = "forgetful"

    def write(self, location, data):
        self.records[location] = bytes(data)

    def read(self, location):
        return self.records[location]


BrokenKit = result_store_conformance(ForgetfulStore, name="Broken", takes_base_url=False,
                                     shared_between_processes=False)
BrokenKit.__test__ = False  # run by hand below, not collected


@pytest.mark.parametrize("test", ["test_unknown_locations_raise_result_not_found",
                                  "test_invalid_locations_are_refused"])
def test_the_kit_catches_a_broken_store(test, tmp_path):
    kit = BrokenKit()
    kit.tmp_path = tmp_path
    with pytest.raises((AssertionError, pytest.fail.Exception, KeyError)):
        getattr(kit, test)()
