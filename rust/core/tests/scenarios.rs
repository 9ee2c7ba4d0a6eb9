//! Table-driven scenario tests of the scheduling core: triggers, skip and trigger-failure
//! propagation, retries and their timers, mapping (empty, zip-shortest, child-by-child,
//! reduce barrier, flattening), reference tasks, cancellation, bad reports, tallies and
//! a very wide map.
//!
//! The flows are built with a small builder and driven the way the Python engine drives
//! a run: `next_batch` -> run the items -> `report` / `prepared`.

use ferroflow_core::state::*;
use ferroflow_core::{
    Bound, CoreError, EdgeSpec, FinalVerdict, Graph, Item, ItemKind, RetryDelays, Run, TaskSpec, Trigger,
};

// ----- helpers -------------------------------------------------------------------

/// A flow under construction: tasks are numbered in creation order.
#[derive(Default)]
struct Flow {
    specs: Vec<TaskSpec>,
    edges: Vec<EdgeSpec>,
}

impl Flow {
    fn new() -> Flow {
        Flow::default()
    }

    fn task(&mut self) -> u32 {
        self.with(TaskSpec::default())
    }

    fn with(&mut self, spec: TaskSpec) -> u32 {
        self.specs.push(spec);
        self.specs.len() as u32 - 1
    }

    fn edge_(&mut self, up: u32, down: u32, mapped: bool, flattened: bool) {
        self.edges.push(EdgeSpec { upstream: up, downstream: down, mapped, flattened });
    }

    /// An unmapped (whole) edge.
    fn edge(&mut self, up: u32, down: u32) {
        self.edge_(up, down, false, false)
    }

    fn mapped(&mut self, up: u32, down: u32) {
        self.edge_(up, down, true, false)
    }

    fn flat(&mut self, up: u32, down: u32) {
        self.edge_(up, down, true, true)
    }

    fn start(self) -> Run {
        let names = (0..self.specs.len()).map(|i| format!("t{i}")).collect();
        let graph = Graph::new(names, self.edges).expect("acyclic");
        Run::new(graph, self.specs).expect("specs")
    }
}

fn spec(trigger: Trigger) -> TaskSpec {
    TaskSpec { trigger, ..TaskSpec::default() }
}

fn no_skip(trigger: Trigger) -> TaskSpec {
    TaskSpec { trigger, skip_on_upstream_skip: false, ..TaskSpec::default() }
}

fn retrying(max_retries: u8, retry_delay_ms: u64) -> TaskSpec {
    TaskSpec { max_retries, retry_delays: RetryDelays::fixed(retry_delay_ms), ..TaskSpec::default() }
}

fn bound(v: Option<f64>) -> Bound {
    v.map_or(Bound::Default, Bound::Value)
}

fn some_ok(at_least: Option<f64>, at_most: Option<f64>) -> Trigger {
    Trigger::SomeSuccessful { at_least: bound(at_least), at_most: bound(at_most) }
}

fn some_failed(at_least: Option<f64>, at_most: Option<f64>) -> Trigger {
    Trigger::SomeFailed { at_least: bound(at_least), at_most: bound(at_most) }
}

const BIG: usize = 1 << 30;

/// Hand out everything ready now.
fn batch(run: &mut Run, now: u64) -> Vec<Item> {
    run.next_batch(BIG, now)
}

/// Tasks (non-mapped runs and mapped parents) handed out in `items`, sorted.
fn tasks_of(items: &[Item]) -> Vec<u32> {
    let mut v: Vec<u32> = items.iter().filter(|i| i.indices.is_none()).map(|i| i.task).collect();
    v.sort_unstable();
    v
}

/// Children of `task` handed out in `items`, sorted.
fn children_of(items: &[Item], task: u32) -> Vec<u32> {
    let mut v: Vec<u32> =
        items.iter().filter(|i| i.task == task).flat_map(|i| i.indices.clone().unwrap_or_default()).collect();
    v.sort_unstable();
    v
}

fn report1(run: &mut Run, task: u32, code: u8) {
    run.report(task, None, &[code], 0).unwrap_or_else(|e| panic!("report t{task}: {e}"));
}

/// Hand out what is ready (only whole task runs expected) and report them all SUCCESS.
fn succeed_ready(run: &mut Run) -> Vec<u32> {
    let items = batch(run, 0);
    assert!(items.iter().all(|i| i.kind == ItemKind::Run && i.indices.is_none()), "{items:?}");
    let tasks = tasks_of(&items);
    for &t in &tasks {
        report1(run, t, SUCCESS);
    }
    tasks
}

fn bad(r: Result<(), CoreError>) -> bool {
    matches!(r, Err(CoreError::BadReport(_)))
}

/// Drive a run to completion. `outcome(task, index, attempt)` gives the code of a run
/// (`attempt` counts from 1); `width(task)` answers Prepare items (the width hint).
/// Retry timers are honoured by jumping the clock to `next_timer`. Returns the clock.
fn drive(
    run: &mut Run,
    mut outcome: impl FnMut(u32, Option<u32>, u8) -> u8,
    mut width: impl FnMut(u32) -> Option<u32>,
) -> u64 {
    let mut now = 0;
    let mut rounds = 0;
    while !run.is_complete() {
        rounds += 1;
        assert!(rounds < 1_000_000, "no progress");
        assert!(!run.is_stalled(), "stalled at {:?}", run.task_states());
        let items = batch(run, now);
        if items.is_empty() {
            now = run.next_timer().expect("nothing ready, nothing in flight and no timer");
            continue;
        }
        for it in items {
            match (it.kind, it.indices) {
                (ItemKind::Prepare, _) => run.prepared(it.task, width(it.task), &[], None).unwrap(),
                (ItemKind::Run, None) => {
                    let code = outcome(it.task, None, run.task_run_count(it.task));
                    run.report(it.task, None, &[code], now).unwrap();
                }
                (ItemKind::Decided(code), ix) => {
                    let n = ix.as_ref().map_or(1, |v| v.len());
                    run.report(it.task, ix.as_deref(), &vec![code; n], now).unwrap();
                }
                (ItemKind::Run, Some(ix)) => {
                    let rc = run.child_run_counts(it.task).to_vec();
                    let codes: Vec<u8> = ix.iter().map(|&i| outcome(it.task, Some(i), rc[i as usize])).collect();
                    run.report(it.task, Some(&ix), &codes, now).unwrap();
                }
            }
        }
    }
    assert_eq!(run.in_flight(), 0);
    assert_eq!(run.next_timer(), None);
    now
}

fn name(code: u8) -> &'static str {
    NAMES.get(code as usize).copied().unwrap_or("?")
}

fn names(codes: &[u8]) -> Vec<&'static str> {
    codes.iter().map(|&c| name(c)).collect()
}

// ----- graph and spec errors -----------------------------------------------------

#[test]
fn graph_errors() {
    let e = |u, d| EdgeSpec { upstream: u, downstream: d, mapped: false, flattened: false };
    let err = Graph::new(vec!["a".into(), "b".into()], vec![e(0, 1), e(1, 0)]).unwrap_err();
    assert_eq!(err, CoreError::Cycle(vec!["a".into(), "b".into(), "a".into()]));
    let g = Graph::new(vec!["a".into()], vec![]).unwrap();
    assert!(matches!(Run::new(g, vec![]), Err(CoreError::SpecCount { specs: 0, tasks: 1 })));
}

#[test]
fn empty_flow_is_complete_at_once() {
    let run = Flow::new().start();
    assert!(run.is_complete());
    assert!(!run.is_stalled());
    assert_eq!(run.verdict(&[]), FinalVerdict::AllSucceeded);
}

// ----- triggers ------------------------------------------------------------------

