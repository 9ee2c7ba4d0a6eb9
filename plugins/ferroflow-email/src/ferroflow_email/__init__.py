"""ferroflow-email: email state changes over SMTP with the standard library.

Registered as the ``email`` notifier through the ``register_notifiers`` hook::

    from ferroflow_email import EmailNotifier

    notifier = EmailNotifier("smtp.example.com", 587, "ferroflow@example.com",
                             ["oncall@example.com"], username="ferroflow",
                             password="...", starttls=True, only_states=["Failed"])

Each notification is one plain-text message whose subject names the state, flow and
task (``[ferroflow] Task 'load[3]' of flow 'etl' is Failed``) and whose body lists the
event's fields, the result and the traceback.
"""

from __future__ import annotations

import datetime
import email.utils
import smtplib
import ssl as ssl_module
from collections.abc import Iterable
from email.message import EmailMessage

from ferroflow.notifications import (
    DEFAULT_TIMEOUT,
    NotificationError,
    NotificationEvent,
    Notifier,
    StateSpec,
)
from ferroflow.plugins import hookimpl

__all__ = ["EmailNotifier", "email_message", "register_notifiers"]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def email_message(event: NotificationEvent, sender: str, recipients: Iterable[str],
                  subject_prefix: str = "[ferroflow]") -> EmailMessage:
    """The plain-text message for ``event``.

    Subject: ``"<prefix> <event.summary()>"`` (line breaks in names are flattened, so
    nothing can inject a header). Body: the summary, then Flow, Flow run, Task, State
    (and previous state), Time and Message, then the result and traceback indented.
    """
    message = EmailMessage()
    subject = _one_line(f"{subject_prefix} {event.summary()}" if subject_prefix else event.summary())
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.format_datetime(event.timestamp)
    domain = sender.rpartition("@")[2] or "ferroflow.invalid"
    message["Message-ID"] = email.utils.make_msgid("ferroflow", domain=_one_line(domain) or None)

    state = event.state if event.previous_state is None else f"{event.state} (was {event.previous_state})"
    rows = [("Flow", event.flow_name), ("Flow run", event.flow_run_id)]
    if not event.is_flow_event:
        rows.append(("Task", event.task_full_name))
    rows += [("State", state), ("Time", event.timestamp.isoformat()), ("Message", event.message)]
    lines = [event.summary(), ""]
    lines += [f"{label + ':':<10} {value}" for label, value in rows if value is not None]
    if event.result is not None:
        lines += ["", "Result:", _indent(event.result)]
    if event.traceback:
        lines += ["", "Traceback:", _indent(event.traceback)]
    lines += ["", "-- ", "Sent by ferroflow"]
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailNotifier(Notifier):
    """Send a plain-text email per notification through an SMTP server.

    Args:
        host, port: The SMTP server (typically 25 plain, 587 with ``starttls``, 465 with
            ``ssl``).
        sender: The From address (also the envelope sender).
        recipients: One address or a list of them.
        username, password: Log in with AUTH when ``username`` is given. Use TLS
            (``starttls`` or ``ssl``) so the password is not sent in clear. The password
            is never logged nor shown in ``repr``.
        starttls: Upgrade the connection with STARTTLS after EHLO.
        ssl: Connect with implicit TLS (SMTPS). Exclusive with ``starttls``.
        ssl_context: The ``ssl.SSLContext`` for either; by default
            ``ssl.create_default_context(cafile=cafile)``, which checks the server's
            certificate and host name. An SSLContext does not pickle: a notifier
            given one cannot serve tasks that run in worker processes (use ``cafile``).
        cafile: A CA bundle to trust (a private CA, a self-signed server), when no
            ``ssl_context`` is given.
        subject_prefix: Put before each subject; ``""`` for none.
        local_hostname: The name sent with EHLO (default: the machine's FQDN).
        only_states, ignore_states, timeout: As for
            :class:`ferroflow.notifications.Notifier`; ``timeout`` is also the socket
            timeout of every SMTP command.

    A send fails (and ``notify`` logs a warning) when the server cannot be reached,
    refuses the login, the sender or any recipient.
    """

    name = "email"

    def __init__(self, host: str, port: int, sender: str, recipients: str | Iterable[str],
                 username: str | None = None, password: str | None = None,
                 starttls: bool = False, ssl: bool = False, *,
                 ssl_context: ssl_module.SSLContext | None = None, cafile: str | None = None,
                 subject_prefix: str = "[ferroflow]", local_hostname: str | None = None,
                 only_states: StateSpec = None, ignore_states: StateSpec = None,
                 timeout: float | datetime.timedelta = DEFAULT_TIMEOUT) -> None:
        super().__init__(only_states=only_states, ignore_states=ignore_states, timeout=timeout)
        if not isinstance(host, str) or not host.strip():
            raise ValueError(f"EmailNotifier needs an SMTP host name, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"EmailNotifier needs a TCP port (1-65535), got {port!r}")
        if starttls and ssl:
            raise ValueError("EmailNotifier: choose starttls=True (upgrade a plain connection) "
                             "or ssl=True (implicit TLS), not both")
        if isinstance(recipients, str):
            recipients = [recipients]
        recipients = [r.strip() for r in recipients if r and r.strip()]
        if not recipients:
            raise ValueError("EmailNotifier needs at least one recipient")
        for address in [sender, *recipients]:
            if not isinstance(address, str) or "@" not in address or any(c in address for c in "\r\n"):
                raise ValueError(f"EmailNotifier: {address!r} is not an email address")
        if password is not None and username is None:
            raise ValueError("EmailNotifier: a password was given without a username")
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = recipients
        self.username = username
        self._password = password
        self.starttls = bool(starttls)
        self.ssl = bool(ssl)
        self.ssl_context = ssl_context
        self.cafile = cafile
        self.subject_prefix = subject_prefix
        self.local_hostname = local_hostname

    def __getstate__(self) -> dict:
        """Pickle the notifier (it goes to worker processes with the tasks it serves).
        An ``ssl_context`` does not pickle: the error says what to give instead."""
        if self.ssl_context is not None:
            raise TypeError("an EmailNotifier with an ssl_context cannot be pickled (an SSLContext does not "
                            "pickle), so it cannot go to a worker process: give cafile= instead, or run its "
                            "tasks on the local or threads executor")
        return dict(self.__dict__)

    def describe(self) -> str:
        n = len(self.recipients)
        return f"{self.name!r} (EmailNotifier via {self.host}:{self.port} to {n} recipient{'s' if n != 1 else ''})"

    def message(self, event: NotificationEvent) -> EmailMessage:
        """The message sent for ``event`` (:func:`email_message`); override to change it."""
        return email_message(event, self.sender, self.recipients, self.subject_prefix)

    def _context(self) -> ssl_module.SSLContext:
        if self.ssl_context is not None:
            return self.ssl_context
        return ssl_module.create_default_context(cafile=self.cafile)

    def send(self, event: NotificationEvent) -> None:
        """Connect, optionally STARTTLS and log in, send the message, quit.

        Raises:
            OSError: the server cannot be reached, or the connection timed out.
            smtplib.SMTPException: the server refused the login, sender or every recipient.
            NotificationError: some recipients were refused (the others got the message).
        """
        message = self.message(event)
        if self.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.local_hostname,
                                                    timeout=self.timeout, context=self._context())
        else:
            client = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname,
                                  timeout=self.timeout)
        with client:
            if self.starttls:
                client.starttls(context=self._context())
            if self.username is not None:
                client.login(self.username, self._password or "")
            refused = client.send_message(message, from_addr=self.sender, to_addrs=self.recipients)
        if refused:
            raise NotificationError(f"the server refused {len(refused)} of {len(self.recipients)} "
                                    f"recipients: {', '.join(sorted(refused))}")


@hookimpl
def register_notifiers(register):
    """Register :class:`EmailNotifier` as ``"email"``."""
    register("email", EmailNotifier)
