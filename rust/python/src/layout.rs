//! `layered_layout` and `layered_svg`: the layered layout of `ferroflow_core::layout`
//! for drawing a run's graph, as positions or as pixels and SVG paths.

use ferroflow_core::layout::{layered, Geometry};
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

/// What `layered_svg` returns: `(x, y, paths, layers, breadth)`.
type Svg = (Vec<i64>, Vec<i64>, Vec<Option<String>>, u32, f32);

/// The layout of `layered_layout` in pixels, for a picture of thousands of tasks
/// without a Python loop over edges and bends: per node the x of its box's left side
/// and the y of its middle (`ferroflow_core::layout::Geometry` with the given
/// numbers), per edge its SVG path (`d`) or None when it is not drawn (an end outside
/// `0..n`, a self loop, or a repeat of an earlier edge), the number of layers and the
/// max position + 1. Unlike `layered_layout`, an edge naming an unknown node is
/// skipped, not refused. ValueError when `ups` and `downs` differ in length or `n` is
/// negative. The computation runs without the GIL.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn layered_svg(
    py: Python<'_>,
    n: i64,
    ups: Vec<i64>,
    downs: Vec<i64>,
    left: i64,
    layer_pitch: i64,
    node_w: i64,
    mid: i64,
    slot_pitch: f64,
) -> PyResult<Svg> {
    if ups.len() != downs.len() {
        return Err(PyValueError::new_err(format!(
            "{} upstream ends given for {} downstream ends",
            ups.len(),
            downs.len()
        )));
    }
    let n = usize::try_from(n).map_err(|_| PyValueError::new_err(format!("the number of nodes must be >= 0, got {n}")))?;
    let geometry = Geometry { left, layer_pitch, node_w, mid, slot_pitch };
    let result = py.detach(move || {
        // The edges drawn: both ends known, not a loop, first of their kind.
        let mut valid: Vec<(u32, u32, usize)> = ups
            .iter()
            .zip(&downs)
            .enumerate()
            .filter(|&(_, (&u, &v))| u != v && (0..n as i64).contains(&u) && (0..n as i64).contains(&v))
            .map(|(i, (&u, &v))| (u as u32, v as u32, i))
            .collect();
        valid.sort_unstable();
        valid.dedup_by_key(|e| (e.0, e.1));
        valid.sort_unstable_by_key(|e| e.2);
        let edges: Vec<(u32, u32)> = valid.iter().map(|e| (e.0, e.1)).collect();
        let layout = layered(n, &edges)?;
        let mut paths = vec![None; ups.len()];
        for (k, &(u, v, i)) in valid.iter().enumerate() {
            paths[i] = Some(geometry.path(&layout, k, u, v));
        }
        let x = layout.layer.iter().map(|&l| geometry.x(l)).collect();
        let y = layout.position.iter().map(|&p| geometry.y(p)).collect();
        Ok((x, y, paths, layout.layers, layout.breadth))
    });
    result.map_err(|e: ferroflow_core::layout::LayoutError| PyValueError::new_err(e.to_string()))
}
