# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/testing-flows.md.
# Idioms: the imperative API with keyword arguments (flow.add_edge(upstream_task=e,
#   downstream_task=t, key="x")); assertions on the flow's structure: `e in
#   flow.tasks`, `len(flow.tasks)`, `flow.root_tasks() == set([e])`,
#   `flow.terminal_tasks() == set([l])`, `len(flow.edges)`, `Edge(upstream_task=e,
#   downstream_task=t, key="x") in flow.edges` with `from prefect.core.edge import
#   Edge`; `state.result[e].is_successful()` and the results after the run.
from prefect import Task, Flow
from prefect.core.edge import Edge


class Extract(Task):
    def run(self):
        return 10


class Transform(Task):
    def run(self, x):
        return x + 10


class Load(Task):
    def run(self, x):
        print(x)


REFS = {}


def build():
    flow = Flow("testing-example")

    e = Extract()
    t = Transform()
    l = Load()

    flow.add_edge(upstream_task=e, downstream_task=t, key="x")
    flow.add_edge(upstream_task=t, downstream_task=l, key="x")
    REFS.update(e=e, t=t, l=l)
    return flow, {}


def after(flow, state):
    e, t, l = REFS["e"], REFS["t"], REFS["l"]
    return {
        "structure": [
            e in flow.tasks, t in flow.tasks, l in flow.tasks, len(flow.tasks) == 3,
            flow.root_tasks() == set([e]), flow.terminal_tasks() == set([l]),
            len(flow.edges) == 2,
            Edge(upstream_task=e, downstream_task=t, key="x") in flow.edges,
            Edge(upstream_task=t, downstream_task=l, key="x") in flow.edges,
        ],
        "successful": [state.is_successful(), state.result[e].is_successful(),
                       state.result[t].is_successful(), state.result[l].is_successful()],
        "results": [state.result[e].result, state.result[t].result, state.result[l].result],
    }
