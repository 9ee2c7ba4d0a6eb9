# Source: cityofaustin/atd-prefect, flows/knack/knack_services.py ("ATD Knack
#   Services").
# Idioms: `logger = prefect.context.get("logger")` at module level, outside any run,
#   then used inside tasks; Parameter(name, default=list, required=True); three tasks
#   mapped over Parameters (`records_to_postgrest.map(app_name, container)`); a task
#   called for its side effect with no arguments; timeout=timedelta(minutes=60),
#   max_retries=1, retry_delay and log_stdout=True on every task; a bare `return`;
#   flow.run(parameters={...}) with the same lists as the defaults.
# Made offline: the docker calls are string formatting; retry_delay is zero.
from datetime import timedelta

import prefect
from prefect import Flow, task, Parameter

CONFIG = [
    {"apps": "signs-markings", "containers": "view_3628", "layer": "markings_contractor_work_orders"},
    {"apps": "data-tracker", "containers": "view_1201", "layer": "signals"},
]

app_names = [i["apps"] for i in CONFIG]
containers = [i["containers"] for i in CONFIG]
layer_names = [i["layer"] for i in CONFIG]

logger = prefect.context.get("logger")
docker_env = "test"
docker_image = f"atddocker/atd-knack-services:{docker_env}"


@task(name="pull_docker_image", max_retries=1, timeout=timedelta(minutes=60),
      retry_delay=timedelta(seconds=0), log_stdout=True)
def pull_docker_image():
    logger.info(docker_env)
    return


@task(name="records_to_postgrest", max_retries=1, timeout=timedelta(minutes=60),
      retry_delay=timedelta(seconds=0), log_stdout=True)
def records_to_postgrest(app_name, container):
    response = f"{docker_image}: records_to_postgrest.py -a {app_name} -c {container}"
    logger.info(response)
    return response


@task(name="records_to_agol", max_retries=1, timeout=timedelta(minutes=60),
      retry_delay=timedelta(seconds=0), log_stdout=True)
def records_to_agol(app_name, container):
    response = f"{docker_image}: records_to_agol.py -a {app_name} -c {container}"
    logger.info(response)
    return response


@task(name="agol_build_markings_segment_geometries", max_retries=1,
      timeout=timedelta(minutes=60), retry_delay=timedelta(seconds=0), log_stdout=True)
def agol_build_markings_segment_geometries(layer):
    response = f"{docker_image}: agol_build_markings_segment_geometries.py -l {layer}"
    logger.info(response)
    return response


def build():
    with Flow("knack_services_test", schedule=None) as flow:
        app_name = Parameter("apps", default=app_names, required=True)
        container = Parameter("containers", default=containers, required=True)
        layer = Parameter("layers", default=layer_names, required=True)

        pull_docker_image()
        records_to_postgrest.map(app_name, container)
        records_to_agol.map(app_name, container)
        agol_build_markings_segment_geometries.map(layer)
    return flow, {"parameters": {"apps": app_names, "containers": containers, "layers": layer_names}}
