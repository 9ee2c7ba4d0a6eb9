"""The one rule by which executors read resource tags (ferroflow.executors.resources),
used by ferroflow-dask and ferroflow-ray."""

import pytest

from ferroflow.errors import ExecutorError
from ferroflow.executors.resources import ResourceTags, parse_amount


@pytest.mark.parametrize("text, amount", [("1", 1), ("0", 0), ("0.5", 0.5), ("2.5e9", 2_500_000_000), (" 3 ", 3)])
def test_amounts_are_numbers_from_0_up(text, amount):
    value = parse_amount(text, f"x-resource:R={text}", "t", "X resource", "x-resource:R=1")
    assert value == amount and type(value) is type(amount)


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "-inf", "two", ""])
def test_anything_else_is_refused_naming_the_task_and_the_tag(text):
    with pytest.raises(ExecutorError, match=f"Task 't' has the tag 'x-num:{text}': '{text.strip()}' is not an amount "
                                            r"of a X resource \(a number >= 0, as in 'x-num:1'\)"):
        ResourceTags([f"x-num:{text}"], "t", "X").amount("x-num:", "CPU")


def test_0_asks_for_none():
    tags = ResourceTags(["x-res:GPU=0", "x-res:db=2", "x-num:0", "other", 7], "t", "X")
    assert tags.named("x-res:", "X resource", "x-res:GPU=1") == {"db": 2}  # no restriction for GPU
    assert tags.amount("x-num:", "CPU") == 0  # kept: none of it, instead of a default
    assert ResourceTags(["x-res:GPU=0"], "t", "X").named("x-res:", "X resource", "x-res:GPU=1") == {}
    assert ResourceTags(["other"], "t", "X").amount("x-num:", "CPU") is None


def test_two_amounts_of_one_resource():
    tags = ResourceTags(["x-res:GPU=1", "x-res: GPU =1.0", "x-num:2", "x-num:2.0"], "t", "X")
    assert tags.named("x-res:", "X resource", "x-res:GPU=1") == {"GPU": 1}
    assert tags.amount("x-num:", "CPU") == 2
    with pytest.raises(ExecutorError, match="Task 't' has the tags 'x-res:GPU=0' and 'x-res:GPU=1', which ask X for "
                                            "different amounts of resource 'GPU'"):
        ResourceTags(["x-res:GPU=1", "x-res:GPU=0"], "t", "X").named("x-res:", "X resource", "x-res:GPU=1")


@pytest.mark.parametrize("tag", ["x-res:GPU", "x-res:=1", "x-res: =1"])
def test_a_named_tag_needs_a_name_and_an_amount(tag):
    with pytest.raises(ExecutorError, match=f"Task 't' has the tag '{tag}', which is not a X resource tag: write a X "
                                            r"resource as 'x-res:NAME=AMOUNT' \(as in 'x-res:GPU=1'\)"):
        ResourceTags([tag], "t", "X").named("x-res:", "X resource", "x-res:GPU=1")
