"""EmailNotifier against aiosmtpd servers on 127.0.0.1, alone and in flow runs."""

from __future__ import annotations

import pickle
import socket
import ssl
import time
import traceback

import cloudpickle
import pytest

from ferroflow import Flow, plugins, task
from ferroflow.executors import ProcessesExecutor
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


# --------------------------------------------------------------------------- in flow runs


@task
def check(x):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


@task
def slow_failure(x):
    """Fails after a moment's work, so that an abandoned send has ended before the next
    failure notifies."""
    time.sleep(0.05)
    raise ValueError(f"bad item {x}")


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_pickles_with_its_handler_and_the_copy_logs_in_and_sends(dumps, smtp_server, server_tls, self_signed_cert):
    cert, _ = self_signed_cert
    mailbox, port = smtp_server(tls_context=server_tls, require_starttls=True, auth=True, auth_require_tls=True)
    original = notifier(port, starttls=True, cafile=str(cert), username=mailbox.username,
                        password=mailbox.password, only_states=["Failed"])
    copy = pickle.loads(dumps(as_state_handler(original)))
    state = Failed("boom")
    assert copy(check, Running(), state) is state
    assert mailbox.logins == [mailbox.username]
    assert [m["Subject"] for m in mailbox.messages()] == ["[ferroflow] Task 'check' of flow (unnamed) is Failed"]


def test_sends_from_worker_processes(smtp_server):
    mailbox, port = smtp_server()
    with Flow("email-in-workers") as flow:
        checked = check.copy(state_handlers=[as_state_handler(notifier(port, only_states=[Failed]))]).map([0, 1, 2, 3])

    state = flow.run(executor=ProcessesExecutor(max_workers=2), record=False)
    children = state.result[checked].map_states
    assert [type(s).__name__ for s in children] == ["Success", "Failed", "Success", "Failed"]
    assert sorted(m["Subject"] for m in mailbox.messages()) == [
        "[ferroflow] Task 'check[1]' of flow 'email-in-workers' is Failed",
        "[ferroflow] Task 'check[3]' of flow 'email-in-workers' is Failed"]


def test_a_silent_server_costs_one_connection(silent_server, warnings_log):
    server = silent_server()
    silent = notifier(server.port, username="ferroflow", password="s3cret-pw", only_states=[Failed], timeout=0.5)
    with Flow("silent") as flow:
        failed = slow_failure.copy(state_handlers=[as_state_handler(silent)]).map(list(range(10)))

    state = flow.run(record=False)
    assert all(s.is_failed() and "bad item" in s.message for s in state.result[failed].map_states)
    assert server.connections == 1
    [message] = warnings_log()
    assert "'email' (EmailNotifier via 127.0.0.1:" in message and "its notifications are skipped" in message
    assert "s3cret-pw" not in message


def test_an_ssl_context_does_not_pickle_and_the_error_says_so_without_the_password(capfd, warnings_log):
    context = ssl.create_default_context()
    with_context = notifier(25, starttls=True, ssl_context=context, username="ferroflow", password="s3cret-pw",
                            only_states=[Failed])
    for dumps in (pickle.dumps, cloudpickle.dumps):
        with pytest.raises(TypeError, match="ssl_context cannot be pickled.*give cafile= instead") as caught:
            dumps(with_context)
        assert "s3cret-pw" not in str(caught.value)

    with Flow("tls-context") as flow:
        checked = check.copy(state_handlers=[as_state_handler(with_context)]).map([1, 2])
    state = flow.run(executor=ProcessesExecutor(max_workers=1), record=False)
    children = state.result[checked].map_states
    assert all(s.is_failed() and "ssl_context cannot be pickled" in s.message for s in children)
    texts = [s.message for s in children] + [str(s.result) for s in children] + [s.traceback or "" for s in children]
    texts += warnings_log() + list(capfd.readouterr())
    assert not any("s3cret-pw" in text for text in texts)
