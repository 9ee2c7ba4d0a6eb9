# Source: mortenoh/prefect-examples, flows/056_runtime_context.py (Prefect 3).
# Idioms: `from prefect.runtime import flow_run, task_run` read inside tasks:
#   `task_run.name`, `task_run.id`, `flow_run.name`, `flow_run.id`,
#   `flow_run.flow_name`, `flow_run.parameters` (defaults included);
#   `name or "unknown"` fallbacks. Ids and the generated flow run name differ per run,
#   so what is compared is whether they are set.
from prefect import flow, task
from prefect.runtime import flow_run, task_run


@task
def get_task_info() -> dict:
    info = {
        "task_run_name_starts": (task_run.name or "unknown").split("-")[0],
        "task_run_id_set": bool(task_run.id),
    }
    print(f"Task info: {info}")
    return info


@task
def get_flow_info() -> dict:
    info = {
        "flow_run_name_set": bool(flow_run.name),
        "flow_run_id_set": bool(flow_run.id),
        "flow_name": flow_run.flow_name or "unknown",
    }
    print(f"Flow info: {info}")
    return info


@task
def get_parameters() -> dict:
    params = flow_run.parameters or {}
    print(f"Flow parameters: {params}")
    return dict(params)


@flow(name="056_runtime_context", log_prints=True)
def runtime_context_flow(env: str = "dev", batch_size: int = 100) -> list:
    flow_info = get_flow_info()
    task_info = get_task_info()
    params = get_parameters()
    print(f"Flow: {flow_info['flow_name']}, env={env}, batch_size={batch_size}")
    print(f"Parameters from context: {params}")
    return [flow_info, task_info, params]


def main():
    return [runtime_context_flow(), runtime_context_flow(env="prod", batch_size="5"),
            {"outside": [flow_run.name, task_run.name, flow_run.parameters]}]
