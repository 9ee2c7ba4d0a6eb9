"""A deployment's ``parameter_schema``: made from a real flow's parameters
(:func:`ferroflow.client.deployments.parameter_schema`), stored and checked by the store,
and sent by ``ferroflow deploy`` and ``ferroflow deploy --all``, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime
import textwrap

import pytest

from ferroflow import Flow, Parameter
from ferroflow.cli import main
from ferroflow.client.deployments import MAX_SCHEMA_DEFAULT_BYTES, json_type, parameter_schema
from ferroflow.store import deployments as store

FLOW = textwrap.dedent("""
    import datetime
    from ferroflow import Flow, Parameter, task

    @task
    def show(**values):
        return values

    with Flow("typed") as flow:
        show(n=Parameter("n", default=3), rate=Parameter("rate", default=0.5), dry=Parameter("dry", default=True),
             label=Parameter("label", default="x"), items=Parameter("items", default=(1, 2)),
             opts=Parameter("opts", default={"a": 1}), target=Parameter("target"),
             when=Parameter("when", default=datetime.date(2026, 1, 2)), maybe=Parameter("maybe", default=None))
""")

EXPECTED = {
    "dry": {"default": True, "required": False, "type": "boolean"},
    "items": {"default": [1, 2], "required": False, "type": "array"},
    "label": {"default": "x", "required": False, "type": "string"},
    "maybe": {"default": None, "required": False, "type": "any"},
    "n": {"default": 3, "required": False, "type": "integer"},
    "opts": {"default": {"a": 1}, "required": False, "type": "object"},
    "rate": {"default": 0.5, "required": False, "type": "number"},
    "target": {"default": None, "required": True, "type": "any"},
    "when": {"default": None, "required": False, "type": "any"},  # (a date: JSON cannot hold it)
}


def _flow(*parameters: Parameter) -> Flow:
    flow = Flow("f")
    for p in parameters:
        flow.add_task(p)
    return flow


@pytest.mark.parametrize("value, kind", [(True, "boolean"), (False, "boolean"), (0, "integer"), (1.5, "number"),
                                         (float("nan"), "any"), ("", "string"), ([], "array"), ((1,), "array"),
                                         ({}, "object"), (None, "any"), (object(), "any")],
                         ids=["true", "false", "int", "float", "nan", "str", "list", "tuple", "dict", "none",
                              "object"])
def test_json_type_tests_bool_before_int(value, kind):
    assert json_type(value) == kind


def test_parameter_schema_of_a_flow():
    flow = _flow(Parameter("flag", default=False), Parameter("count", default=2), Parameter("need"),
                 Parameter("optional", required=False), Parameter("big", default="x" * (MAX_SCHEMA_DEFAULT_BYTES + 1)),
                 Parameter("day", default=datetime.date(2026, 1, 1)), Parameter("req", default=1, required=True))
    assert parameter_schema(flow) == {
        "big": {"default": None, "required": False, "type": "any"},
        "count": {"default": 2, "required": False, "type": "integer"},
        "day": {"default": None, "required": False, "type": "any"},
        "flag": {"default": False, "required": False, "type": "boolean"},
        "need": {"default": None, "required": True, "type": "any"},
        "optional": {"default": None, "required": False, "type": "any"},
        "req": {"default": 1, "required": True, "type": "integer"},
    }
    assert parameter_schema(Flow("empty")) == {}


def test_the_store_keeps_the_schema_and_a_redeploy_replaces_it(engine):
    flow = _flow(Parameter("n", default=1), Parameter("dry", default=True))
    made, created = store.deploy(engine, "d", "flows/x.py:flow", parameter_schema=parameter_schema(flow))
    assert created and made.parameter_schema == parameter_schema(flow)
    assert store.get_deployment(engine, "d").parameter_schema == {
        "dry": {"default": True, "required": False, "type": "boolean"},
        "n": {"default": 1, "required": False, "type": "integer"}}
    assert store.list_deployments(engine)[0].parameter_schema == made.parameter_schema
    again, created = store.deploy(engine, "d", "flows/x.py:flow")  # a recipe without one: none known
    assert not created and again.parameter_schema == {}
    assert store.deploy(engine, "plain", "flows/x.py:flow")[0].parameter_schema == {}


@pytest.mark.parametrize("schema, problem", [
    ([], "JSON object"),
    ({"n": 3}, "needs an object"),
    ({"": {}}, "needs an object"),
    ({"n": {"type": "int"}}, "type must be one of"),
    ({"n": {"required": "yes"}}, "required must be true or false"),
    ({"n": {"default": 1, "help": "?"}}, "unknown key"),
    ({"n": {"default": float("nan")}}, "JSON values only"),
    ({f"p{i}": {"default": "x" * 1000} for i in range(300)}, "longer than"),
], ids=["list", "not-object", "empty-name", "bad-type", "bad-required", "unknown-key", "nan", "too-long"])
def test_the_store_refuses_a_bad_schema(engine, schema, problem):
    with pytest.raises(store.DeploymentError, match=problem):
        store.deploy(engine, "d", "flows/x.py:flow", parameter_schema=schema)
    assert store.list_deployments(engine) == []


def test_ferroflow_deploy_and_deploy_all_send_the_schema(engine, database_url, tmp_path, monkeypatch, capsys):
    (tmp_path / "typed.py").write_text(FLOW)
    (tmp_path / "ferroflow.toml").write_text(textwrap.dedent("""
        [[deployments]]
        name = "from-file"
        entrypoint = "typed.py:flow"
        parameters = { n = 5 }
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    assert main(["deploy", "typed.py:flow", "--name", "one", "--database", database_url]) == 0, capsys.readouterr()
    assert main(["deploy", "--all", "--database", database_url]) == 0, capsys.readouterr()
    assert store.get_deployment(engine, "one").parameter_schema == EXPECTED
    from_file = store.get_deployment(engine, "from-file")
    assert from_file.parameter_schema == EXPECTED and from_file.parameters == {"n": 5}
