"""ferroflow.cli.formatting: the one table renderer and duration format of the CLI."""

from ferroflow.cli.formatting import format_duration, format_table, shorten


def test_format_table_aligns_left_or_right_and_drops_trailing_spaces():
    rows = [["task", "total", "done", "Failed"], ["extract", "1", "1", ""], ["transform", "1,000", "96", "4"]]
    assert format_table(rows) == ["task       total  done  Failed",
                                  "extract    1      1",
                                  "transform  1,000  96    4"]
    assert format_table(rows, right_from=1) == ["task       total  done  Failed",
                                                "extract        1     1",
                                                "transform  1,000    96       4"]
    assert format_table([["name"], ["a" * 12]], max_first=8) == ["name", "aaaaa..."]
    assert format_table([]) == []


def test_shorten():
    assert shorten("abcdef", 6) == "abcdef"
    assert shorten("abcdefg", 6) == "abc..."


def test_a_duration_is_never_negative():
    assert format_duration(-0.2) == "0.00s"
