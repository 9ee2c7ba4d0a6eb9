//! `Graph`: a flow frozen once per run.

use std::sync::Arc;

use ferroflow_core::{EdgeSpec, Graph as CoreGraph};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::errors::to_py;

/// A frozen flow graph: tasks are numbered `0..n` in the order given.
///
/// `Graph(names, edges)` where each edge is `(upstream, downstream, mapped, flattened)`.
/// Raises `ferroflow.errors.CycleError` naming the tasks on a cycle.
#[pyclass(frozen, module = "ferroflow._core")]
pub struct Graph {
    pub inner: Arc<CoreGraph>,
    /// Whether each task has a mapped edge in.
    mapped_into: Vec<bool>,
    n_edges: usize,
}

impl Graph {
    fn build(py: Python<'_>, names: Vec<String>, edges: Vec<EdgeSpec>) -> PyResult<Self> {
        let mut mapped_into = vec![false; names.len()];
        for e in &edges {
            if let Some(m) = mapped_into.get_mut(e.downstream as usize) {
                *m |= e.mapped;
            }
        }
        let n_edges = edges.len();
        let inner = py.detach(|| CoreGraph::new(names, edges)).map_err(to_py)?;
        Ok(Graph { inner: Arc::new(inner), mapped_into, n_edges })
    }
}

#[pymethods]
impl Graph {
    #[new]
    fn new(py: Python<'_>, names: Vec<String>, edges: Vec<(u32, u32, bool, bool)>) -> PyResult<Self> {
        let edges: Vec<EdgeSpec> = edges
            .into_iter()
            .map(|(upstream, downstream, mapped, flattened)| EdgeSpec { upstream, downstream, mapped, flattened })
            .collect();
        Graph::build(py, names, edges)
    }

    /// The graph of a flow's tasks, read straight from its edges: `in_edges[i]` lists
    /// the edges into task `i` as `(upstream, downstream, key, mapped, flattened)`
    /// tuples, and `index` maps each task to its id. KeyError for an upstream task
    /// that `index` does not have.
    #[staticmethod]
    fn of_edges(
        py: Python<'_>,
        names: Vec<String>,
        in_edges: &Bound<'_, PyList>,
        index: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let mut edges = Vec::new();
        for (down, into) in in_edges.iter().enumerate() {
            let into = into.cast_into::<PyList>()?;
            for edge in into.iter() {
                let edge = edge.cast_into::<PyTuple>()?;
                let upstream = edge.get_item(0)?;
                let Some(id) = index.get_item(&upstream)? else {
                    return Err(PyKeyError::new_err(upstream.unbind()));
                };
                edges.push(EdgeSpec {
                    upstream: id.extract()?,
                    downstream: down as u32,
                    mapped: edge.get_item(3)?.is_truthy()?,
                    flattened: edge.get_item(4)?.is_truthy()?,
                });
            }
        }
        Graph::build(py, names, edges)
    }

    /// Whether each task has a mapped edge in (it may map: its runs are children).
    fn mapped_into(&self) -> Vec<bool> {
        self.mapped_into.clone()
    }

    /// How many edges the graph has.
    fn edge_count(&self) -> usize {
        self.n_edges
    }

    /// Task ids in topological order.
    fn order(&self) -> Vec<u32> {
        self.inner.order().to_vec()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}
