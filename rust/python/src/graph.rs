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
    /// For a graph read from a flow's edges (`of_edges`): per task, its inputs read whole
    /// as `((key, upstream id), ...)`, or None (see `whole_inputs`).
    inputs: Vec<Option<Py<PyTuple>>>,
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
        Ok(Graph { inner: Arc::new(inner), mapped_into, n_edges, inputs: Vec::new() })
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
        let mut keys = Vec::new(); // each edge's key (None for a state-only edge)
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
                keys.push(edge.get_item(2)?.unbind());
            }
        }
        let n = names.len();
        let mut whole = vec![true; n]; // every edge in is whole, from a task that never maps
        let mut mapped_into = vec![false; n];
        for e in &edges {
            if let Some(m) = mapped_into.get_mut(e.downstream as usize) {
                *m |= e.mapped;
            }
        }
        for e in &edges {
            let from_mapping = mapped_into.get(e.upstream as usize).copied().unwrap_or(false);
            if let Some(w) = whole.get_mut(e.downstream as usize) {
                *w &= !e.flattened && !from_mapping;
            }
        }
        let mut inputs: Vec<Option<Vec<Bound<'_, PyTuple>>>> =
            whole.iter().map(|&w| if w { Some(Vec::new()) } else { None }).collect();
        for (e, key) in edges.iter().zip(&keys) {
            if key.is_none(py) {
                continue; // a state-only edge: no argument
            }
            if let Some(Some(args)) = inputs.get_mut(e.downstream as usize) {
                args.push(PyTuple::new(py, [key.bind(py).clone(), e.upstream.into_pyobject(py)?.into_any()])?);
            }
        }
        let inputs = inputs
            .into_iter()
            .map(|args| args.map(|a| PyTuple::new(py, a).map(Bound::unbind)).transpose())
            .collect::<PyResult<Vec<_>>>()?;
        let mut graph = Graph::build(py, names, edges)?;
        graph.inputs = inputs;
        Ok(graph)
    }

    /// For a graph read with `of_edges`: per task, the inputs it reads whole as a
    /// tuple of `(key, upstream id)` pairs in edge order (state-only edges left out),
    /// or None when an edge into it is flattened or comes from a task that may map.
    /// Empty for a graph made from numbered edges.
    fn whole_inputs(&self, py: Python<'_>) -> Vec<Option<Py<PyTuple>>> {
        self.inputs.iter().map(|t| t.as_ref().map(|t| t.clone_ref(py))).collect()
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
