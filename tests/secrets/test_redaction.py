"""ferroflow.redaction: secret values (and their escaped forms) scrubbed from texts,
records and streams; nothing done, at the cost of one check, while none is registered."""

from __future__ import annotations

import io
import json
import logging
import pickle
import sys

import pytest

from ferroflow import redaction
from ferroflow.redaction import MASK


def test_nothing_registered_returns_the_very_same_text():
    text = "an ordinary line " * 10
    assert not redaction.active() and redaction.registered() is None
    assert redaction.scrub(text) is text
    assert redaction.scrub(None) is None
    rows = [(1, -1, 0.5, 20, "x", text)]
    assert redaction.scrub_nested(rows) is rows
    assert not redaction.contains(text.encode())


def test_a_registered_value_is_masked_wherever_it_appears():
    redaction.register("hunter2-token")
    assert redaction.active() and redaction.registered() == ("hunter2-token",)
    assert redaction.scrub("token=hunter2-token; again hunter2-token.") == f"token={MASK}; again {MASK}."
    assert redaction.scrub("hunter2-toke") == "hunter2-toke"  # a part of it is not it


@pytest.mark.parametrize("value", ["pa'ss\"wörd\\n\n\x01", "plain-ascii-value", "it's-quoted"])
def test_its_escaped_forms_are_masked_once_and_twice(value):
    redaction.register(value)
    texts = [
        repr(value),                                      # a repr
        f"Error during execution of task: {ValueError(value)!r}",
        f"Error during execution of task: {ValueError(f'bad {value!r}')!r}",  # a repr in a repr
        json.dumps({"p": value}),                         # a JSON document
        json.dumps({"p": value}, ensure_ascii=False),
        json.dumps(repr(value)),                          # JSON of a repr
        repr([value, "x'y\"z"]),                          # a repr whose quotes the other string chose
    ]
    for text in texts:
        clean = redaction.scrub(text)
        assert MASK in clean, text
        assert value not in clean and repr(value)[1:-1] not in clean and json.dumps(value)[1:-1] not in clean


def test_longer_values_win_over_values_they_contain():
    redaction.register_all(["abcd", "abcdefgh"])
    assert redaction.scrub("abcdefgh abcd") == f"{MASK} {MASK}"


@pytest.mark.parametrize("value", ["", "abc", "****", "*" * 12])
def test_short_values_and_asterisks_are_refused(value):
    with pytest.raises(ValueError):
        redaction.register(value)
    assert not redaction.active()


def test_only_strings_are_registered():
    with pytest.raises(TypeError):
        redaction.register(b"bytes-value")  # type: ignore[arg-type]


def test_nested_records_are_scrubbed_whatever_their_shape():
    redaction.register("s3cr3t-value")
    indices = list(range(100))
    details = {(3, -1): ("failed: s3cr3t-value", None, 1, "Traceback...\nValueError: s3cr3t-value")}
    reports = [(3, None, 8), (4, indices, b"\x08\x08", {0: ("s3cr3t-value", None)})]
    clean = redaction.scrub_nested((details, reports, {"k": ["a s3cr3t-value", 7]}))
    assert clean[0] == {(3, -1): (f"failed: {MASK}", None, 1, f"Traceback...\nValueError: {MASK}")}
    assert clean[1][0] == (3, None, 8) and clean[1][1][1] is indices and clean[1][1][2] == b"\x08\x08"
    assert clean[1][1][3] == {0: (MASK, None)}
    assert clean[2] == {"k": [f"a {MASK}", 7]}
    assert redaction.scrub_nested([1, 2, "s3cr3t-value"]) == [1, 2, MASK]  # a list that starts with numbers


def test_contains_finds_a_value_in_a_pickle():
    redaction.register("zürich-password")
    assert redaction.contains(pickle.dumps({"nested": ["zürich-password"]}))
    assert not redaction.contains(pickle.dumps({"nested": ["other"]}))


