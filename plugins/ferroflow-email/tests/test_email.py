"""EmailNotifier against aiosmtpd servers on 127.0.0.1."""

from __future__ import annotations

import socket
import traceback

import pytest

from ferroflow import plugins
from ferroflow.notifications import NotificationEvent, as_state_handler, get_notifier
from ferroflow.states import Failed, Running, Success
from ferroflow_email import EmailNotifier

SENDER = "ferroflow@example.com"


def failed_event(**identity) -> NotificationEvent:
    try:
        raise ValueError("bad row 17")
    except ValueError as exc:
        state = Failed("Task run failed: ValueError", result=exc, traceback=traceback.format_exc())
    identity = {"flow_name": "etl", "flow_run_id": "run-1", "task_name": "load", "map_index": 3,
                **identity}
    return NotificationEvent.from_state(state, previous_state=Running(), **identity)


def notifier(port: int, **options) -> EmailNotifier:
    options.setdefault("timeout", 5)
    options.setdefault("local_hostname", "localhost")
    return EmailNotifier("127.0.0.1", port, SENDER, ["oncall@example.com", "data@example.com"], **options)


def test_sends_a_plain_text_message(smtp_server):
    mailbox, port = smtp_server()
    assert notifier(port).notify(failed_event()) is True

    [envelope] = mailbox.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["oncall@example.com", "data@example.com"]
    [message] = mailbox.messages()
    assert message["Subject"] == "[ferroflow] Task 'load[3]' of flow 'etl' is Failed"
    assert message["From"] == SENDER
    assert message["To"] == "oncall@example.com, data@example.com"
    assert message["Date"] and message["Message-ID"].endswith("@example.com>")
    assert message.get_content_type() == "text/plain"
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith("Task 'load[3]' of flow 'etl' is Failed\n")
    for line in ("Flow:      etl", "Flow run:  run-1", "Task:      load[3]",
                 "State:     Failed (was Running)", "Message:   Task run failed: ValueError"):
        assert line in body
    assert "Result:\n    ValueError('bad row 17')" in body
    assert "Traceback:\n    Traceback (most recent call last):" in body
    assert "    ValueError: bad row 17" in body


def test_flow_level_message_and_subject_prefix(smtp_server):
    mailbox, port = smtp_server()
    event = NotificationEvent.from_state(Success("All reference tasks succeeded."), flow_name="etl")
    assert notifier(port, subject_prefix="").notify(event) is True
    [message] = mailbox.messages()
    assert message["Subject"] == "Flow 'etl' is Success"
    body = message.get_content()
    assert "Task:" not in body and "Traceback:" not in body


def test_names_with_line_breaks_cannot_inject_headers(smtp_server):
    mailbox, port = smtp_server()
    event = failed_event(flow_name="etl\r\nBcc: victim@example.com")
    assert notifier(port).notify(event) is True
    [message] = mailbox.messages()
    assert message["Bcc"] is None
    assert mailbox.envelopes[0].rcpt_tos == ["oncall@example.com", "data@example.com"]


def test_through_a_state_handler_with_a_filter(smtp_server):
    mailbox, port = smtp_server()
    handler = as_state_handler(notifier(port, only_states=["Failed"]),
                               context=lambda: {"flow_name": "etl", "task_name": "load"})
    handler(None, Running(), Success(result=1))
    failed = Failed("boom")
    assert handler(None, Running(), failed) is failed
    assert [m["Subject"] for m in mailbox.messages()] == ["[ferroflow] Task 'load' of flow 'etl' is Failed"]


def test_auth_login(smtp_server):
    mailbox, port = smtp_server(auth=True, auth_require_tls=False)
    assert notifier(port, username=mailbox.username, password=mailbox.password).notify(failed_event()) is True
    assert mailbox.logins == [mailbox.username]
    assert len(mailbox.envelopes) == 1


def test_auth_refused_is_a_warning_without_the_password(smtp_server, warnings_log):
    mailbox, port = smtp_server(auth=True, auth_require_tls=False)
    wrong = notifier(port, username=mailbox.username, password="wrong-pw")
    assert wrong.notify(failed_event()) is False
    assert mailbox.envelopes == []
    [message] = warnings_log()
    assert "'email'" in message and "SMTPAuthenticationError" in message
    assert "wrong-pw" not in message and "wrong-pw" not in repr(wrong)


