//! Every core error becomes an exception of `ferroflow.errors`, variant by variant.

use ferroflow_core::CoreError;
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
