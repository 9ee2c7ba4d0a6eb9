//! `layered_layout`: the layered layout of `ferroflow_core::layout` for drawing a run's
//! graph.

use ferroflow_core::layout::layered;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// What `layered_layout` returns: `(layer, position, bends, layers, breadth)`.
type Picture = (Vec<u32>, Vec<f32>, Vec<Vec<(u32, f32)>>, u32, f32);

/// Lay out `n` nodes joined by the edges `ups[i] -> downs[i]` in layers, left to right
/// (see `ferroflow_core::layout`). Returns `(layer, position, bends, layers, breadth)`:
/// per node its layer and position across it (in slots, >= 0, at least 1 apart in a
/// layer), per edge the `(layer, position)` points it bends through, the number of
/// layers and the max position + 1. Self loops and duplicate edges are ignored; a cycle
/// is broken. ValueError when `ups` and `downs` differ in length or name a node not in
/// `0..n`. The computation runs without the GIL.
#[pyfunction]
pub fn layered_layout(py: Python<'_>, n: i64, ups: Vec<i64>, downs: Vec<i64>) -> PyResult<Picture> {
    if ups.len() != downs.len() {
        return Err(PyValueError::new_err(format!(
            "{} upstream ends given for {} downstream ends",
            ups.len(),
            downs.len()
        )));
    }
    if n < 0 {
        return Err(PyValueError::new_err(format!("the number of nodes must be >= 0, got {n}")));
    }
    let mut edges = Vec::with_capacity(ups.len());
    for (i, (&u, &v)) in ups.iter().zip(&downs).enumerate() {
        for id in [u, v] {
            if id < 0 || id >= n {
                return Err(PyValueError::new_err(format!(
                    "edge {i} refers to node {id} but there are {n} nodes"
                )));
            }
        }
        edges.push((u as u32, v as u32));
    }
    let n = usize::try_from(n).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let layout = py.detach(|| layered(n, &edges)).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((layout.layer, layout.position, layout.bends, layout.layers, layout.breadth))
}
