//! Layered (Sugiyama-style) layout of a directed graph, for drawing a flow's run graph.
//!
//! [`layered`] places each node in a layer (a column when drawn left to right) and at a
//! position across it, in four classic steps, each linear or `n log n` in the size of
//! the graph plus its dummy nodes:
//!
//! 1. **Cycles.** Self loops are ignored and duplicate edges count once (a duplicate gets
//!    the bends of its first copy). A flow is acyclic, but a cycle must not hang: an edge
//!    that goes back in a depth-first search (from the nodes in id order, their out-edges
//!    in target order) is ignored by the layout and drawn straight.
//! 2. **Layers.** Longest path from the sources: a node is one layer right of its
//!    furthest predecessor, so layer 0 holds sources only. A source whose successors all
//!    lie further right is then moved next to the nearest of them (a parameter feeding
//!    only a late task sits beside that task, not at the far left).
//! 3. **Dummy nodes and order.** An edge spanning `s > 1` layers passes through `s - 1`
//!    dummy nodes, one per layer between its ends: its bends. Dummies are budgeted
//!    ([`dummy_budget`]: `4 n + 1000`): edges are given theirs shortest first, and once
//!    the next edge's would exceed the budget, that edge and every longer one get none
//!    and are drawn straight (they also take no part in ordering). The order of the
//!    nodes in each layer then comes from barycenter sweeps, down and up, each counting
//!    the crossings (Barth-Jünger-Mutzel accumulator tree); sweeping stops after two
//!    sweeps in a row that save less than 1% of the crossings, or after
//!    [`MAX_SWEEPS`], and the best order seen is kept. A node with no neighbour on the side a sweep looks at keeps
//!    its slot.
//! 4. **Coordinates.** Passes down and up place each layer as close as possible (least
//!    squares, weighted) to the median of each node's neighbours on the previous layer
//!    of the pass, keeping the order and a gap of at least 1: pool-adjacent-violators
//!    isotonic regression, linear in the layer's size. Dummies weigh more than real
//!    nodes, so long edges run straight. Positions are then snapped to 1/64 of a slot
//!    (exact integer arithmetic keeps every gap at least 1) and shifted to start at 0.
//!
//! The output depends on the input only (no hashing, stable sorts).

use std::fmt;

/// At most this many nodes (ids are `u32`, and the layout allocates per node).
pub const MAX_NODES: usize = 1 << 24;

/// At most this many crossing-reduction sweeps (down and up alternately).
pub const MAX_SWEEPS: usize = 12;

/// Rounds of coordinate passes (each a pass down then a pass up).
const COORDINATE_ROUNDS: usize = 2;

/// Positions are multiples of `1 / GRID` slot.
const GRID: f64 = 64.0;

/// How much a dummy's wish counts against a real node's in coordinate assignment.
const DUMMY_WEIGHT: f64 = 4.0;

/// How much a node with no neighbour on the side a pass looks at wishes to stay put.
const LONE_WEIGHT: f64 = 0.05;

/// The most dummy nodes a layout of `n` nodes adds: `4 n + 1000`.
pub fn dummy_budget(n: usize) -> usize {
    4 * n + 1000
}

/// Where [`layered`] puts each node and the bends of each edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Per node: its layer (column), 0 = sources.
    pub layer: Vec<u32>,
    /// Per node: its coordinate across the layer, in node slots (>= 0); nodes of a layer
    /// are at least 1 apart.
    pub position: Vec<f32>,
    /// Per input edge, in input order: the `(layer, position)` points it passes through
    /// between its ends (its dummy nodes), from upstream to downstream; empty if none
    /// (an edge between adjacent layers, a self loop, an edge ignored to break a cycle,
    /// or one left straight over the dummy budget).
    pub bends: Vec<Vec<(u32, f32)>>,
    /// Number of layers (0 for no nodes).
    pub layers: u32,
    /// Max position + 1 (0 for no nodes).
    pub breadth: f32,
}

/// Input [`layered`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// Edge number `edge` names node `id`, but there are only `n` nodes.
    UnknownNode { edge: usize, id: u32, n: usize },
    /// More than [`MAX_NODES`] nodes.
    TooManyNodes { n: usize },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::UnknownNode { edge, id, n } => {
                write!(f, "edge {edge} refers to node {id} but there are {n} nodes")
            }
            LayoutError::TooManyNodes { n } => {
                write!(f, "{n} nodes are too many to lay out (at most {MAX_NODES})")
            }
        }
    }
}

