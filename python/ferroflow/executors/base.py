"""The executor contract.

The engine owns the scheduling loop: it asks the Rust core for ready task runs, packs
them into :class:`WorkUnit` objects (one task, one or many mapped children), and hands
them to an executor. An executor only *runs* units somewhere and gives back their
results. A new executor is a class with four methods::

    class MyExecutor(Executor):
        name = "mine"
        def submit(self, unit):   # start running unit.run() somewhere; don't block
            ...
        def wait(self):           # block until at least one submitted unit finished;
            ...                   # return [(unit, unit_result), ...]

``start()`` and ``shutdown()`` default to doing nothing; ``slots()`` says how many units
it can run at once (the engine keeps about twice that many in flight).

Register it through the ``register_executors`` hook (see ``docs/writing-an-executor.md``).
The engine checks the shapes it is given back (``slots()`` an int of at least 1,
``wait()`` a list of ``(unit, UnitResult)`` pairs) and raises
:class:`ferroflow.errors.PluginContractError` naming the executor when they are wrong;
a ``shutdown()`` that raises is logged as a warning (``docs/plugin-contracts.md``).
"""

from __future__ import annotations

from ferroflow.runtime.unit import UnitResult, WorkUnit

__all__ = ["Executor", "WorkUnit", "UnitResult"]


class Executor:
    """Base class of executors; see the module docstring for the contract."""

    name = "executor"
    #: Whether the engine may hand this executor batches of ordinary task runs
    #: (:class:`ferroflow.runtime.batch.TaskRuns`, one unit for the ready runs of
    #: several plain tasks) besides :class:`WorkUnit` objects. A batch has what an
    #: executor that only calls ``unit.run()`` uses (``run()``, ``size``, ``label``,
    #: ``subset()``), so such an executor can say True and run a layer of a DAG in one
    #: hand-over; the default is False, for executors that take units apart.
    batches = False
    #: Whether this executor runs each unit in the engine's own thread, one at a time,
    #: when waited for, and does nothing else with it. The engine then runs the runs of
    #: plain tasks itself, one after another as the core hands them out, without units
    #: (the same work, with none of a unit's hand-over: a chain of tasks runs at the
    #: speed of its function calls). False by default.
    runs_inline = False

    def start(self) -> None:
        """Acquire resources (pools, clusters) before the first unit."""

    def slots(self) -> int:
        """How many units can run at once."""
        return 1

    def submit(self, unit: WorkUnit) -> None:  # pragma: no cover - abstract
        """Start running ``unit.run()``; must not wait for it."""
        raise NotImplementedError

    def wait(self) -> list:  # pragma: no cover - abstract
        """Block until at least one submitted unit finished and return the finished
        ones as ``[(unit, UnitResult), ...]``. ``unit.run()`` never raises for a user's
        error; if running a unit fails otherwise, raise: the engine ends the run."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Release resources; called once, even after an error or Ctrl-C."""
