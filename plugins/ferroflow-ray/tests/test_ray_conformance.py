"""The executor conformance suite, on a real local Ray instance (two CPUs)."""

from __future__ import annotations

import pytest

from ferroflow.testing.conformance import executor_conformance
from ferroflow_ray import RayExecutor

pytestmark = pytest.mark.usefixtures("ray_cluster")

# Every flow run gets a new executor; it finds this process connected to the module's
# Ray instance, uses it, and leaves it running for the next test.
TestRayExecutor = executor_conformance(lambda: RayExecutor(), name="Ray")
