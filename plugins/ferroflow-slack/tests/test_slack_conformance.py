"""The notifier conformance kit (ferroflow.testing.notifiers) on the Slack notifier,
against a real HTTP server on 127.0.0.1 standing in for Slack's webhook endpoint."""

from __future__ import annotations

import pytest

from ferroflow.testing.notifiers import NotifierConformance
from ferroflow_slack import SlackNotifier

SECRET_PATH = "/services/T000/B000/kitSecretToken"


class TestSlackConformance(NotifierConformance):
    registered_name = "slack"

    @pytest.fixture(autouse=True)
    def _destination(self, http_server, refused_url):
        self.server = http_server()
        self.refused_url = refused_url
        self.notifier_options = {"webhook_url": self.server.url + SECRET_PATH}

    def make_notifier(self, **options):
        return SlackNotifier(self.server.url + SECRET_PATH, **options)

    def deliveries(self):
        return [r.body.decode("utf-8") for r in self.server.requests]

    def failing_notifier(self):
        return SlackNotifier(self.refused_url + SECRET_PATH, timeout=5)

    def secrets(self):
        return [SECRET_PATH, "kitSecretToken"]
