//! `ferroflow._core`: thin PyO3 bindings over the pure-Rust `ferroflow-core` crate.
//!
//! One file per exposed concept: [`graph`] (freezing, topological order, cycles),
//! [`run`] (per-run bookkeeping and the batch API), [`spec`] (a task's scheduling spec),
//! [`layout`] (the layered layout of a run's graph), [`eager`] (an eager flow run's
//! ledger). Core errors map to the exceptions
//! of `ferroflow.errors` in [`errors`].

use pyo3::prelude::*;

mod eager;
mod errors;
mod graph;
mod layout;
mod run;
mod spec;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use ferroflow_core::state as s;
    m.add_class::<graph::Graph>()?;
    m.add_class::<run::Run>()?;
    m.add_class::<eager::Ledger>()?;
    m.add_class::<spec::TaskSpec>()?;
    m.add_function(wrap_pyfunction!(layout::layered_layout, m)?)?;
    m.add_function(wrap_pyfunction!(layout::layered_svg, m)?)?;
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
    for (name, value) in [
        ("ITEM_RUN", run::ITEM_RUN),
        ("ITEM_PREPARE", run::ITEM_PREPARE),
        ("ITEM_DECIDED", run::ITEM_DECIDED),
        ("VERDICT_ALL_SUCCEEDED", run::VERDICT_ALL_SUCCEEDED),
        ("VERDICT_SOME_FAILED", run::VERDICT_SOME_FAILED),
        ("VERDICT_NONE_FAILED", run::VERDICT_NONE_FAILED),
    ] {
        m.add(name, value)?;
    }
    m.add("TRIGGERS", spec::TRIGGERS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
