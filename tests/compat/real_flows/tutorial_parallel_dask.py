# Source: PrefectHQ/prefect 1.4.1, examples/tutorial/06_parallel_execution.py and
#   docs/core/tutorial/06-parallel-execution.md.
# Idioms: `from prefect.executors import DaskExecutor`; flow.run(executor=DaskExecutor())
#   on a flow that also has an IntervalSchedule built from a naive datetime; a flow
#   defined inside a function (main()) rather than at module level.
# Made deterministic and offline: the aircraft APIs are in-memory; the schedule starts
#   at a fixed naive time instead of datetime.utcnow() + 1s; the run is
#   run_on_schedule=False; the Dask cluster is an in-process one (processes=False, one
#   worker) instead of a process pool.
from datetime import timedelta, datetime

from prefect import task, Flow, Parameter
from prefect.schedules import IntervalSchedule
from prefect.executors import DaskExecutor

AIRPORTS = {"IAD": (38.94, -77.45), "DCA": (38.85, -77.04)}


@task(max_retries=3, retry_delay=timedelta(seconds=0))
def extract_reference_data():
    return {"airports": AIRPORTS, "airlines": {"UAL": "United"}}


@task(max_retries=3, retry_delay=timedelta(seconds=0))
def extract_live_data(airport, radius, ref_data):
    lat, long = ref_data["airports"][airport]
    area = (round(lat - radius / 100, 2), round(long - radius / 100, 2))
    return [{"callsign": "UAL1", "area": area}, {"callsign": "", "area": area}]


@task
def transform(raw_aircraft_data, ref_data):
    return [dict(v, airline=ref_data["airlines"].get(v["callsign"][:3]))
            for v in raw_aircraft_data if v["callsign"]]


@task
def load_reference_data(ref_data):
    return len(ref_data["airports"])


@task
def load_live_data(live_aircraft_data):
    return len(live_aircraft_data)


def main():
    schedule = IntervalSchedule(
        start_date=datetime(2021, 5, 3, 9, 30, 1),
        interval=timedelta(minutes=1),
    )

    with Flow("etl", schedule=schedule) as flow:
        airport = Parameter("airport", default="IAD")
        radius = Parameter("radius", default=200)

        reference_data = extract_reference_data()
        live_data = extract_live_data(airport, radius, reference_data)

        transformed_live_data = transform(live_data, reference_data)

        load_reference_data(reference_data)
        load_live_data(transformed_live_data)
    return flow


def build():
    flow = main()
    executor = DaskExecutor(cluster_kwargs={"processes": False, "n_workers": 1})
    return flow, {"executor": executor, "run_on_schedule": False}