impl std::error::Error for LayoutError {}

const NONE: u32 = u32::MAX;

/// Lay out `n` nodes (ids `0..n`) joined by `edges` (`(from, to)`) in layers, left to
/// right. See the module documentation for the steps.
pub fn layered(n: usize, edges: &[(u32, u32)]) -> Result<Layout, LayoutError> {
    if n > MAX_NODES {
        return Err(LayoutError::TooManyNodes { n });
    }
    for (edge, &(u, v)) in edges.iter().enumerate() {
        for id in [u, v] {
            if id as usize >= n {
                return Err(LayoutError::UnknownNode { edge, id, n });
            }
        }
    }
    if n == 0 {
        return Ok(Layout { layer: Vec::new(), position: Vec::new(), bends: Vec::new(), layers: 0, breadth: 0.0 });
    }
    let (unique, of_input) = unique_edges(edges);
    let keep = forward_edges(n, &unique);
    let layer = layers_of(n, &unique, &keep);
    let mut g = Layered::new(n, &layer, &unique, &keep, dummy_budget(n));
    g.reduce_crossings();
    let x = g.coordinates();

    let position: Vec<f32> = x[..n].iter().map(|&q| q as f32).collect();
    let breadth = x.iter().fold(0.0f64, |m, &q| m.max(q)) + 1.0;
    let bends = of_input
        .iter()
        .map(|&e| {
            let start = if e == NONE { NONE } else { g.chain_start[e as usize] };
            if start == NONE {
                return Vec::new();
            }
            let (u, v) = unique[e as usize];
            let span = layer[v as usize] - layer[u as usize];
            (0..span - 1).map(|k| (layer[u as usize] + 1 + k, x[(start + k) as usize] as f32)).collect()
        })
        .collect();
    Ok(Layout { layer, position, bends, layers: g.layers.len() as u32, breadth: breadth as f32 })
}

/// Pixels of a left-to-right drawing of a [`Layout`]: layer `l`'s boxes span
/// `x(l)..x(l) + node_w`; a node at position `p` has its middle at `y(p)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// x of layer 0's left side.
    pub left: i64,
    /// From one layer's left side to the next one's.
    pub layer_pitch: i64,
    /// Width of a box (an edge runs straight across the layers it bends through).
    pub node_w: i64,
    /// y of the middle of position 0.
    pub mid: i64,
    /// From one position to the next (slot).
    pub slot_pitch: f64,
}

impl Geometry {
    /// x of layer `layer`'s left side.
    pub fn x(&self, layer: u32) -> i64 {
        self.left + layer as i64 * self.layer_pitch
    }

    /// y of the middle of `position`, rounded to a pixel.
    pub fn y(&self, position: f32) -> i64 {
        self.mid + (position as f64 * self.slot_pitch).round() as i64
    }

    /// The SVG path (`d`) of edge number `edge` of `layout`, from node `from`'s right
    /// side to node `to`'s left side, at their middles. Without bends, a straight line;
    /// with bends, an S-shaped cubic (level at both ends) from each layer to the next
    /// and straight across each bend's layer. Relative commands after the first point
    /// keep it short.
    pub fn path(&self, layout: &Layout, edge: usize, from: u32, to: u32) -> String {
        let (from, to) = (from as usize, to as usize);
        let (mut x, mut y) = (self.x(layout.layer[from]) + self.node_w, self.y(layout.position[from]));
        let (x1, y1) = (self.x(layout.layer[to]), self.y(layout.position[to]));
        let bends = &layout.bends[edge];
        let mut d = String::with_capacity(24 + 32 * bends.len());
        d.push('M');
        push_ints(&mut d, &[x, y]);
        for &(layer, position) in bends {
            let (bx, by) = (self.x(layer), self.y(position));
            let (gap, rise) = (bx - x, by - y);
            d.push('c');
            push_ints(&mut d, &[gap / 2, 0, gap / 2, rise, gap, rise]);
            d.push('h');
            push_ints(&mut d, &[self.node_w]);
            (x, y) = (bx + self.node_w, by);
        }
        let (gap, rise) = (x1 - x, y1 - y);
        if bends.is_empty() {
            d.push('l');
            push_ints(&mut d, &[gap, rise]);
        } else {
            d.push('c');
            push_ints(&mut d, &[gap / 2, 0, gap / 2, rise, gap, rise]);
        }
        d
    }
}

