//! The order in which `next_batch` hands out work is part of the core's behaviour
//! (deepest topological rank first, a task's children in the order they became ready,
//! proposals of observed tasks before anything else of that task). This test drives
//! seeded random flows through every part of the batch API (mapping, flattening,
//! duplicated edges, observed and decided tasks, retries with timers, custom triggers,
//! pauses and cancellation) and writes down everything the core says along the way:
//! each batch, each report's effect on the states, timers, tallies and the verdict.
//! The trace is hashed; the digests were recorded with the core as it was before its
//! data structures were reworked for speed (BTreeSet ready set, one VecDeque per task),
//! so any change in ordering or outcome shows up as a different digest.
//!
//! `FERROFLOW_TRACE_DIR=dir cargo test -p ferroflow-core --test order` writes the
//! traces out, to diff two versions of the core when a digest moves.

use ferroflow_core::state::*;
use ferroflow_core::{Bound, EdgeSpec, Graph, ItemKind, RetryDelays, Run, TaskSpec, Trigger};
use std::fmt::Write;

mod common;
use common::Rng;

/// FNV-1a over the trace text.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

struct Flow {
    names: Vec<String>,
    edges: Vec<EdgeSpec>,
    specs: Vec<TaskSpec>,
}

/// A random flow of up to `max_tasks` tasks whose ids are shuffled, so that
/// topological ranks differ from ids.
fn random_flow(rng: &mut Rng, max_tasks: u64) -> Flow {
    let n = 1 + rng.below(max_tasks) as u32;
    let mut perm: Vec<u32> = (0..n).collect();
    for k in (1..n as usize).rev() {
        perm.swap(k, rng.below(k as u64 + 1) as usize);
    }
    let mut edges = Vec::new();
    for d in 1..n {
        for _ in 0..rng.below(4) {
            let up = rng.below(d as u64) as u32;
            let mapped = rng.chance(30);
            let flattened = rng.chance(10);
            let e = EdgeSpec { upstream: perm[up as usize], downstream: perm[d as usize], mapped, flattened };
            edges.push(e);
            if rng.chance(10) {
                edges.push(e);
            }
        }
    }
    let bound = |rng: &mut Rng| match rng.below(4) {
        0 => Bound::Default,
        1 => Bound::Value(0.5),
        2 => Bound::Value(1.0),
        _ => Bound::Value(2.0),
    };
    let specs = (0..n)
        .map(|_| {
            let trigger = match rng.below(14) {
                0 => Trigger::AllFailed,
                1 => Trigger::AnySuccessful,
                2 => Trigger::AnyFailed,
                3 => Trigger::AllFinished,
                4 => Trigger::NotAllSkipped,
                5 => Trigger::SomeSuccessful { at_least: bound(rng), at_most: bound(rng) },
                6 => Trigger::SomeFailed { at_least: bound(rng), at_most: bound(rng) },
                7 => Trigger::Custom,
                _ => Trigger::AllSuccessful,
            };
            let delays: Vec<u64> = (0..rng.below(3)).map(|_| rng.below(6)).collect();
            let jitter = [0.0, 0.0, 0.5, 1.0][rng.below(4) as usize];
            TaskSpec {
                trigger,
                skip_on_upstream_skip: rng.chance(80),
                max_retries: rng.below(3) as u8,
                retry_delays: RetryDelays::per_attempt(delays).with_jitter(jitter, rng.next()).unwrap(),
                n_constants: if rng.chance(15) { 1 + rng.below(2) as u32 } else { 0 },
                observed: rng.chance(20),
                decided: if rng.chance(5) { Some([SUCCESS, SKIPPED, FAILED, CANCELLED][rng.below(4) as usize]) } else { None },
            }
        })
        .collect();
    Flow { names: (0..n).map(|i| format!("t{i}")).collect(), edges, specs }
}

