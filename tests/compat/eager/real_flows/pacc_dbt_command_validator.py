# Source: anna-geller/pacc-berlin,
#   flows/06_parametrization/dbt_command_validator_starts_with.py (Prefect 2).
# Idioms: a pydantic model parameter with a custom `@validator` (pydantic v1 style,
#   deprecated in v2) that raises ValueError; dicts passed positionally and coerced;
#   `get_run_logger().info("...%s", dbt.dbt_command)`; a `print` between runs outside
#   any flow; the third call fails validation (what it raises is compared).
from prefect import flow, get_run_logger
from pydantic import BaseModel, validator


class DbtCommand(BaseModel):
    dbt_command: str

    @validator("dbt_command")
    def must_be_in(cls, dbt_cmd):
        valid = "dbt run"
        if not dbt_cmd.startswith(valid):
            raise ValueError(f"Invalid dbt command. Must start with {valid}")
        return dbt_cmd


@flow
def dbt_run(dbt: DbtCommand):
    logger = get_run_logger()
    logger.info("Running dbt command: %s", dbt.dbt_command)
    return dbt.dbt_command


def main():
    out = [dbt_run(dict(dbt_command="dbt run"))]
    print("------------------------")
    out.append(dbt_run(dict(dbt_command="dbt run my model")))
    print("------------------------")
    try:
        out.append(dbt_run(dict(dbt_command="dbt clean")))
    except Exception as exc:
        out.append(exc)
    return out