/// Append `values` in decimal, separated by spaces (a path's numbers: formatting them
/// by hand is a third of the time `write!` takes, and paths are most of the text of a
/// big picture).
fn push_ints(d: &mut String, values: &[i64]) {
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            d.push(' ');
        }
        if v < 0 {
            d.push('-');
        }
        let mut digits = [0u8; 20];
        let mut k = digits.len();
        let mut u = v.unsigned_abs();
        loop {
            k -= 1;
            digits[k] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        for &c in &digits[k..] {
            d.push(c as char);
        }
    }
}

/// The distinct edges without self loops, sorted, and per input edge the index of its
/// distinct edge (`NONE` for a self loop).
fn unique_edges(edges: &[(u32, u32)]) -> (Vec<(u32, u32)>, Vec<u32>) {
    let mut sorted: Vec<(u32, u32, u32)> =
        edges.iter().enumerate().filter(|(_, e)| e.0 != e.1).map(|(i, &(u, v))| (u, v, i as u32)).collect();
    sorted.sort_unstable();
    let mut unique = Vec::new();
    let mut of_input = vec![NONE; edges.len()];
    for &(u, v, i) in &sorted {
        if unique.last() != Some(&(u, v)) {
            unique.push((u, v));
        }
        of_input[i as usize] = (unique.len() - 1) as u32;
    }
    (unique, of_input)
}

/// Offsets of a compressed adjacency: `offsets[v]..offsets[v + 1]` indexes the entries
/// whose key is `v`, for keys given in any order. Returns `(offsets, slots)` where
/// `slots[i]` is where the `i`th key's entry goes.
fn csr(n: usize, keys: impl Iterator<Item = u32> + Clone) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; n + 1];
    for k in keys.clone() {
        offsets[k as usize + 1] += 1;
    }
    for v in 0..n {
        offsets[v + 1] += offsets[v];
    }
    let mut next = offsets.clone();
    let slots = keys
        .map(|k| {
            let s = next[k as usize];
            next[k as usize] += 1;
            s
        })
        .collect();
    (offsets, slots)
}

/// Which of the (sorted, distinct) edges to keep: all but those that go back to a node
/// on the stack of an iterative depth-first search.
fn forward_edges(n: usize, unique: &[(u32, u32)]) -> Vec<bool> {
    // `unique` is sorted by source: its out-edges of `v` are a contiguous range.
    let mut first = vec![0u32; n + 1];
    for &(u, _) in unique {
        first[u as usize + 1] += 1;
    }
    for v in 0..n {
        first[v + 1] += first[v];
    }
    let mut keep = vec![true; unique.len()];
    let mut color = vec![0u8; n]; // 0 unseen, 1 on the stack, 2 done
    let mut stack: Vec<(u32, u32)> = Vec::new(); // (node, next out-edge)
    for root in 0..n {
        if color[root] != 0 {
            continue;
        }
        color[root] = 1;
        stack.push((root as u32, first[root]));
        while let Some(top) = stack.last_mut() {
            let (v, e) = *top;
            if e == first[v as usize + 1] {
                color[v as usize] = 2;
                stack.pop();
                continue;
            }
            top.1 += 1;
            let w = unique[e as usize].1 as usize;
            match color[w] {
                0 => {
                    color[w] = 1;
                    stack.push((w as u32, first[w]));
                }
                1 => keep[e as usize] = false,
                _ => {}
            }
        }
    }
    keep
}

/// Longest-path layers over the kept edges, then sources moved right next to their
/// nearest successor.
fn layers_of(n: usize, unique: &[(u32, u32)], keep: &[bool]) -> Vec<u32> {
    let kept = || unique.iter().zip(keep).filter(|(_, k)| **k).map(|(e, _)| *e);
    let (offsets, slots) = csr(n, kept().map(|(u, _)| u));
    let mut out = vec![0u32; slots.len()];
    let mut indegree = vec![0u32; n];
    for ((_, v), s) in kept().zip(&slots) {
        out[*s as usize] = v;
        indegree[v as usize] += 1;
    }
    let is_source: Vec<bool> = indegree.iter().map(|&d| d == 0).collect();
    let mut layer = vec![0u32; n];
    let mut queue: Vec<u32> = (0..n as u32).filter(|&v| indegree[v as usize] == 0).collect();
    let mut head = 0;
    while head < queue.len() {
        let u = queue[head] as usize;
        head += 1;
        for &v in &out[offsets[u] as usize..offsets[u + 1] as usize] {
            let v = v as usize;
            layer[v] = layer[v].max(layer[u] + 1);
            indegree[v] -= 1;
            if indegree[v] == 0 {
                queue.push(v as u32);
            }
        }
    }
    for u in 0..n {
        let succ = &out[offsets[u] as usize..offsets[u + 1] as usize];
        if is_source[u] && !succ.is_empty() {
            layer[u] = succ.iter().map(|&v| layer[v as usize]).min().unwrap_or(1) - 1;
        }
    }
    layer
}

