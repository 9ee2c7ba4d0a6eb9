//! `Ledger`: the bookkeeping of an eager flow run (see `ferroflow_core::eager`).

use std::sync::Mutex;

use ferroflow_core::{Ledger as CoreLedger, Outcome, RetryDelays};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{spec_error, unknown_task};

/// One eager flow run's tasks, one state byte per call, and the retry rule.
#[pyclass(frozen, module = "ferroflow._core")]
pub struct Ledger {
    inner: Mutex<CoreLedger>,
}

impl Ledger {
    fn core(&self) -> std::sync::MutexGuard<'_, CoreLedger> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Ledger {
    #[new]
    fn new() -> Self {
        Ledger { inner: Mutex::new(CoreLedger::new()) }
    }

    /// Add a task met for the first time, with its retry rules (as a `TaskSpec` takes
    /// them); returns its id.
    #[pyo3(signature = (max_retries=0, retry_delays_ms=Vec::new(), retry_jitter=0.0, retry_seed=0))]
    fn add_task(&self, max_retries: u8, retry_delays_ms: Vec<u64>, retry_jitter: f64, retry_seed: u64) -> PyResult<u32> {
        let delays = RetryDelays::per_attempt(retry_delays_ms)
            .with_jitter(retry_jitter, retry_seed)
            .map_err(|e| spec_error(e.to_string()))?;
        Ok(self.core().add_task(max_retries, delays))
    }

    /// Tasks added so far.
    fn __len__(&self) -> usize {
        self.core().n_tasks()
    }

    /// Reserve `n` call numbers of `task`; returns the first.
    #[pyo3(signature = (task, n=1))]
    fn reserve(&self, task: u32, n: u32) -> PyResult<u32> {
        self.core().reserve(task, n).ok_or_else(|| unknown_task(task))
    }

    /// Attempt `runs` of call `index` of `task` ended in `code`: `(code, None)` when the
    /// call ends in `code` (recorded), `(RETRYING, wait_ms)` when it runs again after
    /// `wait_ms` milliseconds.
    fn outcome(&self, task: u32, index: u32, runs: u8, code: u8) -> PyResult<(u8, Option<u64>)> {
        match self.core().outcome(task, index, runs, code) {
            Some(Outcome::Final(code)) => Ok((code, None)),
            Some(Outcome::Retry(wait)) => Ok((ferroflow_core::state::RETRYING, Some(wait))),
            None => Err(spec_error(format!("no call {index} of task {task}, or {code} is not a state code"))),
        }
    }

    /// Record the states of calls `first..` of `task` (one code each) at once.
    fn record(&self, task: u32, first: u32, codes: &[u8]) -> PyResult<()> {
        if self.core().record(task, first, codes) {
            Ok(())
        } else {
            Err(spec_error(format!("calls {first}.. of task {task} were not reserved, or a code is not a state")))
        }
    }

    /// The state of call `index` of `task`.
    fn code(&self, task: u32, index: u32) -> PyResult<u8> {
        self.core().code(task, index).ok_or_else(|| unknown_task(task))
    }

    /// Calls of `task` numbered so far.
    fn width(&self, task: u32) -> PyResult<u32> {
        self.core().width(task).ok_or_else(|| unknown_task(task))
    }

    /// The state of every call of `task`, one byte each.
    fn codes<'py>(&self, py: Python<'py>, task: u32) -> PyResult<Bound<'py, PyBytes>> {
        let core = self.core();
        let codes = core.codes(task).ok_or_else(|| unknown_task(task))?;
        Ok(PyBytes::new(py, codes))
    }

    /// Ended calls of `task` by state (index: state code).
    fn tallies(&self, task: u32) -> PyResult<Vec<u64>> {
        Ok(self.core().tallies(task).ok_or_else(|| unknown_task(task))?.to_vec())
    }

    /// The state shown for `task` as a whole.
    fn task_code(&self, task: u32) -> PyResult<u8> {
        self.core().task_code(task).ok_or_else(|| unknown_task(task))
    }

    /// End every call not ended yet in `code` (a final state); the calls ended, as
    /// `[(task, index)]`.
    fn end_open(&self, code: u8) -> PyResult<Vec<(u32, u32)>> {
        if !ferroflow_core::state::is_finished(code) || code as usize >= ferroflow_core::state::N_STATES {
            return Err(spec_error(format!("{code} is not a final state code")));
        }
        Ok(self.core().end_open(code))
    }

    /// What changed in `task` since the last call: `(width or None, [(first, codes)])`.
    fn unreported<'py>(&self, py: Python<'py>, task: u32) -> PyResult<(Option<u32>, Vec<(u32, Bound<'py, PyBytes>)>)> {
        let (width, segments) = self.core().unreported(task).ok_or_else(|| unknown_task(task))?;
        Ok((width, segments.into_iter().map(|(first, codes)| (first, PyBytes::new(py, &codes))).collect()))
    }
}