/// The outcome the fake engine reports for a run.
fn outcome(rng: &mut Rng, pause: bool) -> u8 {
    match rng.below(40) {
        0..=3 => FAILED | RETRY_OK,
        4 => FAILED,
        5 => TIMED_OUT | RETRY_OK,
        6 => RETRYING,
        7 => SKIPPED,
        8 => TRIGGER_FAILED | RETRY_OK,
        9 => TRIGGER_FAILED,
        10 => CACHED,
        11 => CANCELLED,
        12 if pause => PAUSED,
        _ => SUCCESS,
    }
}

enum Held {
    Prepare(u32),
    Runs(u32, Option<Vec<u32>>, ItemKind),
}

fn snapshot(run: &Run, out: &mut String) {
    let _ = writeln!(
        out,
        " states {:?} flight {} ready {} timer {:?} retries {:?} stalled {} complete {}",
        run.task_states(),
        run.in_flight(),
        run.has_ready(),
        run.next_timer(),
        run.pending_retries(),
        run.is_stalled(),
        run.is_complete()
    );
}

/// Drive one flow to the end, writing every observable step into the trace.
fn drive(flow: &Flow, seed: u64, out: &mut String) {
    let mut rng = Rng(seed);
    let graph = Graph::new(flow.names.clone(), flow.edges.clone()).expect("acyclic by construction");
    let mut run = Run::new(graph, flow.specs.clone()).expect("specs");
    let n = flow.names.len() as u32;
    let pause = rng.chance(20);
    let mut now = 0u64;
    let mut held: Vec<Held> = Vec::new();
    snapshot(&run, out);
    for _round in 0..10_000 {
        if run.is_complete() {
            break;
        }
        let cap = if rng.chance(30) { 3 } else { 40 };
        let max_items = 1 + rng.below(cap) as usize;
        let items = run.next_batch(max_items, now);
        let _ = write!(out, "batch {max_items} @{now}:");
        for it in &items {
            let _ = write!(out, " {}:{:?}:{:?}", it.task, it.kind, it.indices);
        }
        out.push('\n');
        for it in items {
            match it.kind {
                ItemKind::Prepare => held.push(Held::Prepare(it.task)),
                kind => held.push(Held::Runs(it.task, it.indices, kind)),
            }
        }
        if held.is_empty() {
            match run.next_timer() {
                Some(t) => now = now.max(t),
                None => {
                    let _ = writeln!(out, "stalled; cancel");
                    run.cancel();
                    break;
                }
            }
            continue;
        }
        for k in (1..held.len()).rev() {
            held.swap(k, rng.below(k as u64 + 1) as usize);
        }
        let take = if rng.chance(40) { held.len() } else { 1 + rng.below(held.len() as u64) as usize };
        for h in held.drain(..take).collect::<Vec<_>>() {
            let result = match h {
                Held::Prepare(t) => {
                    // Width hint from the task's id; element counts for every flattened
                    // upstream that mapped (one count per child).
                    let mut flat = Vec::new();
                    for e in flow.edges.iter().filter(|e| e.downstream == t && e.flattened) {
                        if let Some(w) = run.width(e.upstream) {
                            if run.task_state(e.upstream) == MAPPED && !flat.iter().any(|(u, _)| *u == e.upstream) {
                                flat.push((e.upstream, (0..w).map(|_| rng.below(3) as u32).collect::<Vec<u32>>()));
                            }
                        }
                    }
                    let fail = if rng.chance(10) { Some(FAILED) } else { None };
                    let hint = if rng.chance(20) { None } else { Some(rng.below(5) as u32) };
                    let _ = write!(out, "prepared {t} {hint:?} {flat:?} {fail:?}");
                    run.prepared(t, hint, &flat, fail)
                }
                Held::Runs(t, indices, kind) => {
                    let codes: Vec<u8> = match (kind, &indices) {
                        (ItemKind::Decided(MAPPED), None) if rng.chance(30) => vec![FAILED],
                        (ItemKind::Decided(c), Some(ix)) => vec![c; ix.len()],
                        (ItemKind::Decided(c), None) => vec![c],
                        (_, Some(ix)) => ix.iter().map(|_| outcome(&mut rng, pause)).collect(),
                        (_, None) => vec![outcome(&mut rng, pause)],
                    };
                    // Children go back in one report or in two halves, in either order.
                    match &indices {
                        Some(ix) if ix.len() > 1 && rng.chance(50) => {
                            let mid = ix.len() / 2;
                            let _ = write!(out, "report {t} {:?} {:?} | {:?} {:?}", &ix[mid..], &codes[mid..], &ix[..mid], &codes[..mid]);
                            run.report(t, Some(&ix[mid..]), &codes[mid..], now)
                                .and_then(|_| run.report(t, Some(&ix[..mid]), &codes[..mid], now))
                        }
                        _ => {
                            let _ = write!(out, "report {t} {indices:?} {codes:?}");
                            run.report(t, indices.as_deref(), &codes, now)
                        }
                    }
                }
            };
            if let Err(e) = result {
                let _ = write!(out, " -> {e}");
            }
            snapshot(&run, out);
        }
        now += rng.below(3);
    }
    for t in 0..n {
        let _ = writeln!(
            out,
            "t{t}: {} runs {} width {:?} children {:?} counts {:?} tally {:?} mapped {}",
            run.task_state(t),
            run.task_run_count(t),
            run.width(t),
            run.child_states(t),
            run.child_run_counts(t),
            run.tally(t),
            run.is_mapped(t)
        );
    }
    let reference: Vec<u32> = (0..n).filter(|_| rng.chance(50)).collect();
    let _ = writeln!(out, "verdict {:?}", run.verdict(&reference));
    let _ = writeln!(out, "delay {:?}", run.retry_delay_ms(0, Some(3), 2));
}

