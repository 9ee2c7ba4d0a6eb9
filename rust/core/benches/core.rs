//! Benchmarks of the scheduling core on a million tasks.
//!
//! * `graph_new/random_dag_1m`: freezing a 1,000,000-node random DAG (each node has 1-3
//!   upstreams among the previous 100 nodes): CSR adjacency + topological order.
//! * `run/random_dag_1m`: a full simulated run of that DAG: `Run::new`, then
//!   `next_batch(65_536, 0)` / `report(SUCCESS)` until complete.
//! * `run/map_1m_reduce`: one mapped task with 1,000,000 children and a reduce.
//!
//! Throughput is in state transitions: every task run counts two (Pending -> Running
//! and Running -> Success). A run bench times `Run::new`, the loop and dropping the
//! run. Besides criterion's own report, each run bench prints its median transitions
//! per second over five plain timed runs, with the time of each phase.
//!
//! `cargo bench -p ferroflow-core` (about two minutes on two cores).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use ferroflow_core::state::SUCCESS;
use ferroflow_core::{EdgeSpec, Graph, ItemKind, Run, TaskSpec};

const N: u32 = 1_000_000;
const BATCH: usize = 65_536;

/// xorshift64*: a tiny seeded generator, so the DAG is the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every node after the first gets 1-3 distinct upstreams among the previous 100.
fn random_dag(n: u32, seed: u64) -> (Vec<String>, Vec<EdgeSpec>) {
    let mut rng = XorShift(seed);
    let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let mut edges = Vec::with_capacity(2 * n as usize);
    for d in 1..n {
        let window = d.min(100) as u64;
        let k = 1 + rng.below(3).min(window - 1);
        let mut picked = [u32::MAX; 3];
        for slot in 0..k as usize {
            let up = loop {
                let up = d - 1 - rng.below(window) as u32;
                if !picked.contains(&up) {
                    break up;
                }
            };
            picked[slot] = up;
            edges.push(EdgeSpec { upstream: up, downstream: d, mapped: false, flattened: false });
        }
    }
    (names, edges)
}

/// list -> map (N children) -> reduce
fn map_reduce() -> (Vec<String>, Vec<EdgeSpec>) {
    let names = vec!["list".to_string(), "map".to_string(), "reduce".to_string()];
    let edges = vec![
        EdgeSpec { upstream: 0, downstream: 1, mapped: true, flattened: false },
        EdgeSpec { upstream: 1, downstream: 2, mapped: false, flattened: false },
    ];
    (names, edges)
}

/// Drive a run to completion, every task run succeeding. Returns the number of task
/// runs (each is two state transitions) and the time spent in `Run::new`, in the
/// next_batch/report loop and in dropping the run.
fn simulate_timed(graph: Graph, width: u32) -> (u64, [Duration; 3]) {
    let start = Instant::now();
    let specs = vec![TaskSpec::default(); graph.len()];
    let mut run = Run::new(graph, specs).expect("specs");
    let created = Instant::now();
    let codes = vec![SUCCESS; BATCH];
    let mut runs = 0u64;
    while !run.is_complete() {
        let items = run.next_batch(BATCH, 0);
        assert!(!items.is_empty(), "stalled");
        for it in items {
            match (it.kind, it.indices) {
                (ItemKind::Prepare, _) => run.prepared(it.task, Some(width), &[], None).expect("prepared"),
                (ItemKind::Run, None) => {
                    runs += 1;
                    run.report(it.task, None, &codes[..1], 0).expect("report");
                }
                (ItemKind::Run, Some(ix)) => {
                    runs += ix.len() as u64;
                    run.report(it.task, Some(&ix), &codes[..ix.len()], 0).expect("report");
                }
                (ItemKind::Decided(_), _) => unreachable!("no task is observed"),
            }
        }
    }
    let finished = Instant::now();
    drop(run);
    (runs, [created - start, finished - created, finished.elapsed()])
}

fn simulate(graph: Graph, width: u32) -> u64 {
    simulate_timed(graph, width).0
}

/// Time a few plain runs and print the median transitions per second, with the
/// median time of each phase.
fn print_rate(label: &str, graph: &Graph, width: u32) -> u64 {
    let mut totals = Vec::new();
    let mut phases: [Vec<f64>; 3] = Default::default();
    let mut runs = 0;
    for _ in 0..5 {
        let g = graph.clone();
        let (r, p) = black_box(simulate_timed(g, width));
        runs = r;
        totals.push(p.iter().map(|d| d.as_secs_f64()).sum::<f64>());
        for (k, d) in p.iter().enumerate() {
            phases[k].push(d.as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let total = median(&mut totals);
    let [new, looped, dropped] = phases.map(|mut v| median(&mut v) * 1e3);
    let transitions = 2 * runs;
    println!(
        "{label}: {runs} task runs = {transitions} transitions in {:.1} ms (median of 5): {:.2} M transitions/s \
         [Run::new {new:.1} ms, next_batch/report loop {looped:.1} ms ({:.2} M transitions/s), drop {dropped:.1} ms]",
        total * 1e3,
        transitions as f64 / total / 1e6,
        transitions as f64 / (looped / 1e3) / 1e6,
    );
    transitions
}

fn benches(c: &mut Criterion) {
    let (names, edges) = random_dag(N, 0x5EED_F00D);
    let graph = Graph::new(names.clone(), edges.clone()).expect("acyclic");
    println!("random DAG: {} tasks, {} edges", graph.len(), graph.edges().len());

    let mut g = c.benchmark_group("graph_new");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("random_dag_1m", |b| {
        b.iter_batched(
            || (names.clone(), edges.clone()),
            |(n, e)| Graph::new(n, e).expect("acyclic"),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    drop((names, edges));

    let (mnames, medges) = map_reduce();
    let mgraph = Graph::new(mnames, medges).expect("acyclic");
    let dag_transitions = print_rate("run/random_dag_1m", &graph, 0);
    let map_transitions = print_rate("run/map_1m_reduce", &mgraph, N);

    let mut g = c.benchmark_group("run");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(dag_transitions));
    g.bench_function("random_dag_1m", |b| {
        b.iter_batched(|| graph.clone(), |gr| simulate(gr, 0), BatchSize::PerIteration)
    });
    g.throughput(Throughput::Elements(map_transitions));
    g.bench_function("map_1m_reduce", |b| {
        b.iter_batched(|| mgraph.clone(), |gr| simulate(gr, N), BatchSize::PerIteration)
    });
    g.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
