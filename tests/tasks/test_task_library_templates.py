"""``ferroflow.tasks.templates``: JinjaTemplate and StringFormatter render from their
keyword inputs over the context; a missing Jinja2 is an ImportError that says how to
install it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.tasks import JinjaTemplate, StringFormatter


@task
def seven():
    return 7


def test_jinja_renders_inputs_and_context():
    template = JinjaTemplate(template="{% for i in range(2) %}{{ n }} {{ who }} {{ flow_name }};{% endfor %}",
                             name="render", max_retries=1, retry_delay=0)
    with Flow("jinja") as flow:
        who = Parameter("who")
        out = template(n=seven, who=who)
    state = flow.run(who="me")
    assert state.is_successful()
    assert state.result[out].result == "7 me jinja;7 me jinja;"
    assert out.name == "render" and out.max_retries == 1


def test_jinja_inputs_win_over_the_context_and_template_input_replaces_the_default():
    with Flow("task name") as flow:
        default = JinjaTemplate(template="{{ task_name }}")()
        shadowed = JinjaTemplate(template="{{ task_name }}")(task_name="mine")
        replaced = JinjaTemplate(template="unused")(template="{{ x * 2 }}", x=21)
        empty = JinjaTemplate()()
    state = flow.run()
    results = {t: state.result[t].result for t in (default, shadowed, replaced, empty)}
    assert results == {default: "JinjaTemplate", shadowed: "mine", replaced: "42", empty: ""}


def test_jinja_undefined_names_render_empty_as_in_jinja():
    with Flow("undefined") as flow:
        out = JinjaTemplate(template="[{{ nothing }}]")()
    assert flow.run().result[out].result == "[]"


def test_string_formatter():
    with Flow("format") as flow:
        out = StringFormatter(template="{greeting}, {name}! ({flow_name})")(greeting="Hi", name=Parameter("name"))
        replaced = StringFormatter(template="unused")(template="{0}" "{x}", x=1)
    state = flow.run(name="Ada")
    assert state.result[out].result == "Hi, Ada! (format)"
    assert state.result[replaced].is_failed()  # "{0}" needs a positional argument: an IndexError
    assert "IndexError" in state.result[replaced].message


def test_a_missing_jinja2_is_an_import_error_saying_how_to_install_it():
    code = ("import sys\n"
            "sys.modules['jinja2'] = None  # as if not installed\n"
            "from ferroflow.tasks import JinjaTemplate, StringFormatter, ShellTask  # importing is fine\n"
            "StringFormatter(template='{x}')\n"
            "try:\n"
            "    JinjaTemplate(template='{{ x }}')\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("JinjaTemplate needs Jinja2, an optional dependency of ferroflow: "
                                   "pip install 'ferroflow[templates]' (or pip install jinja2)")


def test_reachable_from_a_bare_import_as_in_prefect():
    code = ("import ferroflow as prefect\n"
            "assert prefect.tasks.shell.ShellTask is prefect.tasks.ShellTask\n"
            "assert prefect.tasks.templates.JinjaTemplate is prefect.tasks.JinjaTemplate\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["ShellTask", "JinjaTemplate", "StringFormatter"])
def test_they_pickle_for_worker_processes(name):
    import cloudpickle

    import ferroflow.tasks as library

    original = getattr(library, name)(name=f"my {name}")
    copy = cloudpickle.loads(cloudpickle.dumps(original))
    assert type(copy) is type(original) and copy.name == f"my {name}"
