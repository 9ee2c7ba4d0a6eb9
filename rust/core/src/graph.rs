//! A flow frozen into a compact graph: CSR adjacency, topological order, cycle check.

use std::sync::Arc;

use crate::error::CoreError;

/// One edge as the Python layer describes it. `mapped` edges feed a mapped task one
/// element (or one upstream child) per child; `flattened` edges un-nest one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSpec {
    pub upstream: u32,
    pub downstream: u32,
    pub mapped: bool,
    pub flattened: bool,
}

/// Compressed adjacency: the neighbours of node `v` are `items[offsets[v]..offsets[v+1]]`.
#[derive(Debug, Clone)]
pub struct Csr {
    pub(crate) offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Csr {
    fn build(n: usize, pairs: impl Iterator<Item = (u32, u32)> + Clone) -> Csr {
        let mut offsets = vec![0u32; n + 1];
        for (from, _) in pairs.clone() {
            offsets[from as usize + 1] += 1;
        }
        for v in 0..n {
            offsets[v + 1] += offsets[v];
        }
        let mut fill = offsets.clone();
        let mut items = vec![0u32; offsets[n] as usize];
        for (from, item) in pairs {
            let slot = &mut fill[from as usize];
            items[*slot as usize] = item;
            *slot += 1;
        }
        Csr { offsets, items }
    }

    #[inline]
    pub fn of(&self, v: u32) -> &[u32] {
        &self.items[self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize]
    }
}

/// A frozen flow graph. Tasks are numbered `0..n`; names are kept for error messages.
///
/// The names are shared between clones (each run of a flow starts from a clone of its
/// frozen graph): one heap object per task, copied and freed with every clone before.
#[derive(Debug, Clone)]
pub struct Graph {
    names: Arc<Vec<String>>,
    edges: Vec<EdgeSpec>,
    /// Edge indices entering each task.
    pub in_edges: Csr,
    /// Edge indices leaving each task.
    pub out_edges: Csr,
    order: Vec<u32>,
    rank: Vec<u32>,
}

impl Graph {
    /// Freeze a graph; fails with [`CoreError::Cycle`] naming the tasks on a cycle.
    pub fn new(names: Vec<String>, edges: Vec<EdgeSpec>) -> Result<Graph, CoreError> {
        let n = names.len();
        for e in &edges {
            for id in [e.upstream, e.downstream] {
                if id as usize >= n {
                    return Err(CoreError::UnknownTask { id, n_tasks: n as u32 });
                }
            }
        }
        let in_edges = Csr::build(
            n,
            edges.iter().enumerate().map(|(i, e)| (e.downstream, i as u32)),
        );
        let out_edges = Csr::build(
            n,
            edges.iter().enumerate().map(|(i, e)| (e.upstream, i as u32)),
        );
        let mut graph = Graph { names: Arc::new(names), edges, in_edges, out_edges, order: Vec::new(), rank: Vec::new() };
        graph.sort()?;
        Ok(graph)
    }

    /// Kahn's algorithm; ties are broken by task id, so the order is deterministic and
    /// follows insertion order where the graph allows.
    fn sort(&mut self) -> Result<(), CoreError> {
        let n = self.names.len();
        let mut indegree: Vec<u32> = (0..n as u32).map(|v| self.in_edges.of(v).len() as u32).collect();
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<u32>> = (0..n as u32)
            .filter(|&v| indegree[v as usize] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(v)) = heap.pop() {
            order.push(v);
            for &e in self.out_edges.of(v) {
                let d = self.edges[e as usize].downstream;
                indegree[d as usize] -= 1;
                if indegree[d as usize] == 0 {
                    heap.push(std::cmp::Reverse(d));
                }
            }
        }
        if order.len() < n {
            return Err(CoreError::Cycle(self.find_cycle(&indegree)));
        }
        let mut rank = vec![0u32; n];
        for (r, &v) in order.iter().enumerate() {
            rank[v as usize] = r as u32;
        }
        self.order = order;
        self.rank = rank;
        Ok(())
    }

