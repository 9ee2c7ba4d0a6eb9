//! Every error the bindings raise, in one place: each core error becomes an exception
//! of `ferroflow.errors`, variant by variant; a value the bindings refuse before the
//! core sees it is a `ValueError`.

use ferroflow_core::CoreError;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::import_exception!(ferroflow.errors, CycleError);
pyo3::import_exception!(ferroflow.errors, EngineError);
pyo3::import_exception!(ferroflow.errors, FlowDefinitionError);

pub fn to_py(err: CoreError) -> PyErr {
    match err {
        CoreError::Cycle(path) => CycleError::new_err((path,)),
        CoreError::UnknownTask { .. } | CoreError::SpecCount { .. } => FlowDefinitionError::new_err(err.to_string()),
        CoreError::BadReport(_) | CoreError::BadSpec(_) => EngineError::new_err(err.to_string()),
    }
}

/// A task spec the bindings cannot make (an unknown trigger, a jitter out of range).
pub fn spec_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}

/// Child indices that are not an ascending range or a list of ids.
pub fn indices_error(message: &str) -> PyErr {
    PyValueError::new_err(message.to_owned())
}

/// A task id the run does not have.
pub fn unknown_task(task: u32) -> PyErr {
    PyValueError::new_err(format!("unknown task id {task}"))
}