/// Each row: trigger of the downstream task, the codes its upstream roots end in, its
/// number of keyed constants, and its expected state (SUCCESS = it ran).
/// The downstream has skip_on_upstream_skip=false so the trigger alone decides.
#[test]
fn every_trigger_on_mixes_of_upstream_states() {
    use Trigger::*;
    const S: u8 = SUCCESS;
    const F: u8 = FAILED;
    const K: u8 = SKIPPED;
    const C: u8 = CACHED;
    const TO: u8 = TIMED_OUT;
    const TF: u8 = TRIGGER_FAILED;
    const X: u8 = CANCELLED;
    let rows: Vec<(Trigger, Vec<u8>, u32, u8)> = vec![
        // all_successful
        (AllSuccessful, vec![], 0, S),
        (AllSuccessful, vec![S, C, K], 0, S),
        (AllSuccessful, vec![S, F], 0, TF),
        (AllSuccessful, vec![S, TF], 0, TF),
        (AllSuccessful, vec![S, TO], 0, TF),
        (AllSuccessful, vec![S, X], 0, TF),
        (AllSuccessful, vec![], 2, S),
        // all_failed
        (AllFailed, vec![], 0, S),
        (AllFailed, vec![F, TF, TO], 0, S),
        (AllFailed, vec![F, S], 0, TF),
        (AllFailed, vec![F, K], 0, TF),
        (AllFailed, vec![F, X], 0, TF),
        (AllFailed, vec![F], 1, TF), // a keyed constant is a successful upstream
        // any_successful: passes with no edges at all
        (AnySuccessful, vec![], 0, S),
        (AnySuccessful, vec![F, S], 0, S),
        (AnySuccessful, vec![F, K], 0, S),
        (AnySuccessful, vec![F, TF], 0, TF),
        (AnySuccessful, vec![X], 0, TF),
        (AnySuccessful, vec![F], 1, S),
        // any_failed
        (AnyFailed, vec![], 0, S),
        (AnyFailed, vec![S, C], 0, TF),
        (AnyFailed, vec![S, TO], 0, S),
        (AnyFailed, vec![K, TF], 0, S),
        (AnyFailed, vec![], 1, TF), // constants are edges: nothing failed
        // all_finished
        (AllFinished, vec![F, K, X, TF], 0, S),
        (AllFinished, vec![], 0, S),
        // not_all_skipped
        (NotAllSkipped, vec![K, K], 0, K),
        (NotAllSkipped, vec![], 0, K),
        (NotAllSkipped, vec![K, S], 0, S),
        (NotAllSkipped, vec![K, F], 0, TF),
        (NotAllSkipped, vec![K], 1, S),
        // some_successful: fractions below 1, absolute counts from 1 up
        (some_ok(Some(0.5), None), vec![S, F], 0, S),
        (some_ok(Some(0.5), None), vec![S, F, F], 0, TF),
        (some_ok(Some(2.0), None), vec![S, K, F], 0, S),
        (some_ok(Some(2.0), None), vec![S, F, F], 0, TF),
        (some_ok(None, Some(1.0)), vec![S, F], 0, S),
        (some_ok(None, Some(1.0)), vec![S, S], 0, TF),
        (some_ok(None, Some(0.5)), vec![S, F, F, F], 0, S),
        (some_ok(None, Some(0.0)), vec![F], 0, S),
        (some_ok(None, Some(0.0)), vec![S], 0, TF),
        (some_ok(Some(1.0), Some(2.0)), vec![S, S, S], 0, TF),
        (some_ok(Some(1.0), Some(2.0)), vec![S, S, F], 0, S),
        (some_ok(Some(3.0), None), vec![], 0, S), // no edges: passes whatever the bounds
        (some_ok(Some(3.0), None), vec![S], 2, S),
        (some_ok(Some(3.0), None), vec![F], 2, TF),
        // some_failed
        (some_failed(Some(1.0), None), vec![S, F], 0, S),
        (some_failed(Some(1.0), None), vec![S, X], 0, TF),
        (some_failed(None, Some(1.0)), vec![F, TO], 0, TF),
        (some_failed(Some(0.5), Some(0.75)), vec![F, F, S, S], 0, S),
        (some_failed(Some(0.5), Some(0.75)), vec![F, S, S, S], 0, TF),
        (some_failed(Some(0.5), Some(0.75)), vec![F, F, F, F], 0, TF),
        (some_failed(Some(2.0), None), vec![], 0, S),
    ];
    for (row, (trigger, ups, n_constants, want)) in rows.into_iter().enumerate() {
        let mut f = Flow::new();
        let roots: Vec<u32> = ups.iter().map(|_| f.task()).collect();
        let d = f.with(TaskSpec { n_constants, ..no_skip(trigger) });
        for &r in &roots {
            f.edge(r, d);
        }
        let mut run = f.start();
        let items = batch(&mut run, 0);
        // with no upstream task, d is a root: decided at once
        let d_is_root = roots.is_empty();
        let mut expected = roots.clone();
        if d_is_root && want == SUCCESS {
            expected.push(d);
        }
        assert_eq!(tasks_of(&items), expected, "row {row}");
        for (&r, &code) in roots.iter().zip(&ups) {
            report1(&mut run, r, code);
        }
        if want == SUCCESS {
            if !d_is_root {
                assert_eq!(tasks_of(&batch(&mut run, 0)), vec![d], "row {row}: {trigger:?} over {:?}", names(&ups));
            }
            report1(&mut run, d, SUCCESS);
        }
        assert!(run.is_complete(), "row {row}");
        assert_eq!(
            name(run.task_state(d)),
            name(want),
            "row {row}: {trigger:?} over {:?} + {n_constants} constants",
            names(&ups)
        );
        assert_eq!(run.task_run_count(d), (want == SUCCESS) as u8, "row {row}");
    }
}

/// The same triggers seen through a reduce over mapped children (upstream states are
/// the children), including the "a reduce over zero children has edges" nuance.
#[test]
fn triggers_over_mapped_children() {
    use Trigger::*;
    let rows: Vec<(Trigger, Vec<u8>, u8)> = vec![
        (AllSuccessful, vec![], SUCCESS),
        (AnySuccessful, vec![], TRIGGER_FAILED),
        (AnyFailed, vec![], TRIGGER_FAILED),
        (AllFailed, vec![], SUCCESS),
        (AllFinished, vec![], SUCCESS),
        (NotAllSkipped, vec![], SKIPPED),
        (some_ok(None, None), vec![], SUCCESS),
        (some_ok(Some(1.0), None), vec![], TRIGGER_FAILED),
        (some_failed(Some(0.5), None), vec![], SUCCESS),
        (AllSuccessful, vec![SUCCESS, SKIPPED], SUCCESS),
        (AllSuccessful, vec![SUCCESS, FAILED], TRIGGER_FAILED),
        (AnyFailed, vec![SUCCESS, FAILED, SUCCESS], SUCCESS),
        (AllFailed, vec![FAILED, FAILED], SUCCESS),
        (some_failed(Some(2.0), None), vec![FAILED, SUCCESS, FAILED], SUCCESS),
        (some_failed(Some(0.75), None), vec![FAILED, SUCCESS, FAILED], TRIGGER_FAILED),
        (NotAllSkipped, vec![SKIPPED, SKIPPED], SKIPPED),
        (NotAllSkipped, vec![SKIPPED, SUCCESS], SUCCESS),
    ];
    for (row, (trigger, children, want)) in rows.into_iter().enumerate() {
        let mut f = Flow::new();
        let list = f.task();
        let m = f.task();
        f.mapped(list, m);
        let r = f.with(no_skip(trigger));
        f.edge(m, r);
        let mut run = f.start();
        succeed_ready(&mut run);
        let items = batch(&mut run, 0);
        assert_eq!(items, vec![Item { task: m, kind: ItemKind::Prepare, indices: None }]);
        run.prepared(m, Some(children.len() as u32), &[], None).unwrap();
        assert_eq!(run.task_state(m), MAPPED);
        if !children.is_empty() {
            let items = batch(&mut run, 0);
            let ix = children_of(&items, m);
            run.report(m, Some(&ix), &children, 0).unwrap();
        }
        if want == SUCCESS {
            assert_eq!(tasks_of(&batch(&mut run, 0)), vec![r], "row {row}");
            report1(&mut run, r, SUCCESS);
        }
        assert!(run.is_complete(), "row {row}");
        assert_eq!(name(run.task_state(r)), name(want), "row {row}: {trigger:?} over {:?}", names(&children));
    }
}

#[test]
fn custom_trigger_is_left_to_python() {
    let mut f = Flow::new();
    let a = f.task();
    let b = f.with(spec(Trigger::Custom));
    f.edge(a, b);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, a, FAILED);
    // The core hands the task out; Python evaluates the callable and reports the outcome.
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![b]);
    report1(&mut run, b, TRIGGER_FAILED);
    assert_eq!(run.task_state(b), TRIGGER_FAILED);
}

// ----- skip and trigger-failure propagation ----------------------------------------

#[test]
fn skip_propagates_down_a_chain() {
    // a(skips) -> b -> c ; d(no skip_on_upstream_skip) after c ; e merges c and x
    let mut f = Flow::new();
    let a = f.task();
    let b = f.task();
    let c = f.task();
    let d = f.with(no_skip(Trigger::AllSuccessful));
    let x = f.task();
    let e = f.with(no_skip(Trigger::NotAllSkipped));
    let g = f.with(no_skip(Trigger::NotAllSkipped));
    f.edge(a, b);
    f.edge(b, c);
    f.edge(c, d);
    f.edge(c, e);
    f.edge(x, e);
    f.edge(c, g);
    let mut run = f.start();
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![a, x]);
    report1(&mut run, a, SKIPPED);
    assert_eq!(run.task_state(b), SKIPPED);
    assert_eq!(run.task_state(c), SKIPPED);
    assert_eq!(run.task_run_count(b), 0);
    // g's only upstream is skipped: not_all_skipped skips it without running
    assert_eq!(run.task_state(g), SKIPPED);
    // d does not skip on upstream skip and a skipped upstream counts as successful
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![d]);
    report1(&mut run, d, SUCCESS);
    report1(&mut run, x, SUCCESS);
    // e = merge(c, x): not all skipped, all successful -> runs
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![e]);
    report1(&mut run, e, SUCCESS);
    assert!(run.is_complete());
    assert_eq!(names(run.task_states()), names(&[SKIPPED, SKIPPED, SKIPPED, SUCCESS, SUCCESS, SUCCESS, SKIPPED]));
}

