//! `Run`: the per-run bookkeeping and the batch API the Python engine drives.

use std::sync::Mutex;

use ferroflow_core::{FinalVerdict, ItemKind, Run as CoreRun};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyRange, PyRangeMethods, PyTuple};

use crate::errors::{indices_error, to_py, unknown_task};
use crate::graph::Graph;
use crate::spec::TaskSpec;

/// `next_batch` item kinds.
pub const ITEM_RUN: u8 = 0;
pub const ITEM_PREPARE: u8 = 1;
pub const ITEM_DECIDED: u8 = 2;

/// `verdict` answers.
pub const VERDICT_ALL_SUCCEEDED: u8 = 0;
pub const VERDICT_SOME_FAILED: u8 = 1;
pub const VERDICT_NONE_FAILED: u8 = 2;

/// Above this many task runs, core work runs with the GIL released.
const DETACH_AT: usize = 4096;

/// Indices of children handed out: a `range` when contiguous (the common case), else a list.
fn indices_to_py<'py>(py: Python<'py>, indices: &[u32]) -> PyResult<Bound<'py, PyAny>> {
    let first = indices[0] as isize;
    let contiguous = indices.windows(2).all(|w| w[1] == w[0] + 1);
    if contiguous {
        Ok(PyRange::new(py, first, first + indices.len() as isize)?.into_any())
    } else {
        Ok(PyList::new(py, indices)?.into_any())
    }
}

fn indices_from(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    if let Ok(range) = obj.cast::<PyRange>() {
        let (start, stop, step) = (range.start()?, range.stop()?, range.step()?);
        if step != 1 || start < 0 {
            return Err(indices_error("child index ranges must be ascending by 1"));
        }
        return Ok((start as u32..stop.max(start) as u32).collect());
    }
    obj.extract::<Vec<u32>>()
}

/// The bookkeeping of one flow run. See `ferroflow_core::run` for the semantics.
#[pyclass(frozen, module = "ferroflow._core")]
pub struct Run {
    inner: Mutex<CoreRun>,
}

impl Run {
    fn core(&self) -> std::sync::MutexGuard<'_, CoreRun> {
        // A panic inside the core poisons the lock; the data is still the best record
        // we have, so keep going and let the engine report the failure.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Run {
    /// A run of `graph`, one `TaskSpec` per task (in task id order; tasks may share one).
    #[new]
    fn new(py: Python<'_>, graph: &Graph, specs: Vec<PyRef<'_, TaskSpec>>) -> PyResult<Self> {
        let g = graph.inner.clone();
        if specs.len() != g.len() {
            return Err(to_py(ferroflow_core::CoreError::SpecCount { specs: specs.len(), tasks: g.len() }));
        }
        let specs: Vec<_> = specs.iter().map(|s| s.core.clone()).collect();
        let run = py.detach(|| CoreRun::new(g, specs)).map_err(to_py)?;
        Ok(Run { inner: Mutex::new(run) })
    }

