"""Where :class:`ResultValue` and :data:`NoResult` were defined before they moved to
:mod:`ferroflow.states` (their layer: a state's result as Prefect 1 code reads it);
kept so that values pickled by an earlier version still load."""

from ferroflow.states import NoResult, ResultValue

__all__ = ["ResultValue", "NoResult"]
