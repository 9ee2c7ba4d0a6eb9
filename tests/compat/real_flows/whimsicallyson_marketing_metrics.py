# Source: whimsicallyson/example-flows, flows/marketing_daily_metrics.py ("Metrics
#   Reporting Flow").
# Idioms: the same task called several times with different constant URLs; a list of
#   dicts of dicts whose innermost values are task results, passed to a task (Prefect
#   builds List and Dict tasks around them); a task with six positional arguments that
#   indexes nested JSON; an f-string report.
# Made offline: requests and Airtable are dictionaries of canned answers; the report is
#   returned rather than printed; GitHub storage is left out.
import json

from prefect import task, Flow

ANSWERS = {
    "https://prefect-slackin.herokuapp.com/data": {"total": 9000},
    "https://dagster-slackin.herokuapp.com/data": {"total": 3000},
    "https://api.github.com/repos/prefecthq/prefect": {"stargazers_count": 8000},
    "https://api.github.com/repos/prefecthq/server": {"stargazers_count": 200},
    "https://api.github.com/repos/prefecthq/ui": {"stargazers_count": 300},
}
YESTERDAY = {"records": [{"fields": {"Count": c}} for c in (290, 190, 8950, 2990, 7990)]}


@task
def get_yesterdays_metrics():
    return YESTERDAY


@task
def update_metrics(todays_metrics):
    data = json.dumps({"records": todays_metrics}, sort_keys=True)
    return len(data)


@task
def get_todays_slack_stats(instance_name):
    data = ANSWERS[instance_name]
    return data["total"]


@task
def get_todays_star_count(repo):
    data = ANSWERS[repo]
    return data["stargazers_count"]


@task
def print_response(prefect_slack, dagster_slack, core_stars, server_stars, ui_stars, yesterdays_metrics):
    return (f"Today, the Prefect slack has {prefect_slack} users, an increase of "
            f"{prefect_slack - yesterdays_metrics['records'][2]['fields']['Count']}. Dagster has "
            f"{dagster_slack} ({dagster_slack - yesterdays_metrics['records'][3]['fields']['Count']}). "
            f"core {core_stars} ({core_stars - yesterdays_metrics['records'][4]['fields']['Count']}), "
            f"server {server_stars} ({server_stars - yesterdays_metrics['records'][1]['fields']['Count']}), "
            f"ui {ui_stars} ({ui_stars - yesterdays_metrics['records'][0]['fields']['Count']})")


def build():
    with Flow("Metrics Reporting Flow") as flow:
        yesterdays_metrics = get_yesterdays_metrics()
        prefect_slack = get_todays_slack_stats('https://prefect-slackin.herokuapp.com/data')
        dagster_slack = get_todays_slack_stats('https://dagster-slackin.herokuapp.com/data')
        core_stars = get_todays_star_count('https://api.github.com/repos/prefecthq/prefect')
        server_stars = get_todays_star_count('https://api.github.com/repos/prefecthq/server')
        ui_stars = get_todays_star_count('https://api.github.com/repos/prefecthq/ui')
        todays_metrics = [{"id": "recWlYBY5Bx0RNBr1", "fields": {"Count": server_stars}},
                          {"id": 'recenhEgeiQY83FrL', "fields": {"Count": ui_stars}},
                          {"id": 'rechq8AKCsgu5dj1b', "fields": {"Count": dagster_slack}},
                          {"id": 'recnOekrsOmEr2n0g', "fields": {"Count": core_stars}},
                          {"id": 'recrhgFxXbHn7BNDv', "fields": {"Count": prefect_slack}}]
        update_metrics(todays_metrics)
        print_response(prefect_slack, dagster_slack, core_stars, server_stars, ui_stars, yesterdays_metrics)
    return flow, {}