    /// Up to `max_items` ready task runs as `(task, kind, indices, code)` tuples: kind
    /// `ITEM_RUN` = run, `ITEM_PREPARE` = prepare a mapped task, `ITEM_DECIDED` = the
    /// core decided `code` for an observed task (confirm it through `report`); `indices` is None for the task itself, else
    /// a `range` or list of child indices.
    fn next_batch<'py>(&self, py: Python<'py>, max_items: usize, now_ms: u64) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let items = {
            let mut guard = self.core();
            let core: &mut CoreRun = &mut guard;
            if max_items >= DETACH_AT {
                py.detach(|| core.next_batch(max_items, now_ms))
            } else {
                core.next_batch(max_items, now_ms)
            }
        };
        items
            .into_iter()
            .map(|it| {
                let (kind, code) = match it.kind {
                    ItemKind::Run => (ITEM_RUN, None),
                    ItemKind::Prepare => (ITEM_PREPARE, None),
                    ItemKind::Decided(code) => (ITEM_DECIDED, Some(code)),
                };
                let indices = match &it.indices {
                    None => py.None().into_bound(py),
                    Some(ix) => indices_to_py(py, ix)?,
                };
                PyTuple::new(
                    py,
                    [
                        it.task.into_pyobject(py)?.into_any(),
                        kind.into_pyobject(py)?.into_any(),
                        indices,
                        code.into_pyobject(py)?.into_any(),
                    ],
                )
            })
            .collect()
    }

    /// Report a batch of outcomes: a list of `(task, indices, codes)` where indices is
    /// None (codes: one int) or the indices handed out (codes: bytes, one per child).
    fn report(&self, py: Python<'_>, reports: &Bound<'_, PyList>, now_ms: u64) -> PyResult<()> {
        let mut parsed: Vec<(u32, Option<Vec<u32>>, Vec<u8>)> = Vec::with_capacity(reports.len());
        let mut total = 0usize;
        for entry in reports.iter() {
            let (task, indices, codes): (u32, Bound<'_, PyAny>, Bound<'_, PyAny>) = entry.extract()?;
            if indices.is_none() {
                parsed.push((task, None, vec![codes.extract::<u8>()?]));
                total += 1;
            } else {
                let ix = indices_from(&indices)?;
                let codes: Vec<u8> = codes.extract()?;
                total += ix.len();
                parsed.push((task, Some(ix), codes));
            }
        }
        let mut guard = self.core();
        let core: &mut CoreRun = &mut guard;
        let mut apply = move || -> Result<(), ferroflow_core::CoreError> {
            for (task, ix, codes) in &parsed {
                core.report(*task, ix.as_deref(), codes, now_ms)?;
            }
            Ok(())
        };
        let result = if total >= DETACH_AT { py.detach(apply) } else { apply() };
        result.map_err(to_py)
    }

    /// Mark `tasks` as tasks whose runs the engine may take one at a time through
    /// `run_inline` (tasks of their own, never mapped).
    fn mark_inline(&self, tasks: Vec<u32>) -> PyResult<()> {
        let mut core = self.core();
        for task in tasks {
            core.mark_inline(task).map_err(to_py)?;
        }
        Ok(())
    }

    /// Run, in this thread and one after another, the runs of inline tasks the core
    /// hands out while the first ready run is one of them (`mark_inline`), each as
    /// `execute(task, run_count) -> code`: at most `max_runs` of them, and no new one
    /// once `budget_ms` have passed. Each success is reported at once (what it makes
    /// ready may be the next run); the first run that ends otherwise ends the call
    /// unreported, for the engine to report stamped with the time it ended (a retry's
    /// timer counts from then). `now_ms`: the run's clock at the call (a retry due by
    /// then is left to `next_batch`). Returns `(ids of the tasks that succeeded,
    /// (task, code) of the run left to report, or None)`. An exception from `execute`
    /// propagates; its run stays in flight.
    fn run_inline(
        &self,
        execute: &Bound<'_, PyAny>,
        max_runs: usize,
        budget_ms: u64,
        now_ms: u64,
    ) -> PyResult<(Vec<u32>, Option<(u32, u8)>)> {
        let started = std::time::Instant::now();
        let budget = std::time::Duration::from_millis(budget_ms);
        let mut succeeded = Vec::new();
        while succeeded.len() < max_runs && started.elapsed() < budget {
            // The lock is not held while Python runs (the task's code may ask the run).
            let Some((task, runs)) = self.core().next_inline(now_ms) else { break };
            let code: u8 = execute.call1((task, runs))?.extract()?;
            if code != ferroflow_core::state::SUCCESS {
                return Ok((succeeded, Some((task, code))));
            }
            self.core().report(task, None, &[code], now_ms).map_err(to_py)?;
            succeeded.push(task);
        }
        Ok((succeeded, None))
    }

    /// Answer a prepare item: `width_hint` = shortest length among mapped inputs from
    /// non-mapped upstreams, `flat` = `[(upstream, [elements per child])]` for
    /// flattened mapped upstreams, `fail_code` ends the task instead of mapping it.
    #[pyo3(signature = (task, width_hint=None, flat=Vec::new(), fail_code=None))]
    fn prepared(&self, task: u32, width_hint: Option<u32>, flat: Vec<(u32, Vec<u32>)>, fail_code: Option<u8>) -> PyResult<()> {
        self.core().prepared(task, width_hint, &flat, fail_code).map_err(to_py)
    }

    /// Cancel every unfinished task run.
    fn cancel(&self) {
        self.core().cancel()
    }

    fn is_complete(&self) -> bool {
        self.core().is_complete()
    }

    fn is_stalled(&self) -> bool {
        self.core().is_stalled()
    }

    fn has_ready(&self) -> bool {
        self.core().has_ready()
    }

    fn in_flight(&self) -> u64 {
        self.core().in_flight()
    }

    /// Milliseconds (on the engine's clock) when the earliest retry timer fires.
    fn next_timer(&self) -> Option<u64> {
        self.core().next_timer()
    }

    /// Armed retry timers as `(due_ms, task, index)`, earliest first; `index` is None
    /// for the task itself.
    fn pending_retries(&self) -> Vec<(u64, u32, Option<u32>)> {
        self.core().pending_retries()
    }

    /// The wait (ms) the core schedules when attempt `attempt` of `task` (child
    /// `index`, or the task itself) fails and may be retried, jitter included.
    #[pyo3(signature = (task, index, attempt))]
    fn retry_delay_ms(&self, task: u32, index: Option<u32>, attempt: u8) -> PyResult<u64> {
        self.core()
            .retry_delay_ms(task, index, attempt)
            .ok_or_else(|| unknown_task(task))
    }

    /// Task-level state codes of every task, as bytes.
    fn task_states<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.core().task_states())
    }

    fn task_state(&self, task: u32) -> u8 {
        self.core().task_state(task)
    }

    fn task_run_count(&self, task: u32) -> u8 {
        self.core().task_run_count(task)
    }

    /// Task-level run counts of every task, as bytes (0: never handed out).
    fn task_run_counts<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let core = self.core();
        let counts: Vec<u8> = (0..core.graph().len() as u32).map(|t| core.task_run_count(t)).collect();
        PyBytes::new(py, &counts)
    }

    /// Number of children of a mapped task (None before it maps).
    fn width(&self, task: u32) -> Option<u32> {
        self.core().width(task)
    }

    /// State codes of a mapped task's children, as bytes.
    fn child_states<'py>(&self, py: Python<'py>, task: u32) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.core().child_states(task))
    }

    /// Run counts of a mapped task's children `start..stop` (all by default), as bytes.
    #[pyo3(signature = (task, start=0, stop=None))]
    fn child_run_counts<'py>(&self, py: Python<'py>, task: u32, start: usize, stop: Option<usize>) -> Bound<'py, PyBytes> {
        let core = self.core();
        let counts = core.child_run_counts(task);
        let stop = stop.unwrap_or(counts.len()).min(counts.len());
        PyBytes::new(py, &counts[start.min(stop)..stop])
    }

    /// Per task, task runs (the task plus its children) by state code.
    fn tallies(&self) -> Vec<Vec<u64>> {
        let core = self.core();
        (0..core.graph().len() as u32).map(|t| core.tally(t).to_vec()).collect()
    }

    /// `VERDICT_ALL_SUCCEEDED`: all reference tasks succeeded, `VERDICT_SOME_FAILED`:
    /// some failed, `VERDICT_NONE_FAILED`: none failed but not all succeeded.
    fn verdict(&self, reference: Vec<u32>) -> u8 {
        match self.core().verdict(&reference) {
            FinalVerdict::AllSucceeded => VERDICT_ALL_SUCCEEDED,
            FinalVerdict::SomeFailed => VERDICT_SOME_FAILED,
            FinalVerdict::NoneFailed => VERDICT_NONE_FAILED,
        }
    }
}
