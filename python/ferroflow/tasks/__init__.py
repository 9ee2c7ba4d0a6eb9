"""A small task library, as Prefect 1's ``prefect.tasks``: ready-made Task classes to
configure and call in a flow.

* :class:`~ferroflow.tasks.shell.ShellTask` -- run a shell command; its last line of
  output (or all of them) is the result, a non-zero exit code fails the task run;
* :class:`~ferroflow.tasks.templates.JinjaTemplate` -- render a Jinja template from
  the task's inputs and the context (needs Jinja2: ``pip install 'ferroflow[templates]'``);
* :class:`~ferroflow.tasks.templates.StringFormatter` -- ``str.format`` a template
  the same way;
* :class:`~ferroflow.tasks.secrets.Secret` (Prefect 1's ``PrefectSecret``) -- the value
  of a secret, scrubbed from everything recorded and never checkpointed
  (``docs/secrets.md``).

See ``docs/task-library.md``.
"""

from ferroflow.tasks.secrets import PrefectSecret, Secret
from ferroflow.tasks.shell import ShellTask
from ferroflow.tasks.templates import JinjaTemplate, StringFormatter

__all__ = ["ShellTask", "JinjaTemplate", "StringFormatter", "Secret", "PrefectSecret"]


def task_input_hash(context: dict, arguments: dict) -> str | None:
    """Prefect's ``cache_key_fn`` of the same name: a task call's key is a hash of its
    arguments (``@task(cache_key_fn=task_input_hash)``); None (not cached) when an
    argument cannot be hashed. In an eager flow the context's ``task_key`` (the task's
    function's qualified name and code) is hashed too: eager keys are not kept apart
    per task, so two tasks share entries only when made from one function."""
    from ferroflow.results import hash_value

    try:
        task_key = context.get("task_key")
        if task_key is not None:
            return hash_value((task_key, sorted(arguments.items())))
        return hash_value(sorted(arguments.items()))
    except Exception:
        return None


__all__ += ["task_input_hash"]
