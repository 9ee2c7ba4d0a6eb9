"""ferroflow-webhook: POST each wanted state change as JSON to a URL.

Registered as the ``webhook`` notifier through the ``register_notifiers`` hook::

    from ferroflow_webhook import WebhookNotifier

    notifier = WebhookNotifier("https://example.com/hooks/ferroflow",
                               headers={"Authorization": "Bearer ..."},
                               only_states=["Failed"])

The request body is :meth:`ferroflow.notifications.NotificationEvent.to_dict` as JSON
(``Content-Type: application/json``). Any 2xx answer is a success; anything else,
including a redirect, is a failure that ``notify`` logs as a warning.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ferroflow.notifications import (
    DEFAULT_TIMEOUT,
    NotificationEvent,
    Notifier,
    StateSpec,
    check_http_url,
    post_json,
    redact_url,
)
from ferroflow.plugins import hookimpl

__all__ = ["WebhookNotifier", "register_notifiers"]


class WebhookNotifier(Notifier):
    """POST :meth:`NotificationEvent.to_dict` as JSON to ``url``.

    Args:
        url: An ``http://`` or ``https://`` URL. Only its scheme, host and port appear
            in logs (paths and queries often hold tokens).
        headers: Extra request headers (``Authorization``...); never logged.
        only_states, ignore_states, timeout: As for
            :class:`ferroflow.notifications.Notifier`; ``timeout`` is also the socket
            timeout of the request.

    Uses ``urllib.request`` from the standard library; proxies from the environment
    (``https_proxy``...) apply.
    """

    name = "webhook"

    def __init__(self, url: str, headers: Mapping[str, str] | None = None, *,
                 only_states: StateSpec = None, ignore_states: StateSpec = None,
                 timeout: float | datetime.timedelta = DEFAULT_TIMEOUT) -> None:
        super().__init__(only_states=only_states, ignore_states=ignore_states, timeout=timeout)
        self.url = check_http_url(url)
        self.headers = dict(headers or {})

    def describe(self) -> str:
        return f"{self.name!r} (WebhookNotifier to {redact_url(self.url)})"

    def payload(self, event: NotificationEvent) -> Any:
        """The JSON document sent for ``event``; override to reshape it."""
        return event.to_dict()

    def send(self, event: NotificationEvent) -> None:
        """POST the payload; raise on a connection error, a timeout or a non-2xx answer."""
        post_json(self.url, self.payload(event), headers=self.headers, timeout=self.timeout)


@hookimpl
def register_notifiers(register):
    """Register :class:`WebhookNotifier` as ``"webhook"``."""
    register("webhook", WebhookNotifier)
