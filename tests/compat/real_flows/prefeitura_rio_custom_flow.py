# Source: prefeitura-rio/pipelines (Rio de Janeiro's data office), pipelines/utils/
#   custom.py (CustomFlow), utils/decorators.py (`Flow = CustomFlow`), utils/tasks.py
#   (log_task, get_current_flow_mode), utils/utils.py (log, set_default_parameters,
#   run_local) and utils/dump_url/flows.py (the flow's shape).
# Idioms: a Flow subclass whose __init__ takes Flow's keywords explicitly (name,
#   schedule, executor, tasks, edges, reference_tasks, state_handlers, validate,
#   result, terminal_state_handler) plus its own (code_owners, skip_if_running) and
#   calls super().__init__ by keyword; a state handler appended when skip_if_running;
#   `@prefect.task(checkpoint=False)`; `prefect.context.logger.log(level, msg)`; a
#   `wait=None` argument used only for ordering; Parameters with required=False;
#   nested `with case(...)` blocks; `task.max_retries = ...` and `task.retry_delay =
#   ...` set on a task copy after the call; set_default_parameters looping over
#   flow.parameters() and assigning `parameter.default`; run_local setting
#   flow.schedule = None then flow.run(parameters=...).
# Made offline: the Prefect Server calls (create_flow_run, wait_for_flow_run, flow run
#   renaming, storage, run configs) are local tasks; the waiting task fails once and is
#   retried because of the retries set on its copy.
import logging
from datetime import timedelta
from typing import Any, Callable, Iterable, List, Optional

import prefect
from prefect import case, Parameter, task
from prefect.core.flow import Flow
from prefect.core.task import Task
from prefect.core.edge import Edge

OBSERVED = []


def skip_if_running_handler(obj, old_state, new_state):
    OBSERVED.append(["skip_if_running_handler", type(old_state).__name__, type(new_state).__name__])
    return new_state


class CustomFlow(Flow):
    def __init__(  # pylint: disable=too-many-arguments, too-many-locals
        self,
        name: str,
        schedule=None,
        executor=None,
        tasks: Iterable[Task] = None,
        edges: Iterable[Edge] = None,
        reference_tasks: Iterable[Task] = None,
        state_handlers: List[Callable] = None,
        validate: bool = None,
        result=None,
        terminal_state_handler=None,
        code_owners: Optional[List[str]] = None,
        skip_if_running: bool = False,
    ):
        if skip_if_running:
            if state_handlers is None:
                state_handlers = []
            state_handlers.append(skip_if_running_handler)
        self.code_owners = code_owners
        super().__init__(
            name=name,
            schedule=schedule,
            executor=executor,
            tasks=tasks,
            edges=edges,
            reference_tasks=reference_tasks,
            state_handlers=state_handlers,
            validate=validate,
            result=result,
            terminal_state_handler=terminal_state_handler,
        )


def log(msg: Any, level: str = "info") -> None:
    levels = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
    blank_spaces = 8 * " "
    msg = blank_spaces + "----\n" + str(msg)
    msg = "\n".join([blank_spaces + line for line in msg.split("\n")]) + "\n\n"
    if level not in levels:
        raise ValueError(f"Invalid log level: {level}")
    prefect.context.logger.log(levels[level], msg)  # pylint: disable=E1101
    OBSERVED.append(["log", level, msg.strip()])


@prefect.task(checkpoint=False)
def log_task(msg: Any, level: str = "info", wait=None):
    log(msg, level)


@task
def get_current_flow_labels():
    return ["emd-dev"]


@task
def get_current_flow_mode(labels):
    if labels[0].endswith("-dev"):
        return "dev"
    if labels[0].endswith("-staging"):
        return "staging"
    return "prod"


@task
def download_url(url, fname, wait=None):
    return f"{url} -> {fname}"


@task
def create_flow_run(flow_name, parameters, labels):
    return f"run of {flow_name} for {parameters['dataset_id']}.{parameters['table_id']}"


WAITS = []


@task
def wait_for_flow_run(flow_run_id, raise_final_state=True):
    WAITS.append(flow_run_id)
    if len(WAITS) == 1:
        raise RuntimeError("flow run still running")
    return f"{flow_run_id}: Success"


def set_default_parameters(flow, default_parameters: dict):
    for parameter in flow.parameters():
        if parameter.name in default_parameters:
            parameter.default = default_parameters[parameter.name]
    return flow


def run_local(flow, parameters=None):
    flow.schedule = None
    if parameters:
        return flow.run(parameters=parameters)
    return flow.run()


def build():
    with CustomFlow(
        name="EMD: template - Ingerir tabela de URL",
        code_owners=["diego", "gabriel"],
        skip_if_running=True,
    ) as dump_url_flow:
        url = Parameter("url")
        dataset_id = Parameter("dataset_id")
        table_id = Parameter("table_id")
        materialize_after_dump = Parameter("materialize_after_dump", default=False, required=False)
        dump_to_gcs = Parameter("dump_to_gcs", default=False, required=False)

        current_flow_labels = get_current_flow_labels()
        mode = get_current_flow_mode(current_flow_labels)
        downloaded = download_url(url=url, fname="/tmp/dump_url/data.csv",
                                  wait=current_flow_labels)
        logged = log_task(msg=downloaded, wait=mode)

        with case(materialize_after_dump, True):
            materialization_flow = create_flow_run(
                flow_name="EMD: template - Executa DBT model",
                parameters={"dataset_id": dataset_id, "table_id": table_id},
                labels=current_flow_labels,
            )
            materialization_flow.set_upstream(logged)
            wait_for_materialization = wait_for_flow_run(materialization_flow,
                                                         raise_final_state=True)
            wait_for_materialization.max_retries = 2
            wait_for_materialization.retry_delay = timedelta(seconds=0)

            with case(dump_to_gcs, True):
                dump_to_gcs_flow = create_flow_run(
                    flow_name="EMD: template - Ingerir tabela zipada para GCS",
                    parameters={"dataset_id": dataset_id, "table_id": table_id},
                    labels=["datario"],
                )
                dump_to_gcs_flow.set_upstream(wait_for_materialization)

    set_default_parameters(dump_url_flow, {"materialize_after_dump": True, "dump_to_gcs": False})
    params = {"url": "https://example.org/data.csv", "dataset_id": "br_rj", "table_id": "escolas"}
    return dump_url_flow, lambda flow: run_local(flow, params)
