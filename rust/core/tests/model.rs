//! Property test: on random DAGs with random task outcomes, the core ends every task run
//! in the state a small reference model of Prefect Core 1 semantics predicts.
//!
//! The model evaluates tasks once each, in topological order (edges only go from lower
//! to higher ids), straight from the rules:
//!
//! * a non-mapped task sees its upstream states with mapped upstreams expanded to their
//!   children (keyed constants count as successful upstreams); it is Skipped if it skips
//!   on upstream skips and one is skipped; otherwise its trigger decides;
//! * a mapped task's parent is Skipped if a relevant upstream is skipped, Failed if no
//!   mapped edge has a successful upstream, and otherwise maps over the shortest mapped
//!   input; child `i` sees child `i` of mapped upstreams on mapped edges, the upstream
//!   itself for other mapped edges, and everything for unmapped edges;
//! * a task decided from the start (a constant: Success; a state given to
//!   `flow.run(task_states=...)`) is in that state whatever its upstreams end in, and is
//!   never handed out (Prefect's flow runner never runs a `Constant`, nor a task given a
//!   finished state);
//! * a task run follows an outcome script per attempt; retryable failures (FAILED,
//!   TIMED_OUT or an in-task TRIGGERFAIL carrying RETRY_OK) are retried while
//!   `run_count <= max_retries`, RETRYING (the RETRY signal) always is. A retry is not
//!   handed out before its delay: the per-attempt delay of that run's own attempt (the
//!   last one repeating), less the jitter share re-derived here from the seed.
//!
//! The triggers and state categories are re-derived here on plain lists of state codes
//! (the core's `Trigger::evaluate` and `state::is_*` are not used).
//!
//! The core is driven the way the Python engine drives it, with random batch sizes,
//! random report order, runs held in flight across rounds, children reported in random
//! chunks and a fake clock; every case is driven twice with different batching and both
//! runs must match the model. Flattened edges are left to the scenario tests.

use std::collections::HashMap;

use ferroflow_core::state::{
    CACHED, CANCELLED, FAILED, MAPPED, NAMES, N_STATES, PENDING, RETRYING, RETRY_OK, RUNNING, SKIPPED, SUCCESS,
    TIMED_OUT, TRIGGER_FAILED,
};
use ferroflow_core::{Bound, EdgeSpec, FinalVerdict, Graph, ItemKind, RetryDelays, Run, TaskSpec, Trigger};
use proptest::prelude::*;
use proptest::test_runner::Config;

// ----- random cases ----------------------------------------------------------------

#[derive(Debug, Clone)]
struct TaskGen {
    trigger: Trigger,
    skip_on_upstream_skip: bool,
    max_retries: u8,
    /// Per-attempt delays (empty: retry at once), jitter fraction and seed.
    retry_delays_ms: Vec<u64>,
    jitter: f64,
    jitter_seed: u64,
    n_constants: u32,
    /// (upstream pick, mapped, duplicate the edge): the pick is reduced modulo the id.
    ups: Vec<(u32, bool, bool)>,
    /// Decided from the start with this state (a `Constant` task: SUCCESS; a state
    /// given to `flow.run(task_states=...)`), whatever its upstreams do.
    decided: Option<u8>,
}

#[derive(Debug, Clone)]
struct Case {
    tasks: Vec<TaskGen>,
    /// Seeds the outcome scripts and the list lengths Python would measure.
    seed: u64,
    /// How failure-prone the outcome scripts are (0..=3).
    harshness: u8,
    /// Seeds of the two drives (batch sizes, report order, clock).
    drive_seeds: (u64, u64),
    /// Reference tasks: bit `i % 64` of the mask picks task `i`.
    reference_mask: u64,
}

fn bound() -> impl Strategy<Value = Bound> {
    prop_oneof![
        2 => Just(Bound::Default),
        3 => prop::sample::select(vec![0.0, 0.25, 0.5, 0.75, 1.0, 2.0, 3.0]).prop_map(Bound::Value),
    ]
}

fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        6 => Just(Trigger::AllSuccessful),
        1 => Just(Trigger::AllFailed),
        1 => Just(Trigger::AnySuccessful),
        1 => Just(Trigger::AnyFailed),
        1 => Just(Trigger::AllFinished),
        1 => Just(Trigger::NotAllSkipped),
        1 => (bound(), bound()).prop_map(|(at_least, at_most)| Trigger::SomeSuccessful { at_least, at_most }),
        1 => (bound(), bound()).prop_map(|(at_least, at_most)| Trigger::SomeFailed { at_least, at_most }),
    ]
}

fn task_gen() -> impl Strategy<Value = TaskGen> {
    (
        trigger(),
        prop::bool::weighted(0.8),
        0u8..=3,
        prop::collection::vec(prop_oneof![Just(0u64), 1u64..=20], 0..=3),
        (prop_oneof![2 => Just(0.0), 1 => prop::sample::select(vec![0.25, 0.5, 1.0])], any::<u64>()),
        prop_oneof![6 => Just(0u32), 1 => 1u32..=2],
        prop::collection::vec((any::<u32>(), prop::bool::weighted(0.4), prop::bool::weighted(0.1)), 0..=3),
        prop_oneof![
            18 => Just(None),
            1 => Just(Some(SUCCESS)),
            1 => prop::sample::select(vec![CACHED, SKIPPED, FAILED, TRIGGER_FAILED, TIMED_OUT, CANCELLED]).prop_map(Some),
        ],
    )
        .prop_map(
            |(trigger, skip_on_upstream_skip, max_retries, retry_delays_ms, (jitter, jitter_seed), n_constants, ups, decided)| {
                TaskGen {
                    trigger,
                    skip_on_upstream_skip,
                    max_retries,
                    retry_delays_ms,
                    jitter,
                    jitter_seed,
                    n_constants,
                    ups,
                    decided,
                }
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (prop::collection::vec(task_gen(), 1..=25), any::<u64>(), 0u8..=3, any::<(u64, u64)>(), any::<u64>()).prop_map(
        |(tasks, seed, harshness, drive_seeds, reference_mask)| Case {
            tasks,
            seed,
            harshness,
            drive_seeds,
            reference_mask,
        },
    )
}

/// The flow a case describes: edges from lower to higher ids, at most one upstream
/// task per (downstream, upstream) pair except for duplicated unmapped edges (two keyed
/// arguments fed by the same task).
struct Flow {
    edges: Vec<EdgeSpec>,
    specs: Vec<TaskSpec>,
    /// Per task: distinct (upstream, mapped) links.
    links: Vec<Vec<(u32, bool)>>,
    reference: Vec<u32>,
}

impl Flow {
    fn from(case: &Case) -> Flow {
        let n = case.tasks.len();
        let mut edges = Vec::new();
        let mut links = vec![Vec::new(); n];
        for (d, t) in case.tasks.iter().enumerate() {
            if d == 0 {
                continue;
            }
            for &(pick, mapped, dup) in &t.ups {
                let up = pick % d as u32;
                if links[d].iter().any(|&(u, _)| u == up) {
                    continue;
                }
                links[d].push((up, mapped));
                let e = EdgeSpec { upstream: up, downstream: d as u32, mapped, flattened: false };
                edges.push(e);
                if dup && !mapped {
                    edges.push(e);
                }
            }
        }
        let specs = case
            .tasks
            .iter()
            .map(|t| TaskSpec {
                trigger: t.trigger,
                skip_on_upstream_skip: t.skip_on_upstream_skip,
                max_retries: t.max_retries,
                retry_delays: RetryDelays::per_attempt(t.retry_delays_ms.clone())
                    .with_jitter(t.jitter, t.jitter_seed)
                    .expect("jitter in 0..=1"),
                n_constants: t.n_constants,
                // Observed tasks get the core's own decisions back as Decided items;
                // echoing them must not change any outcome.
                observed: (t.retry_delays_ms.len() as u32 + t.n_constants) % 2 == 1,
                decided: t.decided,
            })
            .collect();
        let reference = (0..n as u32).filter(|&i| case.reference_mask >> (i % 64) & 1 == 1).collect();
        Flow { edges, specs, links, reference }
    }

    fn is_mapped(&self, t: u32) -> bool {
        self.specs[t as usize].decided.is_none() && self.links[t as usize].iter().any(|&(_, m)| m)
    }
}

// ----- scripted outcomes -------------------------------------------------------------

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix(seed), |h, &p| mix(h ^ p))
}

