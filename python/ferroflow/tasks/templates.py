"""Template tasks, as Prefect 1's ``prefect.tasks.templates``: render a template from
the task's inputs and the context of the task run.

* :class:`JinjaTemplate` renders a Jinja template. Jinja2 is an optional dependency
  (``pip install 'ferroflow[templates]'``); it is imported when a JinjaTemplate is
  created, and its absence is an ImportError saying how to install it.
* :class:`StringFormatter` fills a ``str.format`` template.

The names a template sees are those of ``ferroflow.context`` (``flow_name``,
``task_name``, ``today``, ``parameters``...) with the task's keyword inputs over them.
See ``docs/task-library.md``.
"""

from __future__ import annotations

from typing import Any

from ferroflow.core.task import Task
from ferroflow.runtime.context import context

__all__ = ["JinjaTemplate", "StringFormatter"]


def _render_values(inputs: dict) -> dict:
    """The context of the current task run, with ``inputs`` over it."""
    return {**context.to_dict(), **inputs}


def _jinja_template_class() -> Any:
    """``jinja2.Template``, or an ImportError that says how to get it."""
    try:
        from jinja2 import Template
    except ImportError as exc:
        raise ImportError(
            "JinjaTemplate needs Jinja2, an optional dependency of ferroflow: "
            "pip install 'ferroflow[templates]' (or pip install jinja2)"
        ) from exc
    return Template


class JinjaTemplate(Task):
    """Render a Jinja template with the task's keyword inputs and the context.

    ``template`` is the default template; a ``template`` input replaces it. Every
    other keyword input is a template variable (``JinjaTemplate(template="Hi {{ who
    }}")(who=name_task)``), over the context's names. Other keyword arguments of the
    constructor are Task options. Needs Jinja2 (``pip install 'ferroflow[templates]'``).
    """

    def __init__(self, template: str | None = None, **task_kwargs: Any):
        _jinja_template_class()  # fail while the flow is built, not when it runs
        self.template = template or ""
        super().__init__(**task_kwargs)

    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        """Render ``template`` (default: the task's) with ``format_kwargs`` over the
        context."""
        source = self.template if template is None else template
        return _jinja_template_class()(source).render(**_render_values(format_kwargs))


class StringFormatter(Task):
    """Fill a ``str.format`` template with the task's keyword inputs and the context.

    ``template`` is the default template; a ``template`` input replaces it. Other
    keyword arguments of the constructor are Task options.
    """

    def __init__(self, template: str | None = None, **task_kwargs: Any):
        self.template = template or ""
        super().__init__(**task_kwargs)

    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        """Format ``template`` (default: the task's) with ``format_kwargs`` over the
        context."""
        source = self.template if template is None else template
        return source.format(**_render_values(format_kwargs))
