# Source: anna-geller/pacc-berlin, flows/06_parametrization/validation.py (Prefect 2;
#   the same model is the example of Prefect's flows concept page).
# Idioms: a pydantic `BaseModel` as a flow parameter's type hint; a dict coerced into
#   the model; `get_run_logger().info(model)` (the model's str is logged); the
#   intentionally invalid call (`"a": "Not an int"`) raising ParameterTypeError.
from prefect import flow, get_run_logger
from pydantic import BaseModel

OBSERVED = []


class Model(BaseModel):
    a: int
    b: float
    c: str


@flow
def model_validator(model: Model):
    logger = get_run_logger()
    logger.info(model)
    OBSERVED.append([type(model).__name__, model.a, model.b, model.c])


def main():
    out = {"valid": model_validator(model=dict(a=42, b=4.2, c="Marvin")),
           "coerced": model_validator(model={"a": "7", "b": 1, "c": "x"}, return_state=True)}
    try:
        model_validator(model={"a": "Not an int", "b": 4.2, "c": "Marvin"})
    except Exception as exc:
        out["invalid_raised"] = exc
    out["invalid_state"] = model_validator(model={"a": "Not an int", "b": 4.2, "c": "Marvin"},
                                           return_state=True)
    return out