/// The code the engine reports for attempt `attempt` (from 1) of a task run;
/// `index` is `u32::MAX` for a non-mapped task.
fn scripted(case: &Case, task: u32, index: u32, attempt: u8) -> u8 {
    if attempt > 6 {
        return SUCCESS; // keep RETRY signals from looping forever
    }
    let r = hash(case.seed, &[1, task as u64, index as u64, attempt as u64]) % 100;
    let bad = [6, 25, 45, 70][case.harshness as usize];
    if r >= bad {
        return if r.is_multiple_of(7) { CACHED } else { SUCCESS };
    }
    match r % 10 {
        0 | 1 | 7 => FAILED | RETRY_OK,
        2 => FAILED,
        3 => SKIPPED,
        4 => TIMED_OUT | RETRY_OK,
        5 => RETRYING,
        6 => TIMED_OUT,
        8 => TRIGGER_FAILED | RETRY_OK, // TRIGGERFAIL raised inside the task body
        _ => TRIGGER_FAILED,
    }
}

/// Length of the list value a non-mapped task returns, as Python would measure it.
fn value_len(case: &Case, task: u32) -> u32 {
    (hash(case.seed, &[2, task as u64]) % 7) as u32
}

// ----- the reference model -------------------------------------------------------------

fn successful(s: u8) -> bool {
    s == SUCCESS || s == CACHED || s == MAPPED || s == SKIPPED
}

fn failed(s: u8) -> bool {
    s == FAILED || s == TRIGGER_FAILED || s == TIMED_OUT
}

fn finished(s: u8) -> bool {
    successful(s) || failed(s) || s == ferroflow_core::state::CANCELLED
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Run,
    TriggerFail,
    Skip,
}