#[test]
fn skip_wins_over_failure_when_skip_on_upstream_skip() {
    // Prefect checks upstream skips before the trigger.
    let mut f = Flow::new();
    let a = f.task();
    let b = f.task();
    let c = f.task();
    let d = f.with(no_skip(Trigger::AllSuccessful));
    for &d_ in &[c, d] {
        f.edge(a, d_);
        f.edge(b, d_);
    }
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, a, SKIPPED);
    report1(&mut run, b, FAILED);
    assert_eq!(run.task_state(c), SKIPPED);
    assert_eq!(run.task_state(d), TRIGGER_FAILED);
}

/// A constant task (Prefect 1's `Constant`) is SUCCESS from the start, whatever its
/// upstreams end in and whatever its trigger says; it is never handed out, never maps,
/// and its downstream tasks see a successful upstream.
#[test]
fn constant_task_succeeds_without_running() {
    let constant = |trigger| TaskSpec { decided: Some(SUCCESS), observed: true, ..spec(trigger) };
    let mut f = Flow::new();
    let cond = f.task(); // skips, like a case's comparison that does not match
    let fails = f.task();
    let k_skip = f.with(constant(Trigger::AllSuccessful)); // a switch branch behind cond
    let k_fail = f.with(constant(Trigger::AllFailed)); // behind a failure, trigger that would fail
    let k_root = f.with(constant(Trigger::NotAllSkipped)); // no upstream: would skip
    let k_mapped = f.with(constant(Trigger::AllSuccessful)); // a mapped edge into a constant
    let over = f.task(); // mapped over k_skip
    let after = f.task(); // state edge from k_fail only
    f.edge(cond, k_skip);
    f.edge(fails, k_fail);
    f.mapped(cond, k_mapped);
    f.mapped(k_skip, over);
    f.edge(k_fail, after);
    f.edge(k_root, after);
    let mut run = f.start();
    for k in [k_skip, k_fail, k_root, k_mapped] {
        assert_eq!(name(run.task_state(k)), "Success", "t{k} before anything ran");
        assert!(!run.is_mapped(k));
    }
    // the roots and the task after the constants run; the map over k_skip is prepared
    let items = batch(&mut run, 0);
    assert_eq!(tasks_of(&items), vec![cond, fails, over, after]);
    assert!(items.iter().all(|i| ![k_skip, k_fail, k_root, k_mapped].contains(&i.task)));
    report1(&mut run, cond, SKIPPED);
    report1(&mut run, fails, FAILED);
    report1(&mut run, after, SUCCESS);
    run.prepared(over, Some(2), &[], None).unwrap();
    assert_eq!(children_of(&batch(&mut run, 0), over), vec![0, 1]);
    run.report(over, Some(&[0, 1]), &[SUCCESS, SUCCESS], 0).unwrap();
    assert!(run.is_complete());
    for k in [k_skip, k_fail, k_root, k_mapped] {
        assert_eq!((name(run.task_state(k)), run.task_run_count(k)), ("Success", 0), "t{k}");
    }
    assert_eq!(run.verdict(&[k_skip, k_fail, k_root, k_mapped, over, after]), FinalVerdict::AllSucceeded);
}

/// A task given a finished state for the run (`flow.run(task_states=...)`) is in it
/// from the start and never runs; its downstream tasks see that state (Failed: their
/// trigger fails; Skipped: they skip), a mapped task given one does not map (its
/// downstream maps over its value), and the verdict counts it.
#[test]
fn task_decided_from_the_start_with_a_given_state() {
    let decided = |code| TaskSpec { decided: Some(code), ..TaskSpec::default() };
    let mut f = Flow::new();
    let up = f.task();
    let failed = f.with(decided(FAILED)); // its upstream still runs
    let skipped = f.with(decided(SKIPPED));
    let mapped = f.with(decided(SUCCESS)); // a mapped task given a plain Success
    let after_failed = f.task();
    let after_skipped = f.task();
    let over = f.task(); // maps over `mapped`'s value
    f.edge(up, failed);
    f.mapped(up, mapped);
    f.edge(failed, after_failed);
    f.edge(skipped, after_skipped);
    f.mapped(mapped, over);
    let mut run = f.start();
    assert_eq!(names(&[failed, skipped, mapped].map(|t| run.task_state(t))), ["Failed", "Skipped", "Success"]);
    assert!(!run.is_mapped(mapped));
    assert_eq!(name(run.task_state(after_failed)), "TriggerFailed");
    assert_eq!(name(run.task_state(after_skipped)), "Skipped");
    let items = batch(&mut run, 0);
    assert_eq!(tasks_of(&items), vec![up, over]);
    assert_eq!(items.iter().find(|i| i.task == over).map(|i| i.kind), Some(ItemKind::Prepare));
    report1(&mut run, up, SUCCESS);
    run.prepared(over, Some(2), &[], None).unwrap();
    assert_eq!(children_of(&batch(&mut run, 0), over), vec![0, 1]);
    run.report(over, Some(&[0, 1]), &[SUCCESS, SUCCESS], 0).unwrap();
    assert!(run.is_complete());
    assert_eq!(name(run.task_state(failed)), "Failed"); // whatever its upstream did
    assert_eq!(run.verdict(&[up, over]), FinalVerdict::AllSucceeded);
    assert_eq!(run.verdict(&[failed, over]), FinalVerdict::SomeFailed);
}

#[test]
fn a_task_cannot_be_decided_with_an_unfinished_or_mapped_state() {
    for code in [PENDING, RUNNING, RETRYING, PAUSED, MAPPED, N_STATES as u8] {
        let graph = Graph::new(vec!["t0".into()], vec![]).expect("graph");
        let spec = TaskSpec { decided: Some(code), ..TaskSpec::default() };
        match Run::new(graph, vec![spec]) {
            Err(CoreError::BadSpec(msg)) => assert!(msg.contains("t0") && msg.contains(&format!("code {code}"))),
            other => panic!("code {code}: {:?}", other.map(|_| "a run")),
        }
    }
}

#[test]
fn trigger_failure_propagates() {
    let mut f = Flow::new();
    let a = f.task();
    let b = f.task();
    let c = f.task();
    let cleanup = f.with(spec(Trigger::AllFinished));
    let on_fail = f.with(spec(Trigger::AnyFailed));
    let on_ok = f.with(spec(Trigger::AllSuccessful));
    f.edge(a, b);
    f.edge(b, c);
    f.edge(c, cleanup);
    f.edge(c, on_fail);
    f.edge(c, on_ok);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, a, FAILED);
    assert_eq!(run.task_state(b), TRIGGER_FAILED);
    assert_eq!(run.task_state(c), TRIGGER_FAILED);
    assert_eq!(run.task_state(on_ok), TRIGGER_FAILED);
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![cleanup, on_fail]);
    report1(&mut run, cleanup, SUCCESS);
    report1(&mut run, on_fail, SUCCESS);
    assert!(run.is_complete());
    assert_eq!(run.verdict(&[on_fail]), FinalVerdict::AllSucceeded);
    assert_eq!(run.verdict(&[cleanup, c]), FinalVerdict::SomeFailed);
}

// ----- retries -------------------------------------------------------------------

#[test]
fn retry_timer_count_and_exhaustion() {
    let mut f = Flow::new();
    let a = f.with(retrying(2, 100));
    let b = f.task();
    f.edge(a, b);
    let mut run = f.start();
    assert_eq!(tasks_of(&run.next_batch(10, 0)), vec![a]);
    assert_eq!(run.task_run_count(a), 1);
    run.report(a, None, &[FAILED | RETRY_OK], 5).unwrap();
    assert_eq!(run.task_state(a), RETRYING);
    assert_eq!(run.task_state(b), PENDING);
    assert_eq!(run.next_timer(), Some(105));
    assert!(!run.is_stalled());
    assert!(!run.has_ready());
    // not before the timer is due
    assert!(run.next_batch(10, 104).is_empty());
    assert_eq!(run.task_state(a), RETRYING);
    assert_eq!(tasks_of(&run.next_batch(10, 105)), vec![a]);
    assert_eq!(run.next_timer(), None);
    assert_eq!(run.task_run_count(a), 2);
    run.report(a, None, &[TIMED_OUT | RETRY_OK], 200).unwrap();
    assert_eq!(run.task_state(a), RETRYING);
    assert_eq!(run.next_timer(), Some(300));
    assert_eq!(tasks_of(&run.next_batch(10, 1_000)), vec![a]);
    assert_eq!(run.task_run_count(a), 3);
    // run_count 3 > max_retries 2: the failure is final
    run.report(a, None, &[FAILED | RETRY_OK], 1_000).unwrap();
    assert_eq!(run.task_state(a), FAILED);
    assert_eq!(run.task_state(b), TRIGGER_FAILED);
    assert!(run.is_complete());
    assert_eq!(run.next_timer(), None);
}

