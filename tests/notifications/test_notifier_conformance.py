"""The notifier conformance kit (ferroflow.testing.notifiers) on a notifier written to
a file (a JSON-lines notifier as a plugin author would write it), and on broken ones
(the kit must catch them)."""

from __future__ import annotations

import os

import pytest

from ferroflow.notifications import Notifier
from ferroflow.testing.notifiers import NotifierConformance, notifier_conformance


class JsonLinesNotifier(Notifier):
    name = "jsonl"

    def __init__(self, path, **options):
        super().__init__(**options)
        self.path = path

    def send(self, event):
        with open(self.path, "a") as f:
            f.write(event.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())


class TestJsonLinesConformance(NotifierConformance):
    @pytest.fixture(autouse=True)
    def _destination(self, tmp_path):
        self.path = tmp_path / "events.jsonl"

    def make_notifier(self, **options):
        return JsonLinesNotifier(str(self.path), **options)

    def deliveries(self):
        return self.path.read_text().splitlines() if self.path.exists() else []


class LeakyNotifier(JsonLinesNotifier):
    """Breaks the contract: shows its secret path and lets send's errors through."""

    name = "leaky"

    def describe(self):
        return f"leaky to {self.path}"

    def notify(self, event):
        self.send(event)
        return True


Broken = notifier_conformance(lambda **options: LeakyNotifier("/tmp/kit-secret-destination", **options),
                              name="Broken", secrets=lambda self: ["kit-secret-destination"])
Broken.__test__ = False  # run by hand below, not collected


@pytest.mark.parametrize("test", ["test_is_a_notifier", "test_a_send_that_raises_is_a_warning"])
def test_the_kit_catches_a_broken_notifier(test, caplog):
    kit = Broken()
    with pytest.raises((AssertionError, ConnectionRefusedError)):
        getattr(kit, test)(*([caplog] if "warning" in test else []))