/// The layered graph: real nodes `0..n`, then dummies; links only between adjacent
/// layers.
struct Layered {
    n: usize,
    layer_of: Vec<u32>,
    /// Per distinct edge: its first dummy (the rest follow), or `NONE`.
    chain_start: Vec<u32>,
    /// Neighbours one layer left (`up`) and right (`down`), compressed.
    up_off: Vec<u32>,
    up: Vec<u32>,
    down_off: Vec<u32>,
    down: Vec<u32>,
    /// The nodes of each layer, in order.
    layers: Vec<Vec<u32>>,
    /// Per node: its index in its layer.
    slot: Vec<u32>,
}

impl Layered {
    fn new(n: usize, layer: &[u32], unique: &[(u32, u32)], keep: &[bool], budget: usize) -> Self {
        // Long edges, shortest first, get dummies while the budget lasts.
        let mut long: Vec<(u32, u32)> = unique
            .iter()
            .enumerate()
            .filter(|&(e, &(u, v))| keep[e] && layer[v as usize] - layer[u as usize] > 1)
            .map(|(e, &(u, v))| (layer[v as usize] - layer[u as usize], e as u32))
            .collect();
        long.sort_unstable();
        let mut chain_start = vec![NONE; unique.len()];
        let mut layer_of = layer.to_vec();
        for &(span, e) in &long {
            let need = (span - 1) as usize;
            if layer_of.len() - n + need > budget {
                break;
            }
            let start = layer_of.len() as u32;
            chain_start[e as usize] = start;
            let from = layer[unique[e as usize].0 as usize];
            layer_of.extend((1..span).map(|k| from + k));
        }
        // Links between adjacent layers.
        let mut links: Vec<(u32, u32)> = Vec::with_capacity(unique.len() + layer_of.len() - n);
        for (e, &(u, v)) in unique.iter().enumerate() {
            if !keep[e] {
                continue;
            }
            let span = layer[v as usize] - layer[u as usize];
            if span == 1 {
                links.push((u, v));
            } else if chain_start[e] != NONE {
                let s = chain_start[e];
                links.push((u, s));
                links.extend((0..span - 2).map(|k| (s + k, s + k + 1)));
                links.push((s + span - 2, v));
            }
        }
        let total = layer_of.len();
        let (up_off, slots) = csr(total, links.iter().map(|l| l.1));
        let mut up = vec![0u32; links.len()];
        for (l, s) in links.iter().zip(&slots) {
            up[*s as usize] = l.0;
        }
        let (down_off, slots) = csr(total, links.iter().map(|l| l.0));
        let mut down = vec![0u32; links.len()];
        for (l, s) in links.iter().zip(&slots) {
            down[*s as usize] = l.1;
        }
        let n_layers = layer_of.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut layers = vec![Vec::new(); n_layers];
        let mut slot = vec![0u32; total];
        for (v, &l) in layer_of.iter().enumerate() {
            let nodes = &mut layers[l as usize];
            slot[v] = nodes.len() as u32;
            nodes.push(v as u32);
        }
        Layered { n, layer_of, chain_start, up_off, up, down_off, down, layers, slot }
    }

    fn ups(&self, v: u32) -> &[u32] {
        &self.up[self.up_off[v as usize] as usize..self.up_off[v as usize + 1] as usize]
    }

    fn downs(&self, v: u32) -> &[u32] {
        &self.down[self.down_off[v as usize] as usize..self.down_off[v as usize + 1] as usize]
    }

