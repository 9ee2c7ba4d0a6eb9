"""A notifier for tests: POSTs each event to a URL (the test's own HTTP server)."""

from __future__ import annotations

import os

from ferroflow.notifications import Notifier, post_json, redact_url


class PostNotifier(Notifier):
    """POSTs the event, and the id of the process that sent it, as JSON to ``url``
    (importable by worker processes: it lives in a module, not a test)."""

    name = "post"

    def __init__(self, url, **options):
        super().__init__(**options)
        self.url = url

    def describe(self):
        return f"'post' (PostNotifier to {redact_url(self.url)})"

    def send(self, event):
        post_json(self.url, {**event.to_dict(), "pid": os.getpid()}, timeout=self.timeout)
