"""ferroflow.errors.one_line: the one-line text of an exception that ferroflow's
messages embed, one function for the plugins, the results, notifications and the CLI."""

import pytest

from ferroflow.cli.progress import first_error_line
from ferroflow.errors import one_line
from ferroflow.results.errors import SerializationError
from ferroflow.results.serializers import get_serializer
from ferroflow.states import Failed


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("this exception cannot be printed")


@pytest.mark.parametrize("exc, text", [
    (ValueError("bad row 3\nmore detail"), "ValueError: bad row 3"),
    (ValueError("  padded  "), "ValueError: padded"),
    (KeyError("missing"), "KeyError: 'missing'"),
    (RuntimeError(), "RuntimeError"),
    (RuntimeError("\n  \n"), "RuntimeError"),
    (Unprintable("x"), "Unprintable"),
])
def test_one_line(exc, text):
    assert one_line(exc) == text
    assert first_error_line(Failed("msg", exc)) == text  # the CLI's summary says the same


class ComesBackBroken:
    def __init__(self):
        self.part = 1

    def __setstate__(self, state):
        raise Unprintable()


def test_a_value_that_cannot_be_read_back_with_an_unprintable_error_is_named():
    serializer = get_serializer("cloudpickle")
    data = serializer.dumps(ComesBackBroken())
    with pytest.raises(SerializationError, match="Unprintable"):
        serializer.loads(data)