def test_clear_forgets_every_value():
    redaction.register("s3cr3t-value")
    redaction.clear()
    assert redaction.scrub("s3cr3t-value") == "s3cr3t-value"


def _record(msg, *args, exc_info=None, **extra):
    record = logging.LogRecord("ferroflow.task.x", logging.ERROR, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_the_filter_scrubs_message_arguments_exception_and_extra():
    redaction.register("s3cr3t-value")
    try:
        raise ValueError("raised with s3cr3t-value")
    except ValueError:
        exc_info = sys.exc_info()
    record = _record("login with %s (%r)", "s3cr3t-value", "s3cr3t-value", exc_info=exc_info,
                     task_run_name="run-s3cr3t-value")
    assert redaction.FILTER.filter(record) is True
    text = logging.Formatter("%(message)s %(task_run_name)s").format(record)
    assert "s3cr3t" not in text
    assert text.count(MASK) == 5  # message (2), extra, the source line and the message of the traceback


def test_the_filter_leaves_a_record_without_secrets_lazy():
    redaction.register("s3cr3t-value")
    record = _record("n=%d", 5)
    redaction.FILTER.filter(record)
    assert record.msg == "n=%d" and record.args == (5,)


def test_a_handler_with_the_filter_shows_masks():
    redaction.register("s3cr3t-value")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redaction.FILTER)
    logger = logging.getLogger("tests.secrets.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("the secret is %s", "s3cr3t-value")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f"the secret is {MASK}\n"


def test_scrubbed_output_wraps_stdout_and_stderr_and_puts_them_back(capsys):
    redaction.register("s3cr3t-value")
    before = sys.stdout, sys.stderr
    with redaction.scrubbed_output():
        assert isinstance(sys.stdout, redaction.ScrubbingStream)
        print("out: s3cr3t-value")
        print("err: s3cr3t-value", file=sys.stderr)
        sys.stdout.writelines(["a s3cr3t-value\n"])
        assert sys.stdout.encoding == before[0].encoding  # the rest is the stream's own
    assert (sys.stdout, sys.stderr) == before
    out, err = capsys.readouterr()
    assert out == f"out: {MASK}\na {MASK}\n" and err == f"err: {MASK}\n"


def test_a_notification_event_is_scrubbed_however_it_is_made():
    from ferroflow.notifications import NotificationEvent
    from ferroflow.states import Failed

    redaction.register("s3cr3t-value")
    made = NotificationEvent(state="Failed", message="failed with s3cr3t-value", traceback="...s3cr3t-value")
    assert made.message == f"failed with {MASK}" and made.traceback == f"...{MASK}"
    # Texts cut where the value is: the start of a message, the end of a traceback, the
    # middle of a long repr (reprlib keeps its first 498 and last 499 characters).
    redaction.register("QZXW-s3cr3t-PLMK")
    error = ValueError("x" * 1000 + "QZXW-s3cr3t-PLMK" + "y" * 493)
    event = NotificationEvent.from_state(Failed("QZXW-s3cr3t-PLMK" * 200, error,
                                                traceback="QZXW-s3cr3t-PLMK" + "y" * 4000))
    for text in (event.message, event.result, event.traceback):
        assert "QZXW" not in text and "PLMK" not in text and "s3cr3t" not in text
    event = NotificationEvent.from_state(Failed("m", ["z" * 490 + "QZXW-s3cr3t-PLMK" + "z" * 2000]))
    assert "QZXW" not in event.result and "PLMK" not in event.result  # a string in a container, cut too


def test_records_a_worker_sends_back_are_scrubbed_here():
    """The flow process scrubs a worker's records with what it knows, whatever the
    worker knew."""
    from ferroflow.executors.shipping import replay_records

    redaction.register("s3cr3t-value")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.secrets.replayed")
    logger.addHandler(handler)
    record = logging.LogRecord(logger.name, logging.WARNING, __file__, 1, "from a worker: s3cr3t-value", None, None)
    try:
        replay_records(None, [(None, record.__dict__)])
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f"from a worker: {MASK}\n"
