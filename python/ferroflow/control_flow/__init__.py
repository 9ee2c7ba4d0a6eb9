"""Control flow in a flow graph, as in Prefect 1: conditional blocks and branches
that skip the paths not taken, the merge that joins them again, and ``apply_map``,
which maps a function that builds several tasks (conditional ones included).

* ``with case(task, value):`` -- the block runs only when ``task``'s result equals
  ``value`` (:mod:`ferroflow.control_flow.case`);
* :func:`switch`, :func:`ifelse` -- choose one of several tasks;
* :func:`merge` -- the first result of several branches that is not None;
* :func:`apply_map` -- one copy of a whole sub-graph per element;
* :func:`pause_task` -- wait for approval (``docs/pause-and-approve.md``);
* :class:`FilterTask` -- keep the items of a list that pass a test (by default, the
  results of the mapped children that did not fail).

Loops are a signal instead: raise :class:`ferroflow.signals.LOOP` inside a task.
See ``docs/control-flow.md``.
"""

from ferroflow.control_flow.apply_map import apply_map
from ferroflow.control_flow.case import case
from ferroflow.control_flow.conditional import CompareValue, Merge, ifelse, merge, switch
from ferroflow.control_flow.filter import FilterTask
from ferroflow.control_flow.pause import pause_task

__all__ = ["case", "merge", "ifelse", "switch", "apply_map", "pause_task", "CompareValue", "Merge", "FilterTask"]
