"""The notifier conformance kit (ferroflow.testing.notifiers) on the webhook notifier,
against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from ferroflow.testing.notifiers import NotifierConformance
from ferroflow_webhook import WebhookNotifier

SECRET_PATH = "/hooks/T0/B0/kit-s3cret-path"


class TestWebhookConformance(NotifierConformance):
    registered_name = "webhook"

    @pytest.fixture(autouse=True)
    def _destination(self, http_server, refused_url):
        self.server = http_server()
        self.refused_url = refused_url
        self.notifier_options = {"url": self.server.url + SECRET_PATH}

    def make_notifier(self, **options):
        return WebhookNotifier(self.server.url + SECRET_PATH, **options)

    def deliveries(self):
        return [r.body.decode("utf-8") for r in self.server.requests]

    def failing_notifier(self):
        return WebhookNotifier(self.refused_url + SECRET_PATH, timeout=5)

    def secrets(self):
        return [SECRET_PATH, "kit-s3cret-path"]
