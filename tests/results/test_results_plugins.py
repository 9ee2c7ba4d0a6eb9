"""Result stores and serializers are plugins: the built-ins register through the same
hooks as third-party ones, and a plugin's store or serializer works with ``Result``."""

from __future__ import annotations

import pytest
from results_helpers import run_python

from ferroflow import plugins
from ferroflow.errors import PluginError
from ferroflow.plugins import hookimpl, registered_plugin
from ferroflow.results import (
    CloudpickleSerializer,
    FsspecResultStore,
    JSONSerializer,
    MemoryResultStore,
    Result,
    ResultStore,
    SerializationError,
    Serializer,
    get_result_store,
    get_serializer,
)


@pytest.fixture(autouse=True)
def fresh_plugin_manager():
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


def test_builtin_result_stores_and_serializers_are_registered():
    stores = plugins.get_registry("result_stores")
    serializers = plugins.get_registry("serializers")
    assert {"memory", "fsspec"} <= set(stores)
    assert {"cloudpickle", "json"} <= set(serializers)
    assert stores["memory"].plugin == "ferroflow.results.stores"
    assert stores["memory"].factory is MemoryResultStore
    assert serializers["json"].plugin == "ferroflow.results.serializers"
    assert serializers["cloudpickle"].factory is CloudpickleSerializer


def test_builtins_are_listed_as_builtin_plugins():
    records = {r.name: r for r in plugins.list_plugins()}
    stores = records["ferroflow.results.stores"]
    assert stores.source == "built-in" and stores.ok
    assert stores.registrations == {"result_stores": ["memory", "fsspec"]}
    assert records["ferroflow.results.serializers"].registrations == {
        "serializers": ["cloudpickle", "json"]}
    assert "ferroflow.results.stores" in plugins.BUILTIN_PLUGINS


def test_get_result_store(tmp_path):
    assert isinstance(get_result_store(), MemoryResultStore)
    assert isinstance(get_result_store("memory"), MemoryResultStore)
    store = get_result_store("fsspec", base_url=str(tmp_path))
    assert isinstance(store, FsspecResultStore) and store.base_url == f"file://{tmp_path}"
    for url in (f"file://{tmp_path}", str(tmp_path)):
        assert isinstance(get_result_store(url), FsspecResultStore)
    with pytest.raises(PluginError, match="Available result stores: fsspec, memory"):
        get_result_store("nosuch")
    with pytest.raises(ValueError, match="give only one"):
        get_result_store(str(tmp_path), base_url="/elsewhere")
    with pytest.raises(TypeError, match="has no write"):
        get_result_store(object())


def test_registering_the_fsspec_store_does_not_import_fsspec():
    proc = run_python(
        "import sys\n"
        "from ferroflow import plugins\n"
        "import ferroflow.results\n"
        "assert set(plugins.get_registry('result_stores')) >= {'memory', 'fsspec'}\n"
        "ferroflow.results.Result().write_value(1, flow_name='f', flow_run_id='r', "
        "task_slug='t', map_index=None)\n"
        "print('fsspec' in sys.modules)\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


class UpperStore(ResultStore):
    """A third-party store: keeps records in a dict, keys upper-cased."""

    name = "upper"

    def __init__(self, prefix="X"):
        self.prefix = prefix
        self.data = {}

    def write(self, location, data):
        self.data[(self.prefix + location).upper()] = bytes(data)

    def read(self, location):
        return self.data[(self.prefix + location).upper()]

    def exists(self, location):
        return (self.prefix + location).upper() in self.data


class ReprSerializer(Serializer):
    """A third-party serializer: repr() and eval(), refusing sets."""

    name = "repr"

    def dumps(self, value):
        if isinstance(value, set):
            raise TypeError("no sets, please")
        return repr(value).encode()

    def loads(self, data):
        return eval(data.decode())  # test only


class ThirdParty:
    @hookimpl
    def register_result_stores(self, register):
        register("upper", UpperStore)

    @hookimpl
    def register_serializers(self, register):
        register("repr", ReprSerializer)


def test_a_plugin_store_and_serializer_work_with_result():
    with registered_plugin(ThirdParty(), name="thirdparty"):
        assert plugins.get_registry("result_stores")["upper"].plugin == "thirdparty"
        r = Result("upper", serializer="repr", location="{task_name}/{map_index}",
                   store_options={"prefix": "p-"})
        assert r.store.prefix == "p-"
        location = r.write_value({"a": (1, 2)}, task_name="t", map_index=0)
        assert r.store.data == {"P-T/0": b"{'a': (1, 2)}"}
        assert r.read_value(location) == {"a": (1, 2)}
        assert r.exists(task_name="t", map_index=0)
        with pytest.raises(SerializationError) as info:
            r.write_value({1}, task_name="t", map_index=1)
        assert "serializer 'repr'" in str(info.value) and "no sets, please" in str(info.value)
        out = r.write_many([1, {2}, 3], [{"map_index": i} for i in range(3)], task_name="m")
        assert out[0] == "m/0" and isinstance(out[1], SerializationError) and out[2] == "m/2"
        assert r.read_many(["m/0", "m/2"]) == [1, 3]
    with pytest.raises(PluginError, match="Unknown result store 'upper'"):
        Result("upper")


def test_a_plugin_cannot_take_a_builtin_name():
    class Squatter:
        @hookimpl
        def register_serializers(self, register):
            register("json", CloudpickleSerializer)

    with registered_plugin(Squatter(), name="squatter"):
        assert plugins.get_registry("serializers")["json"].factory is JSONSerializer
        assert isinstance(get_serializer("json"), JSONSerializer)
