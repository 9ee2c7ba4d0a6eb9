# Source: PrefectHQ/prefect 1.4.1, examples/tutorial/04_handle_failures.py (the
#   aircraft ETL of the Core tutorial, docs/core/tutorial/04-handling-failure.md).
# Idioms: Parameters with defaults overridden by flow.run(airport="DCA", radius=10);
#   two tasks with max_retries=3 (the live-data one fails twice, then succeeds); the
#   same upstream result fanned out to three tasks; loaders that return None.
# Made deterministic and offline: `aircraftlib` (HTTP APIs, a SQLite database) is an
#   in-memory stand-in with the same calls; retry_delay is zero.
from collections import namedtuple
from datetime import timedelta

from prefect import task, Flow, Parameter

Position = namedtuple("Position", "lat long")
RefData = namedtuple("RefData", "airports airlines")


class aclib:
    """The tutorial's aircraftlib, in memory."""

    Position = Position
    calls = {"live": 0}
    database = {"reference": None, "live": []}

    @staticmethod
    def fetch_reference_data():
        airports = {"IAD": {"latitude": "38.94", "longitude": "-77.45"},
                    "DCA": {"latitude": "38.85", "longitude": "-77.04"}}
        airlines = {"UAL": "United", "AAL": "American"}
        return RefData(airports, airlines)

    @staticmethod
    def bounding_box(position, radius):
        return (round(position.lat - radius / 100, 2), round(position.long - radius / 100, 2),
                round(position.lat + radius / 100, 2), round(position.long + radius / 100, 2))

    @staticmethod
    def fetch_live_aircraft_data(area=None, simulate_failures=0):
        aclib.calls["live"] += 1
        if aclib.calls["live"] <= simulate_failures:
            raise RuntimeError("simulated failure fetching live data")
        return [{"callsign": "UAL123 ", "area": area}, {"callsign": None, "area": area},
                {"callsign": "AAL9", "area": area}]

    @staticmethod
    def clean_vector(raw):
        if not raw["callsign"]:
            return None
        return {"callsign": raw["callsign"].strip(), "area": raw["area"]}

    @staticmethod
    def add_airline_info(vector, airlines):
        vector["airline"] = airlines.get(vector["callsign"][:3])

    class Database:
        def update_reference_data(self, ref_data):
            aclib.database["reference"] = sorted(ref_data.airports)

        def add_live_aircraft_data(self, data):
            aclib.database["live"].extend(data)


@task(max_retries=3, retry_delay=timedelta(seconds=0))
def extract_reference_data():
    print("fetching reference data...")
    return aclib.fetch_reference_data()


@task(max_retries=3, retry_delay=timedelta(seconds=0))
def extract_live_data(airport, radius, ref_data):
    # Get the live aircraft vector data around the given airport (or none)
    area = None
    if airport:
        airport_data = ref_data.airports[airport]
        airport_position = aclib.Position(
            lat=float(airport_data["latitude"]), long=float(airport_data["longitude"])
        )
        area = aclib.bounding_box(airport_position, radius)

    print("fetching live aircraft data...")
    raw_aircraft_data = aclib.fetch_live_aircraft_data(area=area, simulate_failures=2)

    return raw_aircraft_data


@task
def transform(raw_aircraft_data, ref_data):
    print("cleaning & transform aircraft data...")

    live_aircraft_data = []
    for raw_vector in raw_aircraft_data:
        vector = aclib.clean_vector(raw_vector)
        if vector:
            aclib.add_airline_info(vector, ref_data.airlines)
            live_aircraft_data.append(vector)

    return live_aircraft_data


@task
def load_reference_data(ref_data):
    print("saving reference data...")
    db = aclib.Database()
    db.update_reference_data(ref_data)


@task
def load_live_data(live_aircraft_data):
    print("saving live aircraft data...")
    db = aclib.Database()
    db.add_live_aircraft_data(live_aircraft_data)


def build():
    with Flow("etl") as flow:
        airport = Parameter("airport", default="IAD")
        radius = Parameter("radius", default=200)

        reference_data = extract_reference_data()
        live_data = extract_live_data(airport, radius, reference_data)

        transformed_live_data = transform(live_data, reference_data)

        load_reference_data(reference_data)
        load_live_data(transformed_live_data)
    return flow, {"airport": "DCA", "radius": 10}


def after(flow, state):
    return {"live_calls": aclib.calls["live"], "database": aclib.database}