/// Prefect 1 trigger semantics on the list of upstream states. `has_edges` is whether
/// the upstream-state *dict* was non-empty (edges or constants), which differs from the
/// list being empty for a reduce over zero children.
fn trigger_decision(trigger: Trigger, has_edges: bool, ups: &[u8]) -> Decision {
    let n = ups.len();
    let n_ok = ups.iter().filter(|&&s| successful(s)).count();
    let n_failed = ups.iter().filter(|&&s| failed(s)).count();
    let pass = |ok: bool| if ok { Decision::Run } else { Decision::TriggerFail };
    let between = |hits: usize, at_least: Bound, at_most: Bound| {
        let limit = |b: Bound, default: f64| match b {
            Bound::Default => default,
            Bound::Value(v) if v < 1.0 => n as f64 * v,
            Bound::Value(v) => v,
        };
        limit(at_least, 0.0) <= hits as f64 && hits as f64 <= limit(at_most, n as f64)
    };
    match trigger {
        Trigger::AllSuccessful => pass(n_ok == n),
        Trigger::AllFailed => pass(n_failed == n),
        Trigger::AnySuccessful => pass(!has_edges || n_ok > 0),
        Trigger::AnyFailed => pass(!has_edges || n_failed > 0),
        Trigger::AllFinished => pass(ups.iter().all(|&s| finished(s))),
        Trigger::NotAllSkipped => {
            if ups.iter().all(|&s| s == SKIPPED) {
                Decision::Skip
            } else {
                pass(n_ok == n)
            }
        }
        Trigger::SomeSuccessful { at_least, at_most } => pass(!has_edges || between(n_ok, at_least, at_most)),
        Trigger::SomeFailed { at_least, at_most } => pass(!has_edges || between(n_failed, at_least, at_most)),
        Trigger::Custom => unreachable!("not generated"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    state: Vec<u8>,
    run_count: Vec<u8>,
    width: Vec<Option<u32>>,
    children: Vec<Vec<u8>>,
    child_run_counts: Vec<Vec<u8>>,
    verdict: FinalVerdict,
}

/// The wait before the retry after attempt `attempt` of `(task, index)`, derived from
/// the case without the core: the attempt's own delay (the last repeating), less a
/// share `jitter * u` of it, `u` in [0, 1) a splitmix64 hash of (seed, task, index,
/// attempt).
fn model_delay(case: &Case, task: u32, index: u32, attempt: u8) -> u64 {
    let t = &case.tasks[task as usize];
    let Some(&last) = t.retry_delays_ms.last() else { return 0 };
    let base = t.retry_delays_ms.get(attempt as usize - 1).copied().unwrap_or(last);
    if t.jitter == 0.0 || t.retry_delays_ms.iter().all(|&d| d == 0) {
        return base;
    }
    fn mix(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let h = mix(mix(t.jitter_seed ^ ((task as u64) << 32 | index as u64)) ^ attempt as u64);
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    let delay = base - ((base as f64 * t.jitter * u) as u64).min(base);
    assert!(delay <= base && delay as f64 >= base as f64 * (1.0 - t.jitter) - 1.0);
    delay
}

/// One task run: (state, run count).
fn model_task_run(case: &Case, spec: &TaskSpec, task: u32, index: u32, has_edges: bool, ups: &[u8]) -> (u8, u8) {
    if spec.skip_on_upstream_skip && ups.contains(&SKIPPED) {
        return (SKIPPED, 0);
    }
    match trigger_decision(spec.trigger, has_edges, ups) {
        Decision::Skip => (SKIPPED, 0),
        Decision::TriggerFail => (TRIGGER_FAILED, 0),
        Decision::Run => {
            let mut attempt = 1u8;
            loop {
                let code = scripted(case, task, index, attempt);
                let retry = code == RETRYING || (code & RETRY_OK != 0 && attempt <= spec.max_retries);
                if !retry {
                    return (code & !RETRY_OK, attempt);
                }
                attempt += 1;
            }
        }
    }
}

fn model(case: &Case, flow: &Flow) -> Outcome {
    let n = flow.specs.len();
    let mut out = Outcome {
        state: vec![PENDING; n],
        run_count: vec![0; n],
        width: vec![None; n],
        children: vec![Vec::new(); n],
        child_run_counts: vec![Vec::new(); n],
        verdict: FinalVerdict::AllSucceeded,
    };
    // Every state an unmapped edge from `u` brings: its children if it mapped.
    let whole = |out: &Outcome, u: u32| -> Vec<u8> {
        if out.state[u as usize] == MAPPED {
            out.children[u as usize].clone()
        } else {
            vec![out.state[u as usize]]
        }
    };
    for t in 0..n as u32 {
        let tu = t as usize;
        let spec = &flow.specs[tu];
        let links = &flow.links[tu];
        let has_edges = !links.is_empty() || spec.n_constants > 0;
        let constants = vec![SUCCESS; spec.n_constants as usize];
        if let Some(code) = spec.decided {
            out.state[tu] = code; // never run, whatever its upstreams did
            continue;
        }
        if !flow.is_mapped(t) {
            let mut ups = constants.clone();
            for &(u, _) in links {
                ups.extend(whole(&out, u));
            }
            let (s, rc) = model_task_run(case, spec, t, u32::MAX, has_edges, &ups);
            out.state[tu] = s;
            out.run_count[tu] = rc;
            continue;
        }
        // A mapped task's parent: skip, fail, or map.
        let skipped =
            links.iter().any(
                |&(u, mapped)| {
                    if mapped {
                        out.state[u as usize] == SKIPPED
                    } else {
                        whole(&out, u).contains(&SKIPPED)
                    }
                },
            );
        if spec.skip_on_upstream_skip && skipped {
            out.state[tu] = SKIPPED;
            continue;
        }
        if !links.iter().any(|&(u, mapped)| mapped && successful(out.state[u as usize])) {
            out.state[tu] = FAILED; // "No upstream states can be mapped over."
            continue;
        }
        // Python measures the values of successful non-mapped upstreams on mapped edges;
        // a skipped one has no value and cannot be mapped over.
        let measured: Vec<u32> = links
            .iter()
            .filter(|&&(u, mapped)| mapped && successful(out.state[u as usize]) && out.state[u as usize] != MAPPED)
            .map(|&(u, _)| u)
            .collect();
        if measured.iter().any(|&u| out.state[u as usize] == SKIPPED) {
            out.state[tu] = FAILED; // "At least one upstream state has an unmappable result."
            continue;
        }
        let width = measured
            .iter()
            .map(|&u| value_len(case, u))
            .chain(
                links
                    .iter()
                    .filter(|&&(u, mapped)| mapped && out.state[u as usize] == MAPPED)
                    .map(|&(u, _)| out.children[u as usize].len() as u32),
            )
            .min()
            .expect("something to map over");
        out.state[tu] = MAPPED;
        out.width[tu] = Some(width);
        for i in 0..width {
            let mut ups = constants.clone();
            for &(u, mapped) in links {
                let s = out.state[u as usize];
                if mapped && s == MAPPED {
                    ups.push(out.children[u as usize][i as usize]);
                } else if mapped {
                    ups.push(s);
                } else {
                    ups.extend(whole(&out, u));
                }
            }
            let (s, rc) = model_task_run(case, spec, t, i, true, &ups);
            out.children[tu].push(s);
            out.child_run_counts[tu].push(rc);
        }
    }
    let key: Vec<u8> = flow.reference.iter().flat_map(|&t| whole(&out, t)).collect();
    out.verdict = if key.iter().any(|&s| failed(s)) {
        FinalVerdict::SomeFailed
    } else if key.iter().all(|&s| successful(s)) {
        FinalVerdict::AllSucceeded
    } else {
        FinalVerdict::NoneFailed
    };
    out
}

// ----- driving the core -------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One handed-out unit of work held by the fake engine.
#[derive(Debug, Clone, Copy)]
enum Work {
    Prepare(u32),
    Task(u32),
    Child(u32, u32),
    /// A decision the core proposed for an observed task: (task, index or MAX, code).
    Decided(u32, u32, u8),
}

fn names(codes: &[u8]) -> Vec<&'static str> {
    codes.iter().map(|&c| NAMES.get(c as usize).copied().unwrap_or("?")).collect()
}

/// Whether everything `t`'s run (or child `index`'s run) depends on has finished,
/// according to the core's own states.
fn inputs_finished(run: &Run, flow: &Flow, t: u32, index: Option<u32>) -> bool {
    let fully = |u: u32| finished(run.task_state(u)) && run.child_states(u).iter().all(|&s| finished(s));
    flow.links[t as usize].iter().all(|&(u, mapped)| match (mapped, index) {
        (false, _) => fully(u),
        (true, None) => finished(run.task_state(u)), // a mapped parent waits for parents only
        (true, Some(i)) => {
            if run.task_state(u) == MAPPED {
                finished(run.child_states(u)[i as usize])
            } else {
                finished(run.task_state(u))
            }
        }
    })
}

fn drive(case: &Case, flow: &Flow, seed: u64) -> Result<Outcome, TestCaseError> {
    let names_: Vec<String> = (0..flow.specs.len()).map(|i| format!("t{i}")).collect();
    let graph = Graph::new(names_, flow.edges.clone()).expect("acyclic by construction");
    let mut run = Run::new(graph, flow.specs.clone()).expect("one spec per task");
    let mut rng = Rng(seed);
    let mut now = 0u64;
    let mut held: Vec<Work> = Vec::new();
    // per (task, index): attempts handed out so far, and when a pending retry is due
    let mut attempts: HashMap<(u32, u32), u8> = HashMap::new();
    let mut due: HashMap<(u32, u32), u64> = HashMap::new();
    let mut rounds = 0u32;
    while !run.is_complete() {
        rounds += 1;
        prop_assert!(rounds < 100_000, "no progress");
        prop_assert!(!run.is_stalled(), "stalled: {:?}", names(run.task_states()));
        let cap = if rng.below(4) == 0 { 3 } else { 50 };
        let max_items = 1 + rng.below(cap) as usize;
        let items = run.next_batch(max_items, now);
        let handed: usize = items.iter().map(|i| i.indices.as_ref().map_or(1, |v| v.len())).sum();
        prop_assert!(handed <= max_items, "{handed} runs handed out for a batch of {max_items}");
        for it in &items {
            let t = it.task;
            prop_assert!(flow.specs[t as usize].decided.is_none(), "decided t{t} handed out");
            match (it.kind, &it.indices) {
                (ItemKind::Prepare, None) => {
                    prop_assert!(flow.is_mapped(t));
                    prop_assert!(inputs_finished(&run, flow, t, None), "t{t} prepared too early");
                    held.push(Work::Prepare(t));
                }
                (ItemKind::Run, None) => {
                    prop_assert!(!flow.is_mapped(t), "a mapped parent handed out to run");
                    prop_assert!(inputs_finished(&run, flow, t, None), "t{t} ready too early");
                    held.push(Work::Task(t));
                }
                (ItemKind::Run, Some(ix)) => {
                    prop_assert!(!ix.is_empty());
                    for &i in ix {
                        prop_assert!(inputs_finished(&run, flow, t, Some(i)), "t{t}[{i}] ready too early");
                        held.push(Work::Child(t, i));
                    }
                }
                (ItemKind::Prepare, Some(_)) => prop_assert!(false, "Prepare item for children"),
                (ItemKind::Decided(code), None) => {
                    prop_assert!(flow.specs[t as usize].observed, "t{t}: decision proposed for an unobserved task");
                    held.push(Work::Decided(t, u32::MAX, code));
                }
                (ItemKind::Decided(code), Some(ix)) => {
                    prop_assert!(flow.specs[t as usize].observed, "t{t}: decision proposed for an unobserved task");
                    for &i in ix {
                        held.push(Work::Decided(t, i, code));
                    }
                }
            }
        }
        for it in &items {
            if it.kind != ItemKind::Run {
                continue;
            }
            let keys: Vec<(u32, u32)> = match &it.indices {
                None => vec![(it.task, u32::MAX)],
                Some(ix) => ix.iter().map(|&i| (it.task, i)).collect(),
            };
            for key in keys {
                let a = attempts.entry(key).or_insert(0);
                *a += 1;
                let core_count = if key.1 == u32::MAX {
                    run.task_run_count(key.0)
                } else {
                    run.child_run_counts(key.0)[key.1 as usize]
                };
                prop_assert_eq!(core_count, *a, "run count of t{}[{}]", key.0, key.1);
                if let Some(d) = due.remove(&key) {
                    prop_assert!(now >= d, "t{}[{}] retried at {} before its timer {}", key.0, key.1, now, d);
                }
            }
        }
        if held.is_empty() {
            if items.is_empty() {
                let next = run.next_timer();
                prop_assert!(next.is_some(), "nothing ready, nothing in flight, no timer");
                let next = next.unwrap();
                prop_assert!(next > now, "timer {next} due at {now} but nothing was handed out");
                now = next;
            }
            continue;
        }
        // Finish a random share of the held work (all of it when nothing new came out),
        // in random order; children of one task go back in random chunks.
        for k in (1..held.len()).rev() {
            held.swap(k, rng.below(k as u64 + 1) as usize);
        }
        let take =
            if items.is_empty() || rng.below(3) == 0 { held.len() } else { rng.below(held.len() as u64 + 1) as usize };
        let take = if items.is_empty() { take.max(1) } else { take };
        let mut done: Vec<Work> = held.drain(..take).collect();
        if rng.below(2) == 0 {
            // group children of one task so that reports carry several of them
            done.sort_by_key(|w| match *w {
                Work::Prepare(t) | Work::Task(t) | Work::Child(t, _) | Work::Decided(t, _, _) => t,
            });
        }
        let mut k = 0;
        while k < done.len() {
            match done[k] {
                Work::Prepare(t) => {
                    let mut hint: Option<u32> = None;
                    let mut unmappable = false;
                    for &(u, mapped) in &flow.links[t as usize] {
                        let s = run.task_state(u);
                        if mapped && successful(s) && s != MAPPED {
                            unmappable |= s == SKIPPED;
                            let len = value_len(case, u);
                            hint = Some(hint.map_or(len, |h| h.min(len)));
                        }
                    }
                    if unmappable {
                        run.prepared(t, None, &[], Some(FAILED))
                    } else {
                        run.prepared(t, hint, &[], None)
                    }
                    .map_err(|e| TestCaseError::fail(format!("prepared t{t}: {e}")))?;
                    k += 1;
                }
                Work::Task(t) => {
                    let attempt = attempts[&(t, u32::MAX)];
                    let code = scripted(case, t, u32::MAX, attempt);
                    run.report(t, None, &[code], now).map_err(|e| TestCaseError::fail(format!("report t{t}: {e}")))?;
                    if run.task_state(t) == RETRYING {
                        let delay = if code == RETRYING { 0 } else { model_delay(case, t, u32::MAX, attempt) };
                        due.insert((t, u32::MAX), now + delay);
                        prop_assert!(
                            run.pending_retries().contains(&(now + delay, t, None)),
                            "t{t} attempt {attempt}: no timer at {} in {:?}",
                            now + delay,
                            run.pending_retries()
                        );
                    }
                    k += 1;
                }
                Work::Decided(t, i, code) => {
                    let ix = [i];
                    let indices = if i == u32::MAX { None } else { Some(&ix[..]) };
                    run.report(t, indices, &[code], now)
                        .map_err(|e| TestCaseError::fail(format!("confirm t{t}[{i}]: {e}")))?;
                    k += 1;
                }
                Work::Child(t, _) => {
                    // a chunk of consecutive children of t
                    let mut end = k;
                    let limit = k + 1 + rng.below(6) as usize;
                    while end < done.len() && end < limit && matches!(done[end], Work::Child(t2, _) if t2 == t) {
                        end += 1;
                    }
                    let ix: Vec<u32> = done[k..end]
                        .iter()
                        .map(|w| match w {
                            Work::Child(_, i) => *i,
                            _ => unreachable!(),
                        })
                        .collect();
                    let codes: Vec<u8> = ix.iter().map(|&i| scripted(case, t, i, attempts[&(t, i)])).collect();
                    run.report(t, Some(&ix), &codes, now)
                        .map_err(|e| TestCaseError::fail(format!("report t{t}{ix:?}: {e}")))?;
                    for (&i, &code) in ix.iter().zip(&codes) {
                        if run.child_states(t)[i as usize] == RETRYING {
                            let attempt = attempts[&(t, i)];
                            let delay = if code == RETRYING { 0 } else { model_delay(case, t, i, attempt) };
                            due.insert((t, i), now + delay);
                            prop_assert!(
                                run.pending_retries().contains(&(now + delay, t, Some(i))),
                                "t{t}[{i}] attempt {attempt}: no timer at {} in {:?}",
                                now + delay,
                                run.pending_retries()
                            );
                        }
                    }
                    k = end;
                }
            }
        }
        if rng.below(4) == 0 {
            now += rng.below(8);
        }
    }
    prop_assert!(!run.is_stalled());
    prop_assert!(held.is_empty(), "complete with work in flight: {held:?}");
    prop_assert_eq!(run.in_flight(), 0);
    prop_assert_eq!(run.next_timer(), None);
    prop_assert!(run.next_batch(1_000, u64::MAX).is_empty());
    let n = flow.specs.len() as u32;
    // tallies agree with the states
    for t in 0..n {
        let mut tally = [0u64; N_STATES];
        tally[run.task_state(t) as usize] += 1;
        for &s in run.child_states(t) {
            tally[s as usize] += 1;
        }
        prop_assert_eq!(run.tally(t), tally, "tally of t{}", t);
        prop_assert_eq!(run.is_mapped(t), flow.is_mapped(t));
        prop_assert_eq!(run.child_states(t).len(), run.width(t).unwrap_or(0) as usize);
        prop_assert_eq!(run.child_run_counts(t).len(), run.child_states(t).len());
    }
    let verdict = run.verdict(&flow.reference);
    prop_assert!(!run.task_states().contains(&RUNNING));
    Ok(Outcome {
        state: run.task_states().to_vec(),
        run_count: (0..n).map(|t| run.task_run_count(t)).collect(),
        width: (0..n).map(|t| run.width(t)).collect(),
        children: (0..n).map(|t| run.child_states(t).to_vec()).collect(),
        child_run_counts: (0..n).map(|t| run.child_run_counts(t).to_vec()).collect(),
        verdict,
    })
}

fn compare(want: &Outcome, got: &Outcome, flow: &Flow, label: &str) -> Result<(), TestCaseError> {
    for t in 0..want.state.len() {
        let ctx = || {
            format!(
                "{label}: t{t} (links {:?}, spec {:?})\n model children {:?}\n core  children {:?}",
                flow.links[t],
                flow.specs[t],
                names(&want.children[t]),
                names(&got.children[t])
            )
        };
        prop_assert_eq!(names(&[want.state[t]]), names(&[got.state[t]]), "state; {}", ctx());
        prop_assert_eq!(want.width[t], got.width[t], "width; {}", ctx());
        prop_assert_eq!(names(&want.children[t]), names(&got.children[t]), "children; {}", ctx());
        prop_assert_eq!(want.run_count[t], got.run_count[t], "run count; {}", ctx());
        prop_assert_eq!(&want.child_run_counts[t], &got.child_run_counts[t], "child run counts; {}", ctx());
    }
    prop_assert_eq!(want.verdict, got.verdict, "{}: verdict over {:?}", label, flow.reference);
    Ok(())
}

/// 5,000 cases by default (about 4 s in a debug build); PROPTEST_CASES overrides.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000)
}

proptest! {
    #![proptest_config(Config { cases: cases(), max_shrink_iters: 20_000, ..Config::default() })]

    #[test]
    fn core_matches_reference_model(case in case()) {
        let flow = Flow::from(&case);
        let want = model(&case, &flow);
        let first = drive(&case, &flow, case.drive_seeds.0)?;
        compare(&want, &first, &flow, "drive 1")?;
        let second = drive(&case, &flow, case.drive_seeds.1)?;
        compare(&want, &second, &flow, "drive 2")?;
    }
}

/// The model itself on a few hand-checked flows, so that a wrong model cannot hide a
/// wrong core.
#[test]
fn model_sanity() {
    let ok = |t: Trigger, ups: &[u8], has: bool| trigger_decision(t, has, ups);
    assert_eq!(ok(Trigger::AnySuccessful, &[], true), Decision::TriggerFail);
    assert_eq!(ok(Trigger::AnySuccessful, &[], false), Decision::Run);
    assert_eq!(ok(Trigger::AllSuccessful, &[SKIPPED, CACHED, MAPPED], true), Decision::Run);
    assert_eq!(ok(Trigger::AllFailed, &[TRIGGER_FAILED, TIMED_OUT], true), Decision::Run);
    assert_eq!(ok(Trigger::NotAllSkipped, &[], true), Decision::Skip);
    let some = Trigger::SomeSuccessful { at_least: Bound::Value(0.5), at_most: Bound::Value(2.0) };
    assert_eq!(ok(some, &[SUCCESS, FAILED, FAILED], true), Decision::TriggerFail);
    assert_eq!(ok(some, &[SUCCESS, FAILED], true), Decision::Run);
    assert_eq!(ok(some, &[SUCCESS, SUCCESS, SUCCESS, FAILED], true), Decision::TriggerFail);
    // a hand-built case: 0 -> 1 (mapped) -> 2 (reduce)
    let t = |ups: Vec<(u32, bool, bool)>| TaskGen {
        trigger: Trigger::AllSuccessful,
        skip_on_upstream_skip: true,
        max_retries: 0,
        retry_delays_ms: vec![],
        jitter: 0.0,
        jitter_seed: 0,
        n_constants: 0,
        ups,
        decided: None,
    };
    let case = Case {
        tasks: vec![t(vec![]), t(vec![(0, true, false)]), t(vec![(1, false, false)])],
        seed: 7,
        harshness: 0,
        drive_seeds: (1, 2),
        reference_mask: 0b110,
    };
    let flow = Flow::from(&case);
    let want = model(&case, &flow);
    assert_eq!(want.width[1], Some(value_len(&case, 0)));
    assert_eq!(want.state[1], MAPPED);
    assert_eq!(want.children[1].len() as u32, value_len(&case, 0));
    let got = drive(&case, &flow, 3).unwrap();
    assert_eq!(want, got);
}
