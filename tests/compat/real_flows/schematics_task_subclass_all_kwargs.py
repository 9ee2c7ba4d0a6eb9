# Source: znicholasbrown/project-schematics, flows/PrefectResult.py ("Single Mapped
#   Task") and flows/SingleMappedTask.py.
# Idioms: a Task subclass whose __init__ re-declares every Task keyword with its
#   default (max_retries=None, retry_delay=None, timeout=None, skip_on_upstream_skip=
#   True, checkpoint=None, log_stdout=False, result=PrefectResult(), ...) and forwards
#   them all to super().__init__ by keyword; `Add().map(parameter)` -- mapping a new
#   instance over a Parameter whose default is a list (range(...) in the sibling
#   flow); self.logger.info in run(); a run() that returns None.
# Made deterministic: no sleep(5); the 0.x-only `result_handler` keyword of the
#   original is left out (Prefect 1.4.1's Task no longer takes it).
from prefect import Flow, Task, Parameter
from prefect.engine.results import PrefectResult


class Add(Task):
    def __init__(
        self,
        name=None,
        slug=None,
        tags=None,
        max_retries=None,
        retry_delay=None,
        timeout=None,
        trigger=None,
        skip_on_upstream_skip=True,
        cache_for=None,
        cache_validator=None,
        cache_key=None,
        checkpoint=None,
        state_handlers=None,
        on_failure=None,
        log_stdout=False,
        result=PrefectResult(),
        target=None,
    ):
        super().__init__(
            name=name,
            slug=slug,
            tags=tags,
            max_retries=max_retries,
            retry_delay=retry_delay,
            timeout=timeout,
            trigger=trigger,
            skip_on_upstream_skip=skip_on_upstream_skip,
            cache_for=cache_for,
            cache_validator=cache_validator,
            cache_key=cache_key,
            checkpoint=checkpoint,
            state_handlers=state_handlers,
            on_failure=on_failure,
            log_stdout=log_stdout,
            result=result,
            target=target,
        )

    def run(self, x, y=1):
        self.logger.info(
            """
            x: {x}
            y: {y}
        """
        )
        return


class MapHandler(Task):
    def run(self, item):
        self.logger.info(item)
        return item * 2


default_range = list(range(4))


def build():
    with Flow("Single Mapped Task") as flow:
        parameter = Parameter("no_tasks", default=default_range)
        Add().map(parameter)
        other = Parameter("other_tasks", default=range(3))
        MapHandler().map(other)
    return flow, {}
