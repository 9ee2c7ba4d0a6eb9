//! `next_inline` hands out exactly what `next_batch(1, now)` would have handed out
//! first, whenever that is a run of an inline task. Seeded random flows (triggers,
//! failures, retries due at once and later, tasks that are not inline) are driven
//! twice, once with `next_batch(1, now)` only and once taking runs through
//! `next_inline` whenever it gives one; every hand-out and the final states must match.

use ferroflow_core::state::*;
use ferroflow_core::{EdgeSpec, Graph, ItemKind, RetryDelays, Run, TaskSpec, Trigger};

mod common;
use common::Rng;

struct Flow {
    n: u32,
    edges: Vec<EdgeSpec>,
    specs: Vec<TaskSpec>,
    inline: Vec<bool>,
    seed: u64,
}

fn random_flow(seed: u64) -> Flow {
    let mut rng = Rng(seed);
    let n = 2 + rng.below(40) as u32;
    let mut edges = Vec::new();
    let mut specs = Vec::new();
    let mut inline = Vec::new();
    for d in 0..n {
        for _ in 0..rng.below(4) {
            if d > 0 {
                edges.push(EdgeSpec { upstream: rng.below(d as u64) as u32, downstream: d, mapped: false, flattened: false });
            }
        }
        let trigger = match rng.below(4) {
            0 => Trigger::AllFinished,
            1 => Trigger::AnyFailed,
            _ => Trigger::AllSuccessful,
        };
        let max_retries = rng.below(3) as u8;
        let delay = if rng.below(2) == 0 { 0 } else { 5 };
        specs.push(TaskSpec {
            trigger,
            skip_on_upstream_skip: rng.below(2) == 0,
            max_retries,
            retry_delays: RetryDelays::fixed(delay),
            ..TaskSpec::default()
        });
        inline.push(rng.below(5) != 0);
    }
    Flow { n, edges, specs, inline, seed }
}

/// The outcome of a run: the same for both drives (from the task and its run count).
fn outcome(seed: u64, task: u32, runs: u8) -> u8 {
    let mut rng = Rng(seed ^ ((task as u64) << 8) ^ runs as u64);
    match rng.below(6) {
        0 => FAILED | RETRY_OK,
        1 => FAILED,
        2 => SKIPPED,
        _ => SUCCESS,
    }
}

/// Drive a run of `flow` to its end; returns every hand-out and the final states.
fn drive(flow: &Flow, use_inline: bool) -> (Vec<(u32, u8, u64)>, Vec<u8>) {
    let names = (0..flow.n).map(|i| format!("t{i}")).collect();
    let graph = Graph::new(names, flow.edges.clone()).expect("acyclic");
    let mut run = Run::new(graph, flow.specs.clone()).expect("specs");
    if use_inline {
        for (t, &on) in flow.inline.iter().enumerate() {
            if on {
                run.mark_inline(t as u32).expect("task");
            }
        }
    }
    let mut handed = Vec::new();
    let mut now = 0u64;
    for _ in 0..10_000 {
        if run.is_complete() {
            break;
        }
        let inline = if use_inline { run.next_inline(now) } else { None };
        let (task, runs) = match inline {
            Some(pair) => pair,
            None => {
                let items = run.next_batch(1, now);
                let Some(item) = items.first() else {
                    now = run.next_timer().expect("a run that is not complete waits for a timer");
                    continue;
                };
                assert!(item.kind == ItemKind::Run && item.indices.is_none(), "only task runs in these flows");
                (item.task, run.task_run_count(item.task))
            }
        };
        handed.push((task, runs, now));
        run.report(task, None, &[outcome(flow.seed, task, runs)], now).expect("report");
    }
    assert!(run.is_complete(), "seed {}: the run did not end", flow.seed);
    (handed, run.task_states().to_vec())
}

#[test]
fn next_inline_hands_out_what_next_batch_would() {
    let mut inline_runs = 0usize;
    for seed in 0..400u64 {
        let flow = random_flow(seed);
        let batch = drive(&flow, false);
        let inline = drive(&flow, true);
        assert_eq!(batch, inline, "seed {seed}");
        inline_runs += inline.0.iter().filter(|(t, _, _)| flow.inline[*t as usize]).count();
    }
    assert!(inline_runs > 1000, "the flows exercised inline runs ({inline_runs})");
}

#[test]
fn next_inline_gives_nothing_for_other_work() {
    // t0 -> t1 -> t2; only t1 is inline.
    let edges = vec![
        EdgeSpec { upstream: 0, downstream: 1, mapped: false, flattened: false },
        EdgeSpec { upstream: 1, downstream: 2, mapped: false, flattened: false },
    ];
    let graph = Graph::new(vec!["a".into(), "b".into(), "c".into()], edges).expect("acyclic");
    let mut run = Run::new(graph, vec![TaskSpec::default(); 3]).expect("specs");
    run.mark_inline(1).expect("task");
    assert!(run.mark_inline(3).is_err());
    assert_eq!(run.next_inline(0), None, "t0 is ready but not inline");
    let items = run.next_batch(10, 0);
    assert_eq!(items.len(), 1);
    run.report(0, None, &[SUCCESS], 0).expect("report");
    assert_eq!(run.next_inline(0), Some((1, 1)));
    assert_eq!(run.task_state(1), RUNNING);
    assert_eq!(run.next_inline(0), None, "handed out once");
    assert_eq!(run.in_flight(), 1);
    run.report(1, None, &[SUCCESS], 0).expect("report");
    assert_eq!(run.next_inline(0), None, "t2 is not inline");
    assert_eq!(run.next_batch(10, 0).len(), 1);
}
