# Source: cityofaustin/atd-prefect, flows/parking/parking_data_reconciliation.py
#   ("Parking Data Reconciliation").
# Idioms: a flow.chain of ten tasks inside `with Flow(..., schedule=Schedule(clocks=
#   [CronClock("00 5 * * *")]))`; trigger=all_successful spelled out on each task;
#   the same @task(name="pard_payment_csv_to_db") function defined twice at module
#   level (the second shadows the first); a module-level value computed from a
#   key-value store read; one step failing after its retry so the rest of the chain
#   ends TriggerFailed.
# Made offline: docker runs are string formatting; get_key_value is a dict; the
#   matching step fails on both attempts; retry_delay is zero; run_on_schedule=False.
from datetime import timedelta

from prefect import Flow, task
from prefect.schedules import Schedule
from prefect.schedules.clocks import CronClock
from prefect.triggers import all_successful

KV = {"parking_data_reconciliation_prev_exec": "2021-08-28"}


def get_key_value(key):
    return KV.get(key)


prev_execution_date_success = get_key_value("parking_data_reconciliation_prev_exec")


def decide_prev_month(prev_execution_date_success):
    if prev_execution_date_success:
        day = int(prev_execution_date_success[-2:])
        return day < 8 or day > 26
    return True


prev_month = decide_prev_month(prev_execution_date_success)


def docker_run(command):
    return f"ran: {command}"


def step(name, command, fail=False):
    @task(name=name, max_retries=1, timeout=timedelta(minutes=60),
          retry_delay=timedelta(seconds=0), trigger=all_successful)
    def run_step():
        if fail:
            raise RuntimeError(f"{name} exited with code 1")
        return docker_run(command)
    return run_step


pull_docker_image = step("pull_docker_image", "pull")
fiserv_email_parse = step("fiserv_email_parse", "python fiserv_email_pub.py")
fiserv_emails_to_db = step("fiserv_emails_to_db", f"python fiserv_DB.py --lastmonth {prev_month}")
payment_csv_to_db = step("payment_csv_to_db", f"python payments_s3.py --lastmonth {prev_month}")


@task(name="pard_payment_csv_to_db", max_retries=1, timeout=timedelta(minutes=60),
      retry_delay=timedelta(seconds=0), trigger=all_successful)
def pard_payment_csv_to_db():
    return docker_run(f"python payments_s3.py --lastmonth {prev_month} --user pard")


@task(name="pard_payment_csv_to_db", max_retries=1, timeout=timedelta(minutes=60),
      retry_delay=timedelta(seconds=0), trigger=all_successful)
def pard_payment_csv_to_db():  # noqa: F811 (defined twice in the original)
    return docker_run(f"python payments_s3.py --lastmonth {prev_month} --user pard")


matching_transactions = step("matching_transactions", "python match_field_processing.py", fail=True)
smartfolio_csv_to_db = step("smartfolio_csv_to_db", f"python smartfolio_s3.py --lastmonth {prev_month}")
payments_to_socrata = step("payments_to_socrata", "python parking_socrata.py --dataset payments")
fiserv_to_socrata = step("fiserv_to_socrata", "python parking_socrata.py --dataset fiserv")


@task(trigger=all_successful)
def update_last_exec_time():
    KV["parking_data_reconciliation_prev_exec"] = "2021-09-01"


def build():
    with Flow(
        "parking_data_reconciliation_test",
        schedule=Schedule(clocks=[CronClock("00 5 * * *")]),
    ) as flow:
        flow.chain(
            pull_docker_image,
            fiserv_email_parse,
            fiserv_emails_to_db,
            payment_csv_to_db,
            pard_payment_csv_to_db,
            matching_transactions,
            smartfolio_csv_to_db,
            payments_to_socrata,
            fiserv_to_socrata,
            update_last_exec_time,
        )
    return flow, {"run_on_schedule": False}


def after(flow, state):
    return KV