    /// Every task left with a positive indegree after Kahn's algorithm has a
    /// predecessor that is also left, so walking predecessors must revisit a task:
    /// the walk between the two visits is a cycle.
    fn find_cycle(&self, indegree: &[u32]) -> Vec<String> {
        let start = (0..indegree.len()).find(|&v| indegree[v] > 0).expect("a task on a cycle") as u32;
        let mut position = vec![u32::MAX; indegree.len()];
        let mut walk: Vec<u32> = Vec::new();
        let mut v = start;
        while position[v as usize] == u32::MAX {
            position[v as usize] = walk.len() as u32;
            walk.push(v);
            v = self
                .in_edges
                .of(v)
                .iter()
                .map(|&e| self.edges[e as usize].upstream)
                .filter(|&u| indegree[u as usize] > 0)
                .min()
                .expect("a task left by Kahn's algorithm has a remaining predecessor");
        }
        // walk[pos..] visits the cycle backwards; reverse it into flow order.
        let mut cycle: Vec<u32> = walk[position[v as usize] as usize..].to_vec();
        cycle.reverse();
        // Start the reported cycle at its smallest id so messages are stable.
        let min_at = cycle.iter().enumerate().min_by_key(|(_, &t)| t).map(|(i, _)| i).unwrap_or(0);
        cycle.rotate_left(min_at);
        let mut names: Vec<String> = cycle.iter().map(|&t| self.names[t as usize].clone()).collect();
        names.push(names[0].clone());
        names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn name(&self, task: u32) -> &str {
        &self.names[task as usize]
    }

    pub fn edges(&self) -> &[EdgeSpec] {
        &self.edges
    }

    pub fn edge(&self, index: u32) -> &EdgeSpec {
        &self.edges[index as usize]
    }

    /// Tasks in topological order.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Position of a task in the topological order.
    pub fn rank(&self, task: u32) -> u32 {
        self.rank[task as usize]
    }

    /// Whether any edge entering `task` is mapped.
    pub fn is_mapped(&self, task: u32) -> bool {
        self.in_edges.of(task).iter().any(|&e| self.edges[e as usize].mapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(u: u32, d: u32) -> EdgeSpec {
        EdgeSpec { upstream: u, downstream: d, mapped: false, flattened: false }
    }

    fn names(n: usize) -> Vec<String> {
        ["a", "b", "c", "d", "e", "f"].iter().take(n).map(|s| s.to_string()).collect()
    }

    #[test]
    fn orders_topologically() {
        let g = Graph::new(names(4), vec![edge(2, 1), edge(1, 0), edge(3, 0)]).unwrap();
        let order = g.order();
        let pos = |t: u32| order.iter().position(|&x| x == t).unwrap();
        assert!(pos(2) < pos(1) && pos(1) < pos(0) && pos(3) < pos(0));
        assert_eq!(order, &[2, 1, 3, 0]);
    }

    #[test]
    fn cycle_names_the_path_in_order() {
        let err = Graph::new(names(4), vec![edge(0, 1), edge(1, 2), edge(2, 0), edge(2, 3)]).unwrap_err();
        assert_eq!(err, CoreError::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
        assert_eq!(err.to_string(), "Cycle found; flows must be acyclic: a -> b -> c -> a");
    }

    #[test]
    fn self_loop() {
        let err = Graph::new(names(2), vec![edge(0, 1), edge(1, 1)]).unwrap_err();
        assert_eq!(err, CoreError::Cycle(vec!["b".into(), "b".into()]));
    }

    #[test]
    fn cycle_downstream_of_an_acyclic_part() {
        // d -> e -> d behind a -> d
        let err = Graph::new(names(5), vec![edge(0, 3), edge(3, 4), edge(4, 3)]).unwrap_err();
        assert_eq!(err, CoreError::Cycle(vec!["d".into(), "e".into(), "d".into()]));
    }

    #[test]
    fn back_edge_in_a_long_chain() {
        let n = 10_000u32;
        let mut edges: Vec<EdgeSpec> = (0..n - 1).map(|i| edge(i, i + 1)).collect();
        edges.push(edge(n - 1, 5_000));
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        match Graph::new(names, edges).unwrap_err() {
            CoreError::Cycle(path) => {
                assert_eq!(path.len(), 5_001);
                assert_eq!(path.first().unwrap(), "t5000");
                assert_eq!(path[1], "t5001");
                assert_eq!(path.last().unwrap(), "t5000");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_task() {
        assert!(matches!(
            Graph::new(names(1), vec![edge(0, 3)]),
            Err(CoreError::UnknownTask { id: 3, n_tasks: 1 })
        ));
    }
}
