# Source: mortenoh/prefect-examples, flows/045_advanced_map_patterns.py (Prefect 3).
# Idioms: `.map()` with three positional iterables (a list of dicts unpacked into
#   columns); `.map()` over two zipped lists; `[f.result() for f in futures]`; results
#   in input order passed to a summarizing task.
from prefect import flow, task


@task
def process_station(station_id: str, lat: float, lon: float) -> dict:
    reading = round((lat + lon) * 0.1, 2)
    result = {"station_id": station_id, "lat": lat, "lon": lon, "reading": reading}
    print(f"Processed station {station_id}: reading={reading}")
    return result


@task
def extract_data(date: str, variable: str) -> dict:
    result = {"date": date, "variable": variable, "value": len(date) + len(variable)}
    print(f"Extracted {variable} for {date}")
    return result


@task
def summarize_results(results: list[dict]) -> str:
    summary = f"Processed {len(results)} items"
    print(summary)
    return summary


@flow(name="045_advanced_map_patterns", log_prints=True)
def advanced_map_patterns_flow() -> list:
    stations = [
        {"station_id": "WX001", "lat": 40.7, "lon": -74.0},
        {"station_id": "WX002", "lat": 34.1, "lon": -118.2},
        {"station_id": "WX003", "lat": 41.9, "lon": -87.6},
    ]
    station_futures = process_station.map(
        [s["station_id"] for s in stations],
        [s["lat"] for s in stations],
        [s["lon"] for s in stations],
    )
    station_results = [f.result() for f in station_futures]
    summarize_results(station_results)
    dates = ["2024-01-01", "2024-01-02", "2024-01-03"]
    variables = ["temperature", "humidity", "pressure"]
    extract_futures = extract_data.map(dates, variables)
    extract_results = [f.result() for f in extract_futures]
    summarize_results(extract_results)
    return [station_results, extract_results]


def main():
    return advanced_map_patterns_flow(return_state=True)
