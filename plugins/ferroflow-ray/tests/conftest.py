"""Fixtures: the installed plugin and a real local Ray instance (one per test module
that asks for it: Ray takes seconds to start and stop)."""

from __future__ import annotations

import os

# Read by Ray when it is imported and started, so set before either happens:
# * a local instance uses 127.0.0.1 for every address it gives out (by default it uses
#   the address of the machine's network interface): these tests talk to 127.0.0.1 only;
# * no usage statistics are sent anywhere;
# * no developer's RAY_ADDRESS sends the tests to a real cluster.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ.pop("RAY_ADDRESS", None)

from ferroflow.testing.fixtures import require_installed

# The plugin must be installed (its entry point is part of what is tested).
require_installed("ferroflow-ray", "ferroflow_ray")

import pytest  # noqa: E402

from ferroflow.testing.fixtures import clean_plugin_manager  # noqa: E402,F401

#: The test instance: two CPUs, one (pretend) GPU, two units of a custom resource, and
#: a small object store so that the tests do not take the machine's memory.
CLUSTER = {
    "num_cpus": 2,
    "num_gpus": 1,
    "resources": {"custom": 2},
    "object_store_memory": 128 << 20,
    "include_dashboard": False,
    "log_to_driver": False,
}


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance for the module; yields its address (``HOST:PORT``)."""
    import ray

    assert not ray.is_initialized(), "a Ray instance was left running by an earlier test"
    ray.init(**CLUSTER)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def _isolated(clean_plugin_manager):  # noqa: F811 - the fixture imported above
    yield
