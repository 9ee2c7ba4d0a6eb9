"""The notifier conformance kit (ferroflow.testing.notifiers) on the email notifier,
against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import pytest

from ferroflow.testing.notifiers import NotifierConformance
from ferroflow_email import EmailNotifier

SENDER = "ferroflow@example.com"
RECIPIENTS = ["oncall@example.com"]


class TestEmailConformance(NotifierConformance):
    registered_name = "email"

    @pytest.fixture(autouse=True)
    def _destination(self, smtp_server, refused_port):
        self.mailbox, self.port = smtp_server()
        self.refused_port = refused_port
        self.notifier_options = {"host": "127.0.0.1", "port": self.port, "sender": SENDER,
                                 "recipients": RECIPIENTS}

    def make_notifier(self, **options):
        options.setdefault("timeout", 5)
        return EmailNotifier("127.0.0.1", self.port, SENDER, RECIPIENTS, local_hostname="localhost", **options)

    def deliveries(self):
        return [m.as_string() for m in self.mailbox.messages()]

    def failing_notifier(self):
        return EmailNotifier("127.0.0.1", self.refused_port, SENDER, RECIPIENTS, local_hostname="localhost",
                             timeout=5)