#[test]
fn retry_table() {
    // (max_retries, outcomes per attempt, expected final state, expected run count)
    let rows: Vec<(u8, Vec<u8>, u8, u8)> = vec![
        (0, vec![FAILED | RETRY_OK], FAILED, 1),
        (1, vec![FAILED | RETRY_OK, SUCCESS], SUCCESS, 2),
        (1, vec![FAILED | RETRY_OK, FAILED | RETRY_OK], FAILED, 2),
        (3, vec![FAILED], FAILED, 1), // not retryable (retry_on rejected the exception)
        (3, vec![TIMED_OUT], TIMED_OUT, 1),
        (3, vec![TIMED_OUT | RETRY_OK, FAILED | RETRY_OK, SKIPPED], SKIPPED, 3),
        (3, vec![FAILED | RETRY_OK; 4], FAILED, 4),
        (3, vec![FAILED | RETRY_OK, FAILED | RETRY_OK, FAILED | RETRY_OK, FAILED | RETRY_OK, SUCCESS], FAILED, 4),
        // RETRY signal: retry now whatever max_retries says
        (0, vec![RETRYING, RETRYING, SUCCESS], SUCCESS, 3),
        (1, vec![FAILED | RETRY_OK, RETRYING, FAILED | RETRY_OK], FAILED, 3),
        (0, vec![TRIGGER_FAILED], TRIGGER_FAILED, 1),
        // a TRIGGERFAIL raised inside the task body is retried like any failure
        (1, vec![TRIGGER_FAILED | RETRY_OK, SUCCESS], SUCCESS, 2),
        (1, vec![TRIGGER_FAILED | RETRY_OK, TRIGGER_FAILED | RETRY_OK], TRIGGER_FAILED, 2),
        (2, vec![CACHED], CACHED, 1),
    ];
    for (row, (max_retries, script, want, runs)) in rows.into_iter().enumerate() {
        for mapped in [false, true] {
            let mut f = Flow::new();
            let list = f.task();
            let t = f.with(retrying(max_retries, 7));
            if mapped {
                f.mapped(list, t);
            } else {
                f.edge(list, t);
            }
            let mut run = f.start();
            let end = drive(
                &mut run,
                |task, i, attempt| {
                    if task == list {
                        return SUCCESS;
                    }
                    let _ = i;
                    script.get(attempt as usize - 1).copied().unwrap_or(SUCCESS)
                },
                |_| Some(2),
            );
            let (state, count) = if mapped {
                assert_eq!(run.task_state(t), MAPPED);
                assert_eq!(run.task_run_count(t), 0, "a mapped parent does not run");
                let st = run.child_states(t);
                assert_eq!(st[0], st[1], "children retry independently but alike");
                (st[0], run.child_run_counts(t)[0])
            } else {
                (run.task_state(t), run.task_run_count(t))
            };
            assert_eq!((name(state), count), (name(want), runs), "row {row} mapped={mapped}");
            // the clock only moved by retry delays
            let retries_with_delay = script.iter().take(runs as usize - 1).filter(|&&c| c != RETRYING).count() as u64;
            assert_eq!(end, 7 * retries_with_delay, "row {row} mapped={mapped}");
        }
    }
}

#[test]
fn downstream_waits_while_upstream_retries() {
    let mut f = Flow::new();
    let a = f.with(retrying(1, 50));
    let other = f.task();
    let b = f.task();
    f.edge(a, b);
    let mut run = f.start();
    batch(&mut run, 0);
    run.report(a, None, &[FAILED | RETRY_OK], 0).unwrap();
    // other work proceeds first; b stays pending
    report1(&mut run, other, SUCCESS);
    assert!(batch(&mut run, 49).is_empty());
    assert_eq!(run.task_state(b), PENDING);
    assert!(!run.is_stalled());
    assert_eq!(run.next_timer(), Some(50));
    assert_eq!(tasks_of(&batch(&mut run, 50)), vec![a]);
    run.report(a, None, &[SUCCESS], 50).unwrap();
    assert_eq!(tasks_of(&batch(&mut run, 50)), vec![b]);
}

#[test]
fn mapped_children_retry_independently_and_reduce_waits() {
    let mut f = Flow::new();
    let list = f.task();
    let m = f.with(retrying(1, 10));
    let r = f.task();
    f.mapped(list, m);
    f.edge(m, r);
    let mut run = f.start();
    assert_eq!(succeed_ready(&mut run), vec![list]);
    batch(&mut run, 0);
    run.prepared(m, Some(3), &[], None).unwrap();
    let items = batch(&mut run, 0);
    assert_eq!(children_of(&items, m), vec![0, 1, 2]);
    run.report(m, Some(&[0, 1, 2]), &[SUCCESS, FAILED | RETRY_OK, SUCCESS], 0).unwrap();
    assert_eq!(run.child_states(m), &[SUCCESS, RETRYING, SUCCESS]);
    assert_eq!(run.task_state(m), MAPPED);
    assert!(batch(&mut run, 9).is_empty(), "the reduce waits for the retrying child");
    let items = batch(&mut run, 10);
    assert_eq!(children_of(&items, m), vec![1]);
    assert_eq!(run.child_run_counts(m), &[1, 2, 1]);
    run.report(m, Some(&[1]), &[SUCCESS], 10).unwrap();
    assert_eq!(tasks_of(&batch(&mut run, 10)), vec![r]);
}

#[test]
fn forced_retry_is_immediate() {
    let mut f = Flow::new();
    let a = f.task(); // max_retries 0
    let mut run = f.start();
    batch(&mut run, 0);
    run.report(a, None, &[RETRYING], 42).unwrap();
    assert_eq!(run.task_state(a), RETRYING);
    assert_eq!(run.next_timer(), Some(42));
    assert!(batch(&mut run, 41).is_empty());
    assert_eq!(tasks_of(&batch(&mut run, 42)), vec![a]);
    assert_eq!(run.task_run_count(a), 2);
}

#[test]
fn paused_task_stalls_the_run() {
    let mut f = Flow::new();
    let a = f.task();
    let b = f.task();
    f.edge(a, b);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, a, PAUSED);
    assert_eq!(run.task_state(a), PAUSED);
    assert!(!run.is_complete());
    assert!(run.is_stalled());
    assert_eq!(run.next_timer(), None);
}

// ----- mapping -------------------------------------------------------------------

/// list -> m = map(list) with width `n`, all runs successful so far.
fn mapped_over_list(f: &mut Flow) -> (u32, u32) {
    let list = f.task();
    let m = f.task();
    f.mapped(list, m);
    (list, m)
}

#[test]
fn empty_map() {
    let mut f = Flow::new();
    let (list, m) = mapped_over_list(&mut f);
    let m2 = f.task();
    f.mapped(m, m2);
    let reduce_ok = f.task();
    f.edge(m2, reduce_ok);
    let reduce_any = f.with(spec(Trigger::AnySuccessful));
    f.edge(m, reduce_any);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, list, SUCCESS);
    assert_eq!(batch(&mut run, 0), vec![Item { task: m, kind: ItemKind::Prepare, indices: None }]);
    run.prepared(m, Some(0), &[], None).unwrap();
    assert_eq!((run.task_state(m), run.width(m)), (MAPPED, Some(0)));
    assert_eq!((run.task_state(m2), run.width(m2)), (MAPPED, Some(0)), "mapped over a mapped task: no Prepare");
    assert_eq!(run.task_state(reduce_any), TRIGGER_FAILED, "a reduce over zero children has edges");
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![reduce_ok], "all_successful([]) passes");
    report1(&mut run, reduce_ok, SUCCESS);
    assert!(run.is_complete());
    assert_eq!(run.verdict(&[m, m2]), FinalVerdict::AllSucceeded);
}

