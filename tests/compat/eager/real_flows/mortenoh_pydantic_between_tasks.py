# Source: mortenoh/prefect-examples, flows/041_pydantic_models.py (Prefect 3).
# Idioms: pydantic models as task parameters and return values
#   (`-> list[UserRecord]`, `-> ProcessingResult`), built in the flow and passed from
#   task to task; `model_dump()`; a model as the flow's return value.
from prefect import flow, task
from pydantic import BaseModel


class PipelineConfig(BaseModel):
    source: str = "users_api"
    batch_size: int = 100
    enable_validation: bool = True


class UserRecord(BaseModel):
    name: str
    email: str
    age: int


class ProcessingResult(BaseModel):
    records: list[dict]
    errors: list[str]
    summary: str


@task
def extract_users(config: PipelineConfig) -> list[UserRecord]:
    raw = [
        {"name": "Alice", "email": "alice@example.com", "age": 30},
        {"name": "Bob", "email": "bob@example.com", "age": 25},
        {"name": "Charlie", "email": "charlie@example.com", "age": 200},
    ]
    users = [UserRecord(**r) for r in raw[: config.batch_size]]
    print(f"Extracted {len(users)} users from {config.source}")
    return users


@task
def validate_users(users: list[UserRecord]) -> ProcessingResult:
    valid = []
    errors = []
    for user in users:
        if user.age < 0 or user.age > 150:
            errors.append(f"Invalid age for {user.name}: {user.age}")
        else:
            valid.append(user.model_dump())
    summary = f"{len(valid)} valid, {len(errors)} errors"
    print(f"Validation: {summary}")
    return ProcessingResult(records=valid, errors=errors, summary=summary)


@task
def summarize(result: ProcessingResult) -> str:
    msg = f"Pipeline complete: {result.summary} ({len(result.records)} records)"
    print(msg)
    return msg


@flow(name="041_pydantic_models", log_prints=True)
def pydantic_models_flow() -> ProcessingResult:
    config = PipelineConfig(source="users_api", batch_size=10, enable_validation=True)
    users = extract_users(config)
    result = validate_users(users)
    summarize(result)
    return result


def main():
    result = pydantic_models_flow()
    return [type(result).__name__, result.model_dump()]
