//! `Graph`: a flow frozen once per run.

use ferroflow_core::{EdgeSpec, Graph as CoreGraph};
use pyo3::prelude::*;

use crate::errors::to_py;

/// A frozen flow graph: tasks are numbered `0..n` in the order given.
///
/// `Graph(names, edges)` where each edge is `(upstream, downstream, mapped, flattened)`.
/// Raises `ferroflow.errors.CycleError` naming the tasks on a cycle.
#[pyclass(frozen, module = "ferroflow._core")]
pub struct Graph {
    pub inner: CoreGraph,
}

#[pymethods]
impl Graph {
    #[new]
    fn new(py: Python<'_>, names: Vec<String>, edges: Vec<(u32, u32, bool, bool)>) -> PyResult<Self> {
        let edges: Vec<EdgeSpec> = edges
            .into_iter()
            .map(|(upstream, downstream, mapped, flattened)| EdgeSpec { upstream, downstream, mapped, flattened })
            .collect();
        let inner = py.detach(|| CoreGraph::new(names, edges)).map_err(to_py)?;
        Ok(Graph { inner })
    }

    /// Task ids in topological order.
    fn order(&self) -> Vec<u32> {
        self.inner.order().to_vec()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}