#[test]
fn zip_shortest_width() {
    // z = map(long_list, m3) where m3 has 3 children: width min(5, 3); y = map(list of 2, m3)
    let mut f = Flow::new();
    let (list, m3) = mapped_over_list(&mut f);
    let long = f.task();
    let z = f.task();
    f.mapped(long, z);
    f.mapped(m3, z);
    let short = f.task();
    let y = f.task();
    f.mapped(m3, y);
    f.mapped(short, y);
    let mut run = f.start();
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![list, long, short]);
    for t in [list, long, short] {
        report1(&mut run, t, SUCCESS);
    }
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![m3]);
    run.prepared(m3, Some(3), &[], None).unwrap();
    let items = batch(&mut run, 0);
    // y and z need their list lengths: Prepare items, deepest first
    assert_eq!(items[0], Item { task: y, kind: ItemKind::Prepare, indices: None });
    assert_eq!(items[1], Item { task: z, kind: ItemKind::Prepare, indices: None });
    assert_eq!(children_of(&items, m3), vec![0, 1, 2]);
    run.prepared(z, Some(5), &[], None).unwrap();
    run.prepared(y, Some(2), &[], None).unwrap();
    assert_eq!(run.width(z), Some(3));
    assert_eq!(run.width(y), Some(2));
    run.report(m3, Some(&[0, 1, 2]), &[SUCCESS; 3], 0).unwrap();
    let items = batch(&mut run, 0);
    assert_eq!(children_of(&items, z), vec![0, 1, 2]);
    assert_eq!(children_of(&items, y), vec![0, 1]);
}

#[test]
fn mapped_to_mapped_runs_child_by_child() {
    let mut f = Flow::new();
    let (list, a) = mapped_over_list(&mut f);
    let b = f.task();
    f.mapped(a, b);
    let c = f.task();
    f.mapped(b, c);
    let mut run = f.start();
    succeed_ready(&mut run);
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![a]);
    run.prepared(a, Some(3), &[], None).unwrap();
    // b and c map at once (their widths come from a): no Prepare
    assert_eq!((run.width(b), run.width(c)), (Some(3), Some(3)));
    let items = batch(&mut run, 0);
    assert_eq!(items.len(), 1);
    assert_eq!(children_of(&items, a), vec![0, 1, 2]);
    run.report(a, Some(&[1]), &[SUCCESS], 0).unwrap();
    // child 1 of b is ready before a's other children finish
    let items = batch(&mut run, 0);
    assert_eq!(items, vec![Item { task: b, kind: ItemKind::Run, indices: Some(vec![1]) }]);
    run.report(b, Some(&[1]), &[SUCCESS], 0).unwrap();
    let items = batch(&mut run, 0);
    assert_eq!(items, vec![Item { task: c, kind: ItemKind::Run, indices: Some(vec![1]) }]);
    run.report(c, Some(&[1]), &[SUCCESS], 0).unwrap();
    // a failed child only poisons its own pipeline
    run.report(a, Some(&[2, 0]), &[FAILED, SUCCESS], 0).unwrap();
    assert_eq!(run.child_states(b), &[PENDING, SUCCESS, TRIGGER_FAILED]);
    assert_eq!(run.child_states(c), &[PENDING, SUCCESS, TRIGGER_FAILED]);
    let items = batch(&mut run, 0);
    assert_eq!(items, vec![Item { task: b, kind: ItemKind::Run, indices: Some(vec![0]) }]);
    let _ = list;
}

#[test]
fn deepest_ready_work_comes_first() {
    // With a batch of one, the pipeline advances depth first.
    let mut f = Flow::new();
    let (list, a) = mapped_over_list(&mut f);
    let b = f.task();
    f.mapped(a, b);
    let mut run = f.start();
    let root = run.next_batch(1, 0)[0].task;
    report1(&mut run, root, SUCCESS);
    run.next_batch(1, 0);
    run.prepared(a, Some(2), &[], None).unwrap();
    let first = run.next_batch(1, 0);
    assert_eq!(first, vec![Item { task: a, kind: ItemKind::Run, indices: Some(vec![0]) }]);
    run.report(a, Some(&[0]), &[SUCCESS], 0).unwrap();
    assert_eq!(run.next_batch(1, 0), vec![Item { task: b, kind: ItemKind::Run, indices: Some(vec![0]) }]);
    let _ = list;
}

#[test]
fn reduce_is_a_barrier() {
    let mut f = Flow::new();
    let (list, m) = mapped_over_list(&mut f);
    let r = f.task();
    f.edge(m, r);
    let mut run = f.start();
    succeed_ready(&mut run);
    batch(&mut run, 0);
    run.prepared(m, Some(4), &[], None).unwrap();
    batch(&mut run, 0);
    for i in [3, 0, 2] {
        run.report(m, Some(&[i]), &[SUCCESS], 0).unwrap();
        assert!(batch(&mut run, 0).is_empty(), "reduce ready before child 1 finished");
        assert_eq!(run.task_state(r), PENDING);
    }
    run.report(m, Some(&[1]), &[SUCCESS], 0).unwrap();
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![r]);
    let _ = list;
}

#[test]
fn reduce_after_failed_or_skipped_child() {
    // (child outcomes, reduce skip_on_upstream_skip, expected reduce state)
    let rows: Vec<(Vec<u8>, bool, u8)> = vec![
        (vec![SUCCESS, FAILED, SUCCESS], true, TRIGGER_FAILED),
        (vec![SUCCESS, SKIPPED, SUCCESS], true, SKIPPED),
        (vec![SUCCESS, SKIPPED, SUCCESS], false, SUCCESS),
        (vec![SKIPPED, FAILED], true, SKIPPED),
        (vec![SKIPPED, FAILED], false, TRIGGER_FAILED),
        (vec![SUCCESS, CACHED], true, SUCCESS),
    ];
    for (row, (children, skip, want)) in rows.into_iter().enumerate() {
        let mut f = Flow::new();
        let (list, m) = mapped_over_list(&mut f);
        let r = f.with(TaskSpec { skip_on_upstream_skip: skip, ..TaskSpec::default() });
        f.edge(m, r);
        let mut run = f.start();
        succeed_ready(&mut run);
        batch(&mut run, 0);
        run.prepared(m, Some(children.len() as u32), &[], None).unwrap();
        let ix = children_of(&batch(&mut run, 0), m);
        run.report(m, Some(&ix), &children, 0).unwrap();
        if want == SUCCESS {
            assert_eq!(tasks_of(&batch(&mut run, 0)), vec![r], "row {row}");
            report1(&mut run, r, SUCCESS);
        }
        assert_eq!(name(run.task_state(r)), name(want), "row {row}");
        assert!(run.is_complete());
        let _ = list;
    }
}

#[test]
fn mapped_parent_skips_or_fails_without_children() {
    // m = map(a): a failed -> m Failed ("No upstream states can be mapped over"), no children.
    // n = map(a, unmapped(b)) where b skipped -> n Skipped.
    let mut f = Flow::new();
    let a = f.task();
    let b = f.task();
    let m = f.task();
    f.mapped(a, m);
    let n = f.task();
    f.mapped(b, n);
    let after_m = f.task();
    f.edge(m, after_m);
    let mm = f.task();
    f.mapped(m, mm); // mapped over a failed mapped task: nothing to map over either
    let ok = f.task();
    let unmapped_skip = f.task();
    f.mapped(ok, unmapped_skip);
    f.edge(b, unmapped_skip);
    let no_skip_map = f.with(no_skip(Trigger::AllSuccessful));
    f.mapped(b, no_skip_map);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, a, FAILED);
    report1(&mut run, b, SKIPPED);
    report1(&mut run, ok, SUCCESS);
    assert_eq!(run.task_state(m), FAILED);
    assert_eq!(run.width(m), None);
    assert!(run.child_states(m).is_empty());
    assert_eq!(run.task_state(after_m), TRIGGER_FAILED);
    assert_eq!(run.task_state(mm), FAILED);
    assert_eq!(run.task_state(n), SKIPPED);
    assert_eq!(run.task_state(unmapped_skip), SKIPPED);
    // skip_on_upstream_skip=false: a skipped upstream is "successful", so its (None)
    // value is measured by Python, which fails the task as unmappable.
    let items = batch(&mut run, 0);
    assert_eq!(items, vec![Item { task: no_skip_map, kind: ItemKind::Prepare, indices: None }]);
    run.prepared(no_skip_map, None, &[], Some(FAILED)).unwrap();
    assert_eq!(run.task_state(no_skip_map), FAILED);
    assert_eq!(run.width(no_skip_map), None);
    assert!(run.is_complete());
    for t in [m, mm, no_skip_map, n] {
        assert_eq!(run.task_run_count(t), 0);
    }
}

