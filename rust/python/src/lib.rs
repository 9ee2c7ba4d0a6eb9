//! `ferroflow._core`: thin PyO3 bindings over the pure-Rust `ferroflow-core` crate.
//!
//! One file per exposed concept: [`graph`] (freezing, topological order, cycles) and
//! [`run`] (per-run bookkeeping and the batch API). Core errors map to the exceptions
//! of `ferroflow.errors` in [`errors`].

use pyo3::prelude::*;

mod errors;
mod graph;
mod run;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use ferroflow_core::state as s;
    m.add_class::<graph::Graph>()?;
    m.add_class::<run::Run>()?;
    for (name, code) in [
        ("PENDING", s::PENDING),
        ("RUNNING", s::RUNNING),
        ("RETRYING", s::RETRYING),
        ("PAUSED", s::PAUSED),
        ("SUCCESS", s::SUCCESS),
        ("CACHED", s::CACHED),
        ("MAPPED", s::MAPPED),
        ("SKIPPED", s::SKIPPED),
        ("FAILED", s::FAILED),
        ("TRIGGER_FAILED", s::TRIGGER_FAILED),
        ("TIMED_OUT", s::TIMED_OUT),
        ("CANCELLED", s::CANCELLED),
        ("RETRY_OK", s::RETRY_OK),
    ] {
        m.add(name, code)?;
    }
    m.add("STATE_NAMES", s::NAMES.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
