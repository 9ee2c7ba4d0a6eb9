# Source: piokra/prefect-tutorial, scrap-stock.py ("scrap-stock").
# Idioms: `Flow("scrap-stock", schedule)` -- the schedule passed positionally; a
#   Parameter with a list default mapped over with `secrets=unmapped(secrets)`; tasks
#   built by helper functions (create_secret_injector_task(), fetch_secret_task(...))
#   and called in the flow; a task returning a (data, meta_data) tuple;
#   prefect.context.get("logger"); IntervalSchedule(interval=timedelta(hours=24)).
# Made offline: Vault and the Alpha Vantage API are in-memory; run_on_schedule=False
#   instead of waiting a day; GitHub storage is left out.
from datetime import timedelta
from typing import Dict

import prefect
from prefect import Flow, Parameter, task, unmapped
from prefect.schedules import IntervalSchedule

VAULT = {("common", "kv"): {"ALPHA_VANTAGE_TOKEN": "demo-token"}}
PRICES = {"GOOGL": [101.5, 102.25], "MSFT": [250.0, 249.5]}


def create_secret_injector_task():
    @task(name="secret-injector")
    def inject():
        return {"vault": "local"}
    return inject()


def fetch_secret_task(mount, path, injector):
    @task(name="fetch-secret")
    def fetch(injector):
        return VAULT[(mount, path)]
    return fetch(injector)


@task
def scrap_stock(stock: str, secrets: Dict[str, str]):
    logger = prefect.context.get("logger")
    logger.info(f"Scrapping {stock}!")
    data = {"close": PRICES[stock], "token_used": bool(secrets['ALPHA_VANTAGE_TOKEN'])}
    meta_data = {"symbol": stock}
    logger.info(data)
    logger.info(meta_data)
    return data, meta_data


def build():
    schedule = IntervalSchedule(interval=timedelta(hours=24))

    with Flow("scrap-stock", schedule) as flow:
        injector = create_secret_injector_task()
        secrets = fetch_secret_task('common', 'kv', injector)
        stocks = Parameter("stocks", default=["GOOGL", "MSFT"])
        scrap_stock.map(stocks, secrets=unmapped(secrets))
    return flow, {"run_on_schedule": False}