    /// Barycenter sweeps, keeping the order with the fewest crossings.
    fn reduce_crossings(&mut self) {
        if self.layers.len() < 2 {
            return;
        }
        let mut best = self.crossings();
        let mut best_layers = self.layers.clone();
        let mut idle = 0;
        let mut movable = Vec::new();
        for sweep in 0..MAX_SWEEPS {
            if best == 0 {
                break;
            }
            if sweep % 2 == 0 {
                for l in 1..self.layers.len() {
                    self.reorder(l, true, &mut movable);
                }
            } else {
                for l in (0..self.layers.len() - 1).rev() {
                    self.reorder(l, false, &mut movable);
                }
            }
            let c = self.crossings();
            // A sweep that saves less than 1% of the crossings counts as idle (its
            // order is kept if it is the best yet); two idle sweeps in a row end it.
            idle = if c * 100 <= best * 99 { 0 } else { idle + 1 };
            if c < best {
                best = c;
                best_layers.clone_from(&self.layers);
            }
            if idle == 2 {
                break;
            }
        }
        self.layers = best_layers;
        for nodes in &self.layers {
            for (i, &v) in nodes.iter().enumerate() {
                self.slot[v as usize] = i as u32;
            }
        }
    }

    /// Sort layer `l` by the barycenter of each node's neighbours on the layer before
    /// (`from_up`) or after; nodes without such neighbours keep their slots.
    fn reorder(&mut self, l: usize, from_up: bool, movable: &mut Vec<(f64, u32)>) {
        let nodes = &self.layers[l];
        movable.clear();
        for (i, &v) in nodes.iter().enumerate() {
            let nb = if from_up { self.ups(v) } else { self.downs(v) };
            if !nb.is_empty() {
                let sum: u64 = nb.iter().map(|&w| self.slot[w as usize] as u64).sum();
                movable.push((sum as f64 / nb.len() as f64, i as u32));
            }
        }
        if movable.len() < 2 {
            return;
        }
        // Sorted by barycenter, ties in their current order; then dealt out to the
        // slots of the movable nodes, in slot order.
        movable.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))); // slots are distinct
        let mut order = self.layers[l].clone();
        let mut slots = movable.iter().map(|m| m.1).collect::<Vec<u32>>();
        slots.sort_unstable();
        for (&slot, m) in slots.iter().zip(movable.iter()) {
            order[slot as usize] = self.layers[l][m.1 as usize];
        }
        for &slot in &slots {
            self.slot[order[slot as usize] as usize] = slot;
        }
        self.layers[l] = order;
    }

    /// Crossings between all pairs of adjacent layers.
    fn crossings(&self) -> u64 {
        let mut total = 0u64;
        let mut seq: Vec<u32> = Vec::new();
        let mut tree: Vec<u32> = Vec::new();
        for l in 0..self.layers.len() - 1 {
            seq.clear();
            for &u in &self.layers[l] {
                let start = seq.len();
                seq.extend(self.downs(u).iter().map(|&w| self.slot[w as usize]));
                seq[start..].sort_unstable();
            }
            // Count pairs i < j with seq[i] > seq[j] with a Fenwick tree.
            let m = self.layers[l + 1].len();
            tree.clear();
            tree.resize(m + 1, 0);
            for (seen, &s) in seq.iter().enumerate() {
                let mut not_greater = 0u64;
                let mut i = s as usize + 1;
                while i > 0 {
                    not_greater += tree[i] as u64;
                    i &= i - 1;
                }
                total += seen as u64 - not_greater;
                let mut i = s as usize + 1;
                while i <= m {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
            }
        }
        total
    }

    /// Coordinates of every node (real and dummy), snapped to the grid, >= 0.
    fn coordinates(&self) -> Vec<f64> {
        let total = self.layer_of.len();
        let mut x: Vec<f64> = (0..total).map(|v| self.slot[v] as f64).collect();
        let mut desired = Vec::new();
        let mut weight = Vec::new();
        let mut around = Vec::new();
        let mut placed = Vec::new();
        let mut blocks = Vec::new();
        let last = self.layers.len() - 1;
        for _ in 0..COORDINATE_ROUNDS {
            let passes = (1..=last).map(|l| (l, true)).chain((0..last).rev().map(|l| (l, false)));
            for (l, from_up) in passes {
                let nodes = &self.layers[l];
                desired.clear();
                weight.clear();
                for &v in nodes {
                    let nb = if from_up { self.ups(v) } else { self.downs(v) };
                    if nb.is_empty() {
                        desired.push(x[v as usize]);
                        weight.push(LONE_WEIGHT);
                    } else {
                        around.clear();
                        around.extend(nb.iter().map(|&w| x[w as usize]));
                        around.sort_by(f64::total_cmp);
                        let k = around.len();
                        desired.push(if k % 2 == 1 { around[k / 2] } else { (around[k / 2 - 1] + around[k / 2]) / 2.0 });
                        weight.push(if v as usize >= self.n { DUMMY_WEIGHT } else { 1.0 });
                    }
                }
                placed.resize(nodes.len(), 0.0);
                isotonic_with_gaps(&desired, &weight, &mut placed, &mut blocks);
                for (&v, &p) in nodes.iter().zip(&placed) {
                    x[v as usize] = p;
                }
            }
        }
        // Snap to the grid in integers, keeping gaps >= 1 exactly, then shift to 0.
        let step = GRID as i64;
        let mut q: Vec<i64> = x.iter().map(|&p| (p * GRID).round() as i64).collect();
        for nodes in &self.layers {
            for pair in nodes.windows(2) {
                let (a, b) = (pair[0] as usize, pair[1] as usize);
                q[b] = q[b].max(q[a] + step);
            }
        }
        let low = q.iter().copied().min().unwrap_or(0);
        q.iter().map(|&p| (p - low) as f64 / GRID).collect()
    }
}

