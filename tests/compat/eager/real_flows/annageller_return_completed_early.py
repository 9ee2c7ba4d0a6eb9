# Source: anna-geller/prefect-deployment-patterns,
#   data_and_state_dependencies/return_state_to_finish_processing_early.py (Prefect 2,
#   which imported Completed from prefect.orion.schemas.states; Prefect 3 spells it
#   prefect.states).
# Idioms: a flow returning `Completed(message=...)` to end early when an extract task
#   found no data; the branch that calls the processing task; the plain call's value.
from prefect import task, flow
from prefect.states import Completed

OBSERVED = []


@task
def extract_data_from_api(has_data):
    return {"result": {"rows": 3} if has_data else None}


@task
def process_data(data):
    if isinstance(data["result"], dict):
        OBSERVED.append(f"processing {data['result']['rows']} rows")


@flow
def return_state_manually(has_data: bool = False):
    raw_data = extract_data_from_api(has_data)
    if raw_data["result"] is None:
        return Completed(message="No new data available, end the run early")
    else:
        process_data(raw_data)


def main():
    return [return_state_manually(return_state=True), return_state_manually(),
            return_state_manually(True, return_state=True)]
