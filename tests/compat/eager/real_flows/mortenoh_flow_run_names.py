# Source: mortenoh/prefect-examples, flows/027_flow_run_names.py (Prefect 3).
# Idioms: `@flow(flow_run_name="report-{env}-{date_str}")` on a subflow called with
#   positional arguments; `flow_run_name=callable` reading
#   `prefect.runtime.flow_run.parameters`; subflows of a log_prints parent. The
#   original callable used the wall clock: it names the run from its parameters here.
#   Made observable: each flow records `flow_run.name` and `flow_run.flow_name`.
from prefect import flow, task
from prefect.runtime import flow_run

OBSERVED = []


def generate_flow_name() -> str:
    params = flow_run.parameters
    if params:
        return f"dynamic-{'-'.join(f'{k}={v}' for k, v in sorted(params.items()))}"
    return "dynamic-no-params"


@task
def generate_report(env: str, date_str: str) -> str:
    msg = f"Report generated for {env} on {date_str}"
    print(msg)
    return msg


@flow(name="027_template_named", flow_run_name="report-{env}-{date_str}", log_prints=True)
def template_named_flow(env: str = "staging", date_str: str = "2025-01-15") -> str:
    OBSERVED.append([flow_run.flow_name, flow_run.name])
    return generate_report(env, date_str)


@flow(name="027_callable_named", flow_run_name=generate_flow_name, log_prints=True)
def callable_named_flow(region: str = "eu") -> str:
    OBSERVED.append([flow_run.flow_name, flow_run.name])
    msg = "callable_named_flow completed"
    print(msg)
    return msg


@flow(name="027_flow_run_names", log_prints=True)
def flow_run_names_flow() -> list:
    return [template_named_flow("prod", "2025-06-01"), template_named_flow(),
            callable_named_flow()]


def main():
    return flow_run_names_flow(return_state=True)