/// An observed mapped task proposes MAPPED before making its children (its handlers see
/// `Pending -> Mapped`): confirming it maps, another finished state ends it childless.
#[test]
fn observed_mapped_parent_proposes_mapped_first() {
    let observed = TaskSpec { observed: true, ..TaskSpec::default() };
    let mut f = Flow::new();
    let list = f.task();
    let m = f.with(observed.clone()); // mapped over a list: prepared first
    f.mapped(list, m);
    let mm = f.with(observed.clone()); // mapped over m: no Prepare, proposed at once
    f.mapped(m, mm);
    let refused = f.with(observed);
    f.mapped(list, refused);
    let after = f.task();
    f.mapped(refused, after);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, list, SUCCESS);
    let prepares = batch(&mut run, 0);
    assert_eq!(tasks_of(&prepares), vec![m, refused]);
    run.prepared(m, Some(2), &[], None).unwrap();
    run.prepared(refused, Some(2), &[], None).unwrap();
    assert_eq!((run.task_state(m), run.width(m)), (PENDING, None), "not mapped before Python confirms");
    let proposals = batch(&mut run, 0);
    assert!(proposals.iter().all(|i| i.kind == ItemKind::Decided(MAPPED) && i.indices.is_none()), "{proposals:?}");
    assert_eq!(tasks_of(&proposals), vec![m, refused]);
    assert!(bad(run.report(m, None, &[RETRYING], 0)), "a mapped parent cannot end Retrying");
    report1(&mut run, m, MAPPED);
    report1(&mut run, refused, FAILED); // a handler chose Failed: no children
    assert_eq!((run.task_state(m), run.width(m)), (MAPPED, Some(2)));
    assert_eq!((run.task_state(refused), run.width(refused)), (FAILED, None));
    assert_eq!(run.task_state(after), FAILED, "nothing to map over");
    // mm's width is m's: proposed without a Prepare item, next to m's children
    let items = batch(&mut run, 0);
    assert!(items.contains(&Item { task: mm, kind: ItemKind::Decided(MAPPED), indices: None }), "{items:?}");
    assert_eq!(children_of(&items, m), vec![0, 1]);
    report1(&mut run, mm, MAPPED);
    run.report(m, Some(&[0, 1]), &[SUCCESS, SUCCESS], 0).unwrap();
    assert_eq!(children_of(&batch(&mut run, 0), mm), vec![0, 1]);
    run.report(mm, Some(&[0, 1]), &[SUCCESS, SUCCESS], 0).unwrap();
    assert!(run.is_complete());
}

#[test]
fn failed_input_beside_a_mappable_one_reaches_every_child() {
    // m = map(list, failed_list): width from list; every child sees the failure.
    let mut f = Flow::new();
    let list = f.task();
    let bad = f.task();
    let m = f.task();
    f.mapped(list, m);
    f.mapped(bad, m);
    let lenient = f.with(spec(Trigger::AnySuccessful));
    f.mapped(list, lenient);
    f.mapped(bad, lenient);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, list, SUCCESS);
    report1(&mut run, bad, FAILED);
    let items = batch(&mut run, 0);
    assert_eq!(tasks_of(&items), vec![m, lenient]);
    run.prepared(m, Some(2), &[], None).unwrap();
    run.prepared(lenient, Some(2), &[], None).unwrap();
    assert_eq!(run.child_states(m), &[TRIGGER_FAILED, TRIGGER_FAILED]);
    assert_eq!(children_of(&batch(&mut run, 0), lenient), vec![0, 1]);
}

#[test]
fn flattened_edge_over_mapped_upstream() {
    // a = map(list) with 3 children, each returning a list; fl = map(flatten(a)).
    let mut f = Flow::new();
    let (_, a) = mapped_over_list(&mut f);
    let fl = f.task();
    f.flat(a, fl);
    let lenient = f.with(no_skip(Trigger::AllFinished));
    f.flat(a, lenient);
    let mut run = f.start();
    succeed_ready(&mut run);
    batch(&mut run, 0);
    run.prepared(a, Some(3), &[], None).unwrap();
    let items = batch(&mut run, 0);
    assert_eq!(children_of(&items, a), vec![0, 1, 2]);
    assert!(tasks_of(&items).is_empty());
    run.report(a, Some(&[0, 1]), &[SUCCESS, SKIPPED], 0).unwrap();
    assert!(batch(&mut run, 0).is_empty(), "a flattened edge waits for every child");
    run.report(a, Some(&[2]), &[FAILED], 0).unwrap();
    let items = batch(&mut run, 0);
    assert_eq!(tasks_of(&items), vec![fl, lenient]);
    assert!(items.iter().all(|i| i.kind == ItemKind::Prepare), "element counts are needed");
    // element counts per child of a: 2, 1, 2 -> five elements
    let counts = vec![(a, vec![2, 1, 2])];
    run.prepared(fl, None, &counts, None).unwrap();
    run.prepared(lenient, None, &counts, None).unwrap();
    assert_eq!(run.width(fl), Some(5));
    // elements inherit the state of the child they came from
    assert_eq!(names(run.child_states(fl)), names(&[PENDING, PENDING, SKIPPED, TRIGGER_FAILED, TRIGGER_FAILED]));
    assert_eq!(run.child_states(lenient), &[PENDING; 5]);
    let items = batch(&mut run, 0);
    assert_eq!(children_of(&items, fl), vec![0, 1]);
    assert_eq!(children_of(&items, lenient), vec![0, 1, 2, 3, 4]);
}

#[test]
fn flattened_edge_needs_element_counts() {
    for counts in [vec![], vec![(0u32, vec![1])], vec![(1u32, vec![1, 1, 1])]] {
        let mut f = Flow::new();
        let (_, a) = mapped_over_list(&mut f);
        let fl = f.task();
        f.flat(a, fl);
        let mut run = f.start();
        succeed_ready(&mut run);
        batch(&mut run, 0);
        run.prepared(a, Some(2), &[], None).unwrap();
        let ix = children_of(&batch(&mut run, 0), a);
        run.report(a, Some(&ix), &[SUCCESS, SUCCESS], 0).unwrap();
        assert_eq!(batch(&mut run, 0), vec![Item { task: fl, kind: ItemKind::Prepare, indices: None }]);
        // missing entry for a, or the wrong number of counts for a's two children
        let counts: Vec<(u32, Vec<u32>)> = counts.into_iter().map(|(u, c)| (if u == 1 { a } else { 99 }, c)).collect();
        assert!(bad(run.prepared(fl, None, &counts, None)), "{counts:?}");
    }
}
#[test]
fn flattened_edge_width_hint_is_zip_shortest() {
    // map(flatten(a), other_list): width = min(elements, hint)
    let mut f = Flow::new();
    let (_, a) = mapped_over_list(&mut f);
    let other = f.task();
    let fl = f.task();
    f.flat(a, fl);
    f.mapped(other, fl);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, 0, SUCCESS);
    report1(&mut run, other, SUCCESS);
    batch(&mut run, 0);
    run.prepared(a, Some(2), &[], None).unwrap();
    let ix = children_of(&batch(&mut run, 0), a);
    run.report(a, Some(&ix), &[SUCCESS, SUCCESS], 0).unwrap();
    batch(&mut run, 0);
    run.prepared(fl, Some(3), &[(a, vec![4, 4])], None).unwrap();
    assert_eq!(run.width(fl), Some(3));
}

// ----- reference tasks and the final verdict ----------------------------------------

#[test]
fn verdict_over_reference_tasks() {
    let mut f = Flow::new();
    let ok = f.task();
    let bad = f.task();
    let skipped = f.task();
    let (_, m) = mapped_over_list(&mut f);
    let (_, empty) = mapped_over_list(&mut f);
    let mut run = f.start();
    drive(
        &mut run,
        |t, i, _| match (t, i) {
            (t, None) if t == bad => FAILED,
            (t, None) if t == skipped => SKIPPED,
            (t, Some(1)) if t == m => FAILED,
            _ => SUCCESS,
        },
        |t| Some(if t == m { 3 } else { 0 }),
    );
    assert_eq!(run.child_states(m), &[SUCCESS, FAILED, SUCCESS]);
    assert_eq!(run.verdict(&[]), FinalVerdict::AllSucceeded);
    assert_eq!(run.verdict(&[ok, skipped]), FinalVerdict::AllSucceeded);
    assert_eq!(run.verdict(&[ok, bad]), FinalVerdict::SomeFailed);
    // a Mapped parent is expanded to its children
    assert_eq!(run.verdict(&[ok, m]), FinalVerdict::SomeFailed);
    assert_eq!(run.verdict(&[empty]), FinalVerdict::AllSucceeded);
}

// ----- cancellation ----------------------------------------------------------------

