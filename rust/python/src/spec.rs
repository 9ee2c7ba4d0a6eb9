//! `TaskSpec`: what the core must know about one task to schedule it, with named
//! fields, checked once when it is made (a flow run shares one spec among the tasks
//! that schedule alike).

use ferroflow_core::{Bound as Threshold, RetryDelays, TaskSpec as CoreSpec, Trigger};
use pyo3::prelude::*;

use crate::errors::spec_error;

/// Names of the built-in triggers, as `TaskSpec(trigger=...)` takes them.
pub const TRIGGERS: [&str; 9] = [
    "all_successful",
    "all_failed",
    "any_successful",
    "any_failed",
    "all_finished",
    "not_all_skipped",
    "some_successful",
    "some_failed",
    "custom",
];

fn trigger_from(name: &str, at_least: Option<f64>, at_most: Option<f64>) -> PyResult<Trigger> {
    let b = |v: Option<f64>| v.map_or(Threshold::Default, Threshold::Value);
    Ok(match name {
        "all_successful" => Trigger::AllSuccessful,
        "all_failed" => Trigger::AllFailed,
        "any_successful" => Trigger::AnySuccessful,
        "any_failed" => Trigger::AnyFailed,
        "all_finished" => Trigger::AllFinished,
        "not_all_skipped" => Trigger::NotAllSkipped,
        "some_successful" => Trigger::SomeSuccessful { at_least: b(at_least), at_most: b(at_most) },
        "some_failed" => Trigger::SomeFailed { at_least: b(at_least), at_most: b(at_most) },
        "custom" => Trigger::Custom,
        other => return Err(spec_error(format!("unknown built-in trigger {other:?}"))),
    })
}

/// One task's scheduling spec.
///
/// `trigger` names a built-in trigger (`at_least`/`at_most` are the thresholds of
/// `some_successful`/`some_failed`; `custom` asks Python); `retry_delays_ms` lists the
/// wait before each retry (the last repeats; empty = retry at once), and `retry_jitter`
/// (0..=1) takes a random share off each, drawn from `retry_seed`; `n_constants` counts
/// keyed constant inputs (each one successful upstream state); `observed` says state
/// handlers watch the task; `decided` (a finished state code other than MAPPED) puts
/// the task in that state from the start: it is never handed out.
#[pyclass(frozen, module = "ferroflow._core")]
pub struct TaskSpec {
    #[pyo3(get)]
    trigger: String,
    #[pyo3(get)]
    at_least: Option<f64>,
    #[pyo3(get)]
    at_most: Option<f64>,
    #[pyo3(get)]
    skip_on_upstream_skip: bool,
    #[pyo3(get)]
    max_retries: u8,
    #[pyo3(get)]
    retry_delays_ms: Vec<u64>,
    #[pyo3(get)]
    retry_jitter: f64,
    #[pyo3(get)]
    retry_seed: u64,
    #[pyo3(get)]
    n_constants: u32,
    #[pyo3(get)]
    observed: bool,
    #[pyo3(get)]
    decided: Option<u8>,
    pub core: CoreSpec,
}

#[pymethods]
impl TaskSpec {
    #[new]
    #[pyo3(signature = (trigger="all_successful", *, at_least=None, at_most=None, skip_on_upstream_skip=true,
                        max_retries=0, retry_delays_ms=Vec::new(), retry_jitter=0.0, retry_seed=0,
                        n_constants=0, observed=false, decided=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        trigger: &str,
        at_least: Option<f64>,
        at_most: Option<f64>,
        skip_on_upstream_skip: bool,
        max_retries: u8,
        retry_delays_ms: Vec<u64>,
        retry_jitter: f64,
        retry_seed: u64,
        n_constants: u32,
        observed: bool,
        decided: Option<u8>,
    ) -> PyResult<Self> {
        let retry_delays = RetryDelays::per_attempt(retry_delays_ms.clone())
            .with_jitter(retry_jitter, retry_seed)
            .map_err(|e| spec_error(e.to_string()))?;
        let core = CoreSpec {
            trigger: trigger_from(trigger, at_least, at_most)?,
            skip_on_upstream_skip,
            max_retries,
            retry_delays,
            n_constants,
            observed,
            decided,
        };
        Ok(TaskSpec {
            trigger: trigger.to_owned(),
            at_least,
            at_most,
            skip_on_upstream_skip,
            max_retries,
            retry_delays_ms,
            retry_jitter,
            retry_seed,
            n_constants,
            observed,
            decided,
            core,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "TaskSpec(trigger={:?}, at_least={:?}, at_most={:?}, skip_on_upstream_skip={}, max_retries={}, \
             retry_delays_ms={:?}, retry_jitter={}, retry_seed={}, n_constants={}, observed={}, decided={:?})",
            self.trigger,
            self.at_least,
            self.at_most,
            self.skip_on_upstream_skip,
            self.max_retries,
            self.retry_delays_ms,
            self.retry_jitter,
            self.retry_seed,
            self.n_constants,
            self.observed,
            self.decided
        )
    }
}