fn digest(label: &str, seeds: std::ops::Range<u64>, max_tasks: u64) -> u64 {
    let mut all = String::new();
    for seed in seeds {
        let mut rng = Rng(seed);
        let flow = random_flow(&mut rng, max_tasks);
        let mut trace = String::new();
        let _ = writeln!(trace, "seed {seed}: {} tasks, edges {:?}", flow.names.len(), flow.edges);
        drive(&flow, rng.next(), &mut trace);
        all.push_str(&trace);
    }
    if let Ok(dir) = std::env::var("FERROFLOW_TRACE_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(format!("{label}.txt")), &all).expect("write trace");
    }
    fnv1a(&all)
}

#[test]
fn small_flows_keep_their_order() {
    assert_eq!(digest("small", 0..400, 12), 0x15013AAE8DC976EB, "small flows");
}

#[test]
fn larger_flows_keep_their_order() {
    assert_eq!(digest("larger", 1_000..1_060, 120), 0x6377073C24DD3535, "larger flows");
}

/// The bench's shape (1-3 upstreams among the previous 100 tasks, everything
/// succeeding) at 20,000 tasks, in big and small batches: the whole sequence of
/// batches is hashed.
#[test]
fn random_dag_batches_keep_their_order() {
    let n = 20_000u32;
    let mut rng = Rng(0x5EED);
    let mut edges = Vec::new();
    for d in 1..n {
        let window = d.min(100) as u64;
        let mut picked: Vec<u32> = Vec::new();
        for _ in 0..1 + rng.below(3).min(window - 1) {
            let up = loop {
                let up = d - 1 - rng.below(window) as u32;
                if !picked.contains(&up) {
                    break up;
                }
            };
            picked.push(up);
            edges.push(EdgeSpec { upstream: up, downstream: d, mapped: false, flattened: false });
        }
    }
    let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let graph = Graph::new(names, edges).unwrap();
    let mut digests = Vec::new();
    for batch in [1usize, 7, 4096] {
        let mut run = Run::new(graph.clone(), vec![TaskSpec::default(); n as usize]).unwrap();
        let mut trace = String::new();
        while !run.is_complete() {
            let items = run.next_batch(batch, 0);
            assert!(!items.is_empty());
            for it in &items {
                let _ = write!(trace, "{} ", it.task);
                run.report(it.task, None, &[SUCCESS], 0).unwrap();
            }
            trace.push('\n');
        }
        digests.push(fnv1a(&trace));
    }
    assert_eq!(digests, vec![0x0727C06DAF3E4EF1, 0xC31F0EF23286198F, 0xBC077804A0A5D947]);
}