#[test]
fn cancel_ends_every_unfinished_run() {
    let mut f = Flow::new();
    let done = f.task();
    let (list, m) = mapped_over_list(&mut f);
    let r = f.task();
    f.edge(m, r);
    let retry = f.with(retrying(3, 1_000));
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, done, SUCCESS);
    report1(&mut run, list, SUCCESS);
    run.report(retry, None, &[FAILED | RETRY_OK], 0).unwrap();
    batch(&mut run, 0);
    run.prepared(m, Some(3), &[], None).unwrap();
    let items = batch(&mut run, 0);
    assert_eq!(children_of(&items, m), vec![0, 1, 2]);
    run.report(m, Some(&[0]), &[SUCCESS], 0).unwrap();
    assert!(run.in_flight() > 0);
    run.cancel();
    assert!(run.is_complete());
    assert!(!run.is_stalled());
    assert_eq!(run.in_flight(), 0);
    assert_eq!(run.next_timer(), None);
    assert!(batch(&mut run, 10_000).is_empty());
    assert_eq!(run.task_state(done), SUCCESS);
    assert_eq!(run.task_state(m), MAPPED);
    assert_eq!(run.child_states(m), &[SUCCESS, CANCELLED, CANCELLED]);
    assert_eq!(run.task_state(r), CANCELLED);
    assert_eq!(run.task_state(retry), CANCELLED);
    assert_eq!(run.verdict(&[done, r]), FinalVerdict::NoneFailed);
    assert_eq!(run.verdict(&[done]), FinalVerdict::AllSucceeded);
    let t = run.tally(m);
    assert_eq!((t[MAPPED as usize], t[SUCCESS as usize], t[CANCELLED as usize]), (1, 1, 2));
    // late reports of cancelled runs are refused
    assert!(matches!(run.report(m, Some(&[1]), &[SUCCESS], 0), Err(CoreError::BadReport(_))));
}

// ----- bad reports -------------------------------------------------------------------

#[test]
fn bad_reports_are_refused() {
    let mut f = Flow::new();
    let a = f.task();
    let b = f.task();
    f.edge(a, b);
    let (list, m) = mapped_over_list(&mut f);
    let mut run = f.start();
    assert!(bad(run.report(a, None, &[SUCCESS], 0)), "not handed out yet");
    assert_eq!(tasks_of(&batch(&mut run, 0)), vec![a, list]);
    assert!(bad(run.report(b, None, &[SUCCESS], 0)), "pending downstream");
    assert!(bad(run.report(99, None, &[SUCCESS], 0)), "unknown task");
    assert!(bad(run.report(a, None, &[], 0)), "no code");
    assert!(bad(run.report(a, None, &[SUCCESS, SUCCESS], 0)), "two codes for one run");
    assert!(bad(run.report(a, Some(&[0]), &[SUCCESS], 0)), "a child of a task that is not mapped");
    for code in [PENDING, RUNNING, MAPPED, N_STATES as u8, 200, RETRY_OK, RETRY_OK | MAPPED] {
        assert!(bad(run.report(a, None, &[code], 0)), "code {code}");
        assert_eq!(run.task_state(a), RUNNING, "a refused code leaves the run running");
    }
    assert_eq!(run.in_flight(), 2);
    report1(&mut run, a, SUCCESS);
    assert!(bad(run.report(a, None, &[SUCCESS], 0)), "reported twice");
    assert!(bad(run.prepared(a, Some(1), &[], None)), "not a mapped task");
    assert!(bad(run.prepared(m, Some(1), &[], None)), "not handed out for Prepare yet");
    report1(&mut run, list, SUCCESS);
    assert!(bad(run.report(m, Some(&[0]), &[SUCCESS], 0)), "not mapped yet");
    let items = batch(&mut run, 0);
    assert_eq!(tasks_of(&items), vec![b, m]);
    report1(&mut run, b, SUCCESS);
    run.prepared(m, Some(2), &[], None).unwrap();
    assert!(bad(run.prepared(m, Some(2), &[], None)), "prepared twice");
    assert!(bad(run.report(m, Some(&[0]), &[SUCCESS], 0)), "child not handed out yet");
    assert!(bad(run.report(m, None, &[SUCCESS], 0)), "a Mapped parent is not running");
    assert_eq!(children_of(&batch(&mut run, 0), m), vec![0, 1]);
    assert!(bad(run.report(m, Some(&[5]), &[SUCCESS], 0)), "child out of range");
    assert!(bad(run.report(m, Some(&[0, 1]), &[SUCCESS], 0)), "fewer codes than indices");
    assert!(bad(run.report(m, Some(&[0]), &[SUCCESS, FAILED], 0)), "more codes than indices");
    assert!(bad(run.report(m, Some(&[0]), &[MAPPED], 0)), "invalid child code");
    assert!(bad(run.report(m, Some(&[1]), &[PENDING], 0)), "invalid child code");
    assert_eq!(run.child_states(m), &[RUNNING, RUNNING]);
    assert_eq!(run.in_flight(), 2);
    run.report(m, Some(&[0, 1]), &[SUCCESS, FAILED], 0).unwrap();
    assert!(run.is_complete());
}

#[test]
fn prepare_can_only_end_in_a_finished_state() {
    for (code, ok) in
        [(FAILED, true), (SKIPPED, true), (CANCELLED, true), (MAPPED, false), (PENDING, false), (PAUSED, false)]
    {
        let mut f = Flow::new();
        let (_, m) = mapped_over_list(&mut f);
        let mut run = f.start();
        succeed_ready(&mut run);
        batch(&mut run, 0);
        let r = run.prepared(m, None, &[], Some(code));
        assert_eq!(r.is_ok(), ok, "{}", name(code));
        if ok {
            assert_eq!(run.task_state(m), code);
            assert!(run.is_complete());
        }
    }
}
// ----- tallies -------------------------------------------------------------------------

#[test]
fn tally_counts_the_parent_and_its_children() {
    let mut f = Flow::new();
    let (list, m) = mapped_over_list(&mut f);
    let mut run = f.start();
    let tally_of = |run: &Run, t: u32| -> Vec<(&'static str, u64)> {
        run.tally(t).iter().enumerate().filter(|(_, &n)| n > 0).map(|(c, &n)| (NAMES[c], n)).collect()
    };
    assert_eq!(tally_of(&run, list), vec![("Pending", 1)]);
    batch(&mut run, 0);
    assert_eq!(tally_of(&run, list), vec![("Running", 1)]);
    report1(&mut run, list, SUCCESS);
    assert_eq!(tally_of(&run, list), vec![("Success", 1)]);
    batch(&mut run, 0);
    run.prepared(m, Some(5), &[], None).unwrap();
    assert_eq!(tally_of(&run, m), vec![("Pending", 5), ("Mapped", 1)]);
    let _ = run.next_batch(3, 0);
    assert_eq!(tally_of(&run, m), vec![("Pending", 2), ("Running", 3), ("Mapped", 1)]);
    run.report(m, Some(&[0, 1, 2]), &[SUCCESS, FAILED | RETRY_OK, SKIPPED], 0).unwrap();
    assert_eq!(tally_of(&run, m), vec![("Pending", 2), ("Success", 1), ("Mapped", 1), ("Skipped", 1), ("Failed", 1)]);
}

// ----- wide maps -----------------------------------------------------------------------

#[test]
fn million_child_map_and_reduce() {
    const N: u32 = 1_000_000;
    let mut f = Flow::new();
    let (list, m) = mapped_over_list(&mut f);
    let m2 = f.task();
    f.mapped(m, m2);
    let r = f.task();
    f.edge(m2, r);
    let mut run = f.start();
    let started = std::time::Instant::now();
    let mut reported = 0u64;
    while !run.is_complete() {
        let items = run.next_batch(65_536, 0);
        assert!(!items.is_empty(), "stalled");
        for it in items {
            match (it.kind, it.indices) {
                (ItemKind::Prepare, _) => run.prepared(it.task, Some(N), &[], None).unwrap(),
                (_, None) => report1(&mut run, it.task, SUCCESS),
                (_, Some(ix)) => {
                    reported += ix.len() as u64;
                    let codes = vec![SUCCESS; ix.len()];
                    run.report(it.task, Some(&ix), &codes, 0).unwrap();
                }
            }
        }
    }
    assert_eq!(reported, 2 * N as u64);
    assert_eq!(run.task_state(r), SUCCESS);
    assert_eq!(run.tally(m2)[SUCCESS as usize], N as u64);
    assert_eq!(run.verdict(&[m2, r]), FinalVerdict::AllSucceeded);
    eprintln!("2 x {N} children + reduce: {:?}", started.elapsed());
    let _ = list;
}

// ----- regressions: core bugs found by these tests (fixed in e29a1c9) --------------------