def test_starttls_with_auth(smtp_server, server_tls, self_signed_cert):
    cert, _ = self_signed_cert
    mailbox, port = smtp_server(tls_context=server_tls, require_starttls=True, auth=True,
                                auth_require_tls=True)
    sent = notifier(port, starttls=True, cafile=str(cert), username=mailbox.username, password=mailbox.password)
    assert sent.notify(failed_event()) is True
    assert mailbox.logins == [mailbox.username]
    assert len(mailbox.envelopes) == 1


def test_starttls_checks_the_certificate(smtp_server, server_tls, warnings_log):
    mailbox, port = smtp_server(tls_context=server_tls, require_starttls=True)
    assert notifier(port, starttls=True).notify(failed_event()) is False  # not trusted
    assert mailbox.envelopes == []
    assert "CERTIFICATE_VERIFY_FAILED" in warnings_log()[0]


def test_server_requiring_starttls_refuses_plain(smtp_server, server_tls, warnings_log):
    mailbox, port = smtp_server(tls_context=server_tls, require_starttls=True)
    assert notifier(port).notify(failed_event()) is False
    assert mailbox.envelopes == []
    assert "'email'" in warnings_log()[0]


def test_implicit_ssl(smtp_server, server_tls, self_signed_cert):
    cert, _ = self_signed_cert
    mailbox, port = smtp_server(ssl_context=server_tls)
    assert notifier(port, ssl=True, cafile=str(cert)).notify(failed_event()) is True
    assert len(mailbox.envelopes) == 1


def test_refused_recipient(smtp_server, warnings_log):
    mailbox, port = smtp_server()
    partly = EmailNotifier("127.0.0.1", port, SENDER, ["oncall@example.com", "nobody@example.com"],
                           timeout=5, local_hostname="localhost")
    assert partly.notify(failed_event()) is False
    assert mailbox.envelopes[0].rcpt_tos == ["oncall@example.com"]  # the others still get it
    assert "refused 1 of 2 recipients: nobody@example.com" in warnings_log()[0]


def test_server_down(refused_port, warnings_log):
    assert notifier(refused_port).notify(failed_event()) is False
    [message] = warnings_log()
    assert "'email' (EmailNotifier via 127.0.0.1:" in message and "refused" in message.lower()


def test_server_that_never_answers_times_out(warnings_log):
    # A listening socket that is never accepted: the TCP handshake completes, no banner comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        state = Failed("boom")
        handler = as_state_handler(notifier(port, timeout=0.3), context=dict)
        assert handler(None, Running(), state) is state
    [message] = warnings_log()
    assert "'email'" in message and "timed out" in message


@pytest.mark.parametrize("options, error", [
    ({"starttls": True, "ssl": True}, "not both"),
    ({"recipients": []}, "at least one recipient"),
    ({"recipients": "not-an-address"}, "is not an email address"),
    ({"sender": "x@y\r\nBcc: z@w"}, "is not an email address"),
    ({"password": "pw"}, "without a username"),
    ({"port": 0}, "TCP port"),
    ({"host": ""}, "SMTP host"),
])
def test_bad_options(options, error):
    arguments = {"host": "127.0.0.1", "port": 25, "sender": SENDER, "recipients": ["a@b.c"], **options}
    with pytest.raises(ValueError, match=error):
        EmailNotifier(**arguments)


def test_single_recipient_string():
    assert EmailNotifier("h", 25, SENDER, "a@b.c").recipients == ["a@b.c"]


def test_registered_through_its_entry_point(smtp_server):
    [record] = [r for r in plugins.list_plugins() if r.name == "email"]
    assert record.ok, record.error
    assert record.distribution == "ferroflow-email"
    assert record.registrations == {"notifiers": ["email"]}
    assert plugins.get_registry("notifiers")["email"].factory is EmailNotifier

    mailbox, port = smtp_server()
    built = get_notifier("email", host="127.0.0.1", port=port, sender=SENDER, recipients="a@b.c",
                         timeout=5, local_hostname="localhost")
    assert isinstance(built, EmailNotifier)
    assert built.notify(failed_event()) is True and mailbox.envelopes[0].rcpt_tos == ["a@b.c"]