/// Place `desired.len()` ordered nodes: `out[j] >= out[j - 1] + 1`, minimising
/// `sum weight[j] * (out[j] - desired[j])^2` (pool adjacent violators on
/// `desired[j] - j`).
fn isotonic_with_gaps(desired: &[f64], weight: &[f64], out: &mut [f64], blocks: &mut Vec<(f64, f64, usize)>) {
    blocks.clear(); // (sum w, sum w y, len)
    for (j, (&d, &w)) in desired.iter().zip(weight).enumerate() {
        let mut b = (w, w * (d - j as f64), 1usize);
        while let Some(&top) = blocks.last() {
            if top.1 / top.0 > b.1 / b.0 {
                b = (top.0 + b.0, top.1 + b.1, top.2 + b.2);
                blocks.pop();
            } else {
                break;
            }
        }
        blocks.push(b);
    }
    let mut j = 0;
    for &(w, wy, len) in blocks.iter() {
        let z = wy / w;
        for _ in 0..len {
            out[j] = z + j as f64;
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Crossings between adjacent layers among edges with no bends, and the bend
    /// segments of the others, counted from the output positions.
    fn drawn_crossings(layout: &Layout, edges: &[(u32, u32)]) -> usize {
        let mut segs: Vec<(u32, f32, f32)> = Vec::new(); // (left layer, left pos, right pos)
        for (i, &(u, v)) in edges.iter().enumerate() {
            let mut pts = vec![(layout.layer[u as usize], layout.position[u as usize])];
            pts.extend(layout.bends[i].iter().copied());
            pts.push((layout.layer[v as usize], layout.position[v as usize]));
            for w in pts.windows(2) {
                if w[1].0 == w[0].0 + 1 {
                    segs.push((w[0].0, w[0].1, w[1].1));
                }
            }
        }
        let mut count = 0;
        for (i, a) in segs.iter().enumerate() {
            for b in &segs[i + 1..] {
                if a.0 == b.0 && (a.1 - b.1) * (a.2 - b.2) < 0.0 {
                    count += 1;
                }
            }
        }
        count
    }

    /// Every layer's positions are >= 0 and at least 1 apart, bends included.
    fn check_gaps(layout: &Layout) {
        let mut by_layer: Vec<Vec<f32>> = vec![Vec::new(); layout.layers as usize];
        for (l, p) in layout.layer.iter().zip(&layout.position) {
            by_layer[*l as usize].push(*p);
        }
        for bends in &layout.bends {
            for &(l, p) in bends {
                by_layer[l as usize].push(p);
            }
        }
        for ps in &mut by_layer {
            ps.sort_by(f32::total_cmp);
            assert!(ps.iter().all(|&p| p >= 0.0 && p < layout.breadth));
            for w in ps.windows(2) {
                assert!(w[1] - w[0] >= 1.0, "gap {} < 1", w[1] - w[0]);
            }
        }
    }

    fn chain(n: u32) -> Vec<(u32, u32)> {
        (1..n).map(|i| (i - 1, i)).collect()
    }

    #[test]
    fn empty() {
        let l = layered(0, &[]).unwrap();
        assert_eq!((l.layers, l.breadth, l.layer.len(), l.bends.len()), (0, 0.0, 0, 0));
    }

    #[test]
    fn single_node_and_no_edges() {
        let l = layered(3, &[]).unwrap();
        assert_eq!(l.layer, vec![0, 0, 0]);
        assert_eq!(l.position, vec![0.0, 1.0, 2.0]);
        assert_eq!((l.layers, l.breadth), (1, 3.0));
    }

    #[test]
    fn bad_endpoint() {
        assert_eq!(layered(2, &[(0, 1), (1, 2)]), Err(LayoutError::UnknownNode { edge: 1, id: 2, n: 2 }));
        assert_eq!(layered(0, &[(0, 0)]), Err(LayoutError::UnknownNode { edge: 0, id: 0, n: 0 }));
        assert!(matches!(layered(MAX_NODES + 1, &[]), Err(LayoutError::TooManyNodes { .. })));
    }

    #[test]
    fn chain_is_a_straight_row() {
        let edges = chain(50);
        let l = layered(50, &edges).unwrap();
        assert_eq!(l.layer, (0..50).collect::<Vec<u32>>());
        assert!(l.position.iter().all(|&p| p == 0.0));
        assert_eq!((l.layers, l.breadth), (50, 1.0));
        assert!(l.bends.iter().all(Vec::is_empty));
    }

    #[test]
    fn diamond() {
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3)];
        let l = layered(4, &edges).unwrap();
        assert_eq!(l.layer, vec![0, 1, 1, 2]);
        assert_eq!((l.position[2] - l.position[1]).abs(), 1.0);
        // The ends sit midway between the middle two.
        let mid = (l.position[1] + l.position[2]) / 2.0;
        assert_eq!((l.position[0], l.position[3]), (mid, mid));
        check_gaps(&l);
    }

    #[test]
    fn wide_fan_out_fan_in() {
        let k = 1000u32;
        let mut edges: Vec<(u32, u32)> = (1..=k).map(|i| (0, i)).collect();
        edges.extend((1..=k).map(|i| (i, k + 1)));
        let l = layered(k as usize + 2, &edges).unwrap();
        assert_eq!(l.layers, 3);
        assert_eq!(l.breadth, k as f32);
        let mid = (k - 1) as f32 / 2.0;
        assert_eq!((l.position[0], l.position[k as usize + 1]), (mid, mid));
        assert_eq!(drawn_crossings(&l, &edges), 0);
        check_gaps(&l);
    }

    #[test]
    fn long_edges_get_bends() {
        // 0 -> 1 -> 2 -> 3, and 0 -> 3 spanning three layers.
        let mut edges = chain(4);
        edges.push((0, 3));
        let l = layered(4, &edges).unwrap();
        assert_eq!(l.bends[3].len(), 2);
        assert_eq!(l.bends[3].iter().map(|b| b.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(l.bends[..3].iter().all(Vec::is_empty));
        check_gaps(&l);
    }

    #[test]
    fn source_moves_next_to_its_successor() {
        // A chain 0..5 and a source 5 feeding only its end.
        let mut edges = chain(5);
        edges.push((5, 4));
        let l = layered(6, &edges).unwrap();
        assert_eq!(l.layer[5], 3);
        assert!(l.bends[4].is_empty());
    }

    #[test]
    fn over_budget_longest_edges_are_straight() {
        // A chain of 2000 and a hub 0 feeding every node of it: spans 1..1999 would
        // need about 2 million dummies; the budget is 4 * 2000 + 1000 = 9000.
        let n = 2000u32;
        let mut edges = chain(n);
        edges.extend((2..n).map(|i| (0, i)));
        let l = layered(n as usize, &edges).unwrap();
        let hub = &l.bends[n as usize - 1..];
        let dummies: usize = l.bends.iter().map(Vec::len).sum();
        assert!(dummies <= dummy_budget(n as usize));
        // Shortest first: a prefix of the hub's edges has bends, the rest none.
        let with = hub.iter().take_while(|b| !b.is_empty()).count();
        assert!(with > 100 && with < hub.len());
        assert!(hub[with..].iter().all(Vec::is_empty));
        assert!(dummies + with + 1 > dummy_budget(n as usize)); // the next one would not fit
        check_gaps(&l);
    }

    #[test]
    fn cycle_is_broken() {
        let edges = [(0, 1), (1, 2), (2, 0), (2, 3)];
        let l = layered(4, &edges).unwrap();
        assert_eq!(l.layer, vec![0, 1, 2, 3]);
        assert!(l.bends.iter().all(Vec::is_empty));
        // A cycle through every node, and a graph that is one big cycle.
        let ring: Vec<(u32, u32)> = (0..1000).map(|i| (i, (i + 1) % 1000)).collect();
        let l = layered(1000, &ring).unwrap();
        assert_eq!(l.layers, 1000);
    }

    #[test]
    fn self_loops_and_duplicates_are_ignored() {
        let edges = [(0, 0), (0, 1), (0, 1), (1, 1), (0, 2), (1, 2), (0, 2)];
        let l = layered(3, &edges).unwrap();
        assert_eq!(l.layer, vec![0, 1, 2]);
        assert_eq!(l.bends[4].len(), 1);
        assert_eq!(l.bends[4], l.bends[6]);
        assert!(l.bends[0].is_empty() && l.bends[3].is_empty());
        let plain = layered(3, &[(0, 1), (0, 2), (1, 2)]).unwrap();
        assert_eq!((&l.layer, &l.position, l.layers, l.breadth), (&plain.layer, &plain.position, plain.layers, plain.breadth));
        assert_eq!(l.bends[4], plain.bends[1]);
    }

    #[test]
    fn ordering_removes_crossings() {
        // Layer 0: 0, 1, 2; layer 1: 3, 4, 5, wired in reverse. In id order every pair of
        // edges crosses (3 crossings); the sweeps untangle them.
        let edges = [(0, 5), (1, 4), (2, 3)];
        let l = layered(6, &edges).unwrap();
        assert_eq!(drawn_crossings(&l, &edges), 0);
        // Two layers of a "K2,2 plus crossings" shape.
        let edges = [(0, 3), (0, 4), (1, 2), (1, 5), (6, 2), (6, 7)];
        let l = layered(8, &edges).unwrap();
        assert_eq!(drawn_crossings(&l, &edges), 0);
    }

    fn random_dag(n: u32, per_node: u32, seed: u64) -> Vec<(u32, u32)> {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut edges = Vec::new();
        for v in 1..n {
            for _ in 0..per_node {
                let back = 1 + next() % (v as u64).min(50);
                edges.push(((v as u64 - back) as u32, v));
            }
        }
        edges.sort_unstable();
        edges.dedup(); // check_gaps counts each bend once
        edges
    }

    #[test]
    fn deterministic_and_well_spaced_on_a_random_dag() {
        let edges = random_dag(3000, 3, 42);
        let a = layered(3000, &edges).unwrap();
        let b = layered(3000, &edges).unwrap();
        assert_eq!(a, b);
        check_gaps(&a);
        assert!(a.bends.iter().any(|b| !b.is_empty()));
    }

    #[test]
    fn paths_start_and_end_at_the_boxes() {
        let g = Geometry { left: 8, layer_pitch: 240, node_w: 180, mid: 38, slot_pitch: 76.0 };
        let mut edges = chain(4);
        edges.push((0, 3));
        let l = layered(4, &edges).unwrap();
        let y = |v: usize| g.y(l.position[v]);
        assert_eq!(g.path(&l, 0, 0, 1), format!("M188 {}l60 {}", y(0), y(1) - y(0)));
        let long = g.path(&l, 3, 0, 3);
        assert!(long.starts_with(&format!("M188 {}c30 0 30 ", y(0))));
        assert_eq!(long.matches('c').count(), 3);
        assert_eq!(long.matches("h180").count(), 2);
        // The relative moves add up to the downstream box's left side.
        let (mut x, mut yy) = (188i64, y(0));
        let pieces: Vec<&str> = long.split(['c', 'h']).skip(1).collect();
        for p in pieces {
            let v: Vec<i64> = p.split(' ').map(|w| w.parse().unwrap()).collect();
            if v.len() == 6 {
                x += v[4];
                yy += v[5];
            } else {
                x += v[0];
            }
        }
        assert_eq!((x, yy), (g.x(3), y(3)));
    }

    #[test]
    fn numbers_in_paths() {
        let mut d = String::new();
        push_ints(&mut d, &[0, -7, 1234567890, i64::MIN + 1, 10]);
        assert_eq!(d, format!("0 -7 1234567890 {} 10", i64::MIN + 1));
    }
}