/// A mapped task must not evaluate child `i` before child `i` of every mapped upstream
/// has finished.
///
/// Found by the model test. The bug: when one `report` finished several children of `a`,
/// their `ChildFinished` events sat on the event stack; if a cascade from the first one
/// mapped a downstream task `x` (here through `unmapped(c)`), `map_task` computed `x`'s
/// per-child waiting counters from `a`'s *states* (already finished), and the
/// still-queued `ChildFinished(a, i)` then decremented `x.waiting[i]` a second time: in
/// debug builds an "attempt to subtract with overflow" panic; in release, when `x` has
/// another mapped upstream `b` whose child `i` is still running, the counter reached 0
/// early and `x[i]` was decided before `b[i]` finished (here, with `all_finished`, x[1]
/// was handed out to run while b[1] was still running).
#[test]
fn child_waits_for_every_mapped_upstream_child_after_a_cascade() {
    // r, r1 roots; a = map(r); b = map(r); c = map(a, r1) (one child);
    // x = map(a, b, unmapped(c)) with trigger all_finished
    let mut f = Flow::new();
    let r = f.task();
    let r1 = f.task();
    let a = f.task();
    f.mapped(r, a);
    let b = f.task();
    f.mapped(r, b);
    let c = f.task();
    f.mapped(a, c);
    f.mapped(r1, c);
    let x = f.with(spec(Trigger::AllFinished));
    f.mapped(a, x);
    f.mapped(b, x);
    f.edge(c, x);
    let mut run = f.start();
    assert_eq!(succeed_ready(&mut run), vec![r, r1]);
    batch(&mut run, 0);
    run.prepared(a, Some(2), &[], None).unwrap();
    run.prepared(b, Some(2), &[], None).unwrap();
    batch(&mut run, 0); // c's Prepare, a[0], a[1], b[0], b[1]
    run.prepared(c, Some(1), &[], None).unwrap();
    assert_eq!(run.child_states(b), &[RUNNING, RUNNING]);
    // a[1] and a[0] finish in one report; a[0]'s failure cascades: c[0] TriggerFailed,
    // c is fully done, so x maps while ChildFinished(a, 1) is still queued.
    run.report(a, Some(&[1, 0]), &[SUCCESS, FAILED], 0).unwrap();
    assert_eq!(run.child_states(c), &[TRIGGER_FAILED]);
    assert_eq!(run.task_state(x), MAPPED);
    let items = batch(&mut run, 0);
    assert!(children_of(&items, x).is_empty(), "x[1] handed out while b[1] is still running: {items:?}");
    run.report(b, Some(&[0, 1]), &[SUCCESS, SKIPPED], 0).unwrap();
    assert_eq!(name(run.child_states(x)[1]), name(SKIPPED), "b[1] skipped -> x[1] skipped");
    assert_eq!(children_of(&batch(&mut run, 0), x), vec![0]);
}

/// A refused `prepared` call must not consume the Prepare item. The bug: `prepared`
/// decremented `in_flight` before it validated `fail_code` / the flattened element
/// counts, so after a refusal the task was still RUNNING, `in_flight()` was 0,
/// `is_stalled()` true, and the corrected call underflowed `in_flight`.
#[test]
fn refused_prepared_leaves_the_run_unchanged() {
    let mut f = Flow::new();
    let (_, a) = mapped_over_list(&mut f);
    let fl = f.task();
    f.flat(a, fl);
    let mut run = f.start();
    succeed_ready(&mut run);
    batch(&mut run, 0);
    run.prepared(a, Some(2), &[], None).unwrap();
    let ix = children_of(&batch(&mut run, 0), a);
    run.report(a, Some(&ix), &[SUCCESS, SUCCESS], 0).unwrap();
    batch(&mut run, 0);
    assert_eq!(run.in_flight(), 1);
    assert!(bad(run.prepared(fl, None, &[(a, vec![1])], None)), "one count for two children");
    assert_eq!(run.task_state(fl), RUNNING);
    assert_eq!(run.in_flight(), 1, "the Prepare item is still out");
    assert!(!run.is_stalled());
    assert!(bad(run.prepared(fl, None, &[], Some(PENDING))), "cannot end unfinished");
    assert_eq!(run.in_flight(), 1, "the Prepare item is still out");
    run.prepared(fl, None, &[(a, vec![1, 2])], None).unwrap();
    assert_eq!(run.width(fl), Some(3));
}

/// A refused multi-child `report` changes nothing. The bug: an index not running, or an
/// invalid code, after a valid one applied the children before the bad one, decremented
/// `in_flight` for them and left their events undrained.
#[test]
fn refused_child_report_leaves_the_run_unchanged() {
    let mut f = Flow::new();
    let (_, m) = mapped_over_list(&mut f);
    let mut run = f.start();
    succeed_ready(&mut run);
    batch(&mut run, 0);
    run.prepared(m, Some(2), &[], None).unwrap();
    batch(&mut run, 0);
    assert!(bad(run.report(m, Some(&[0, 7]), &[SUCCESS, SUCCESS], 0)));
    assert!(bad(run.report(m, Some(&[1, 0]), &[FAILED, PENDING], 0)));
    assert_eq!(names(run.child_states(m)), names(&[RUNNING, RUNNING]));
    assert_eq!(run.in_flight(), 2);
}

// ----- one upstream on several edges ------------------------------------------------

/// Mapping twice over the same non-mapped task: each edge gives the child its own
/// copy of the upstream state, so both count (Prefect 1.4.1 does the same).
#[test]
fn same_list_on_two_mapped_edges_counts_twice() {
    let mut f = Flow::new();
    let list = f.task();
    let m = f.with(spec(some_ok(Some(2.0), None)));
    f.mapped(list, m);
    f.mapped(list, m);
    let strict = f.with(spec(some_ok(Some(3.0), None)));
    f.mapped(list, strict);
    f.mapped(list, strict);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, list, SUCCESS);
    for item in batch(&mut run, 0) {
        run.prepared(item.task, Some(2), &[], None).unwrap();
    }
    assert_eq!(children_of(&batch(&mut run, 0), m), vec![0, 1], "two successes >= 2");
    assert_eq!(names(run.child_states(strict)), names(&[TRIGGER_FAILED, TRIGGER_FAILED]), "two < 3");
}

/// A mapped upstream taken both mapped and whole: child i of the upstream is one
/// state, counted once among all the upstream's children.
#[test]
fn mapped_upstream_on_mapped_and_whole_edges_counts_each_child_once() {
    let mut f = Flow::new();
    let (list, a) = mapped_over_list(&mut f);
    let m = f.with(no_skip(some_failed(None, Some(1.0))));
    f.mapped(a, m);
    f.edge(a, m);
    let mut run = f.start();
    batch(&mut run, 0);
    report1(&mut run, list, SUCCESS);
    batch(&mut run, 0);
    run.prepared(a, Some(3), &[], None).unwrap();
    let ix = children_of(&batch(&mut run, 0), a);
    run.report(a, Some(&ix), &[SUCCESS, FAILED, SUCCESS], 0).unwrap();
    // One failure among a's three children: at most one failed for every child of m.
    assert_eq!(children_of(&batch(&mut run, 0), m), vec![0, 1, 2]);
}

/// A task fed by many upstream tasks, each failing one by two keyed arguments (two
/// edges): a state counts once per upstream task however many edges bring it, with a
/// few edges (found by scanning the task's links) as with many (found in a set). Half
/// the upstream tasks succeed: at least half succeeded, not more than half failed.
#[test]
fn duplicate_edges_count_once_with_few_or_many_upstreams() {
    for n_up in [6u32, 20, 200] {
        let mut f = Flow::new();
        let ups: Vec<u32> = (0..n_up).map(|_| f.task()).collect();
        let half_ok = f.with(no_skip(some_ok(Some(0.5), None)));
        let few_failed = f.with(no_skip(some_failed(None, Some(0.5))));
        let mapped = f.with(no_skip(some_ok(Some(0.5), None)));
        for (k, &u) in ups.iter().enumerate() {
            for d in [half_ok, few_failed] {
                f.edge(u, d);
                if k % 2 == 1 {
                    f.edge(u, d); // the failing ones twice
                }
            }
            f.edge(u, mapped);
            f.edge(u, mapped);
        }
        let list = f.task();
        f.mapped(list, mapped);
        f.mapped(list, mapped);
        let mut run = f.start();
        assert_eq!(tasks_of(&batch(&mut run, 0)).len() as u32, n_up + 1);
        for (k, &u) in ups.iter().enumerate() {
            assert!(batch(&mut run, 0).is_empty(), "nothing new before every upstream task is done");
            report1(&mut run, u, if k % 2 == 0 { SUCCESS } else { FAILED });
        }
        report1(&mut run, list, SUCCESS);
        let items = batch(&mut run, 0);
        assert_eq!(tasks_of(&items), vec![half_ok, few_failed, mapped], "{n_up} upstream tasks");
        run.prepared(mapped, Some(2), &[], None).unwrap();
        assert_eq!(children_of(&batch(&mut run, 0), mapped), vec![0, 1], "{n_up} upstream tasks");
    }
}
