"""ferroflow-slack: post state changes to a Slack channel through an incoming webhook.

Registered as the ``slack`` notifier through the ``register_notifiers`` hook::

    from ferroflow_slack import SlackNotifier

    notifier = SlackNotifier("https://hooks.slack.com/services/T000/B000/XXXX",
                             only_states=["Failed"])

Each message has a plain ``text`` (shown in notifications and by clients without
blocks) and ``blocks``: a header, the state, flow, task and run id, the state's message
and, for failures, an excerpt of the error. Nothing but the standard library is used.
"""

from __future__ import annotations

import datetime
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

__all__ = ["SlackNotifier", "slack_message", "register_notifiers"]

# Slack's limits: header text 150 characters, section text 3,000, field text 2,000.
HEADER_LIMIT = 150
TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
#: Lines of a traceback shown in the error excerpt (its end, where the error is).
ERROR_LINES = 15


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack's mrkdwn requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _emoji(event: NotificationEvent) -> str:
    if event.failed:
        return ":x:"
    if event.state in ("Success", "Mapped", "Cached"):
        return ":white_check_mark:"
    if event.state in ("Retrying", "Cancelled", "Skipped", "Paused"):
        return ":warning:"
    return ":information_source:"


def _error_excerpt(event: NotificationEvent) -> str | None:
    if event.traceback:
        lines = event.traceback.rstrip().splitlines()
        text = "\n".join(lines[-ERROR_LINES:])
    elif event.failed and event.result:
        text = event.result
    else:
        return None
    text = escape(text.replace("```", "'''"))
    room = TEXT_LIMIT - len("*Error*\n``````") - 1
    if len(text) > room:
        text = "…" + text[len(text) - room + 1:]  # keep the end
    return f"*Error*\n```{text}```"


def slack_message(event: NotificationEvent) -> dict[str, Any]:
    """The incoming-webhook payload for ``event``: ``{"text": ..., "blocks": [...]}``.

    Blocks, in order: a ``header`` (emoji and :meth:`NotificationEvent.summary`), a
    ``section`` with fields State, Flow, Task (task events) and Flow run (when known),
    a ``section`` with the state's message (when there is one), a ``section`` with the
    end of the traceback in a code block (failures), and a ``context`` line with the
    time. Texts are escaped for mrkdwn and kept within Slack's length limits.
    """
    summary = event.summary()
    state = event.state if event.previous_state is None else f"{event.state} (was {event.previous_state})"
    fields = [f"*State*\n{escape(state)}", f"*Flow*\n{escape(str(event.flow_name))}"]
    if not event.is_flow_event:
        fields.append(f"*Task*\n{escape(str(event.task_full_name))}")
    if event.flow_run_id is not None:
        fields.append(f"*Flow run*\n`{escape(event.flow_run_id)}`")
    blocks: list[dict[str, Any]] = [
        {"type": "header",
         "text": {"type": "plain_text", "text": _cut(f"{_emoji(event)} {summary}", HEADER_LIMIT), "emoji": True}},
        {"type": "section",
         "fields": [{"type": "mrkdwn", "text": _cut(f, FIELD_LIMIT)} for f in fields]},
    ]
    if event.message:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _cut(f"*Message*\n{escape(event.message)}", TEXT_LIMIT)}})
    excerpt = _error_excerpt(event)
    if excerpt is not None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": excerpt}})
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn",
                                 "text": f"ferroflow · {event.timestamp.strftime('%Y-%m-%d %H:%M:%S %Z')}"}]})
    text = summary if not event.message else f"{summary}: {event.message}"
    return {"text": _cut(escape(text), TEXT_LIMIT), "blocks": blocks}


class SlackNotifier(Notifier):
    """Post :func:`slack_message` payloads to a Slack incoming webhook.

    Args:
        webhook_url: The incoming webhook's URL (``https://hooks.slack.com/services/...``).
            It is a secret: only its scheme and host appear in logs.
        channel, username, icon_emoji: Optional overrides added to the payload (only
            legacy webhooks honour them; app webhooks post where they were created).
        only_states, ignore_states, timeout: As for
            :class:`ferroflow.notifications.Notifier`; ``timeout`` is also the socket
            timeout of the request.

    A non-2xx answer is a failure whose warning includes Slack's error text
    (``invalid_payload``, ``no_service``...).
    """

    name = "slack"

    def __init__(self, webhook_url: str, *, channel: str | None = None,
                 username: str | None = None, icon_emoji: str | None = None,
                 only_states: StateSpec = None, ignore_states: StateSpec = None,
                 timeout: float | datetime.timedelta = DEFAULT_TIMEOUT) -> None:
        super().__init__(only_states=only_states, ignore_states=ignore_states, timeout=timeout)
        self.webhook_url = check_http_url(webhook_url)
        self.overrides = {k: v for k, v in
                          (("channel", channel), ("username", username), ("icon_emoji", icon_emoji))
                          if v is not None}

    def describe(self) -> str:
        return f"{self.name!r} (SlackNotifier to {redact_url(self.webhook_url)})"

    def payload(self, event: NotificationEvent) -> dict[str, Any]:
        """:func:`slack_message` plus the overrides; override to change the message."""
        return {**slack_message(event), **self.overrides}

    def send(self, event: NotificationEvent) -> None:
        """POST the payload; raise on a connection error, a timeout or a non-2xx answer."""
        post_json(self.webhook_url, self.payload(event), timeout=self.timeout)


@hookimpl
def register_notifiers(register):
    """Register :class:`SlackNotifier` as ``"slack"``."""
    register("slack", SlackNotifier)
