//! Per-run bookkeeping: one byte of state (and one of run count) per task run and per
//! mapped child, readiness counters, mapping expansion, skip and trigger-failure
//! propagation, retry timers, batches of ready work and the flow's final verdict.
//!
//! The Python layer drives a run with two calls per round: [`Run::next_batch`] hands
//! out ready task runs grouped by task, and [`Run::report`] takes their outcomes back.
//! A mapped task whose width depends on values (the length of an upstream list) is
//! handed out once as an [`ItemKind::Prepare`] item; Python measures the values and
//! answers with [`Run::prepared`].
//!
//! Readiness follows Prefect Core 1: a non-mapped task waits for every upstream task
//! and every child of a mapped upstream; a mapped task's parent waits for its mapped
//! upstreams' parents only, and child `i` then waits for child `i` of each mapped
//! upstream, so mapped -> mapped chains run child by child. A task decided from the
//! start ([`TaskSpec::decided`]) is in its given state before anything runs, as
//! Prefect's flow runner sets a `Constant` to `Success` without running it and does
//! not run a task given a finished state (`flow.run(task_states=...)`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::error::CoreError;
use crate::graph::{EdgeSpec, Graph};
use crate::ready::RankSet;
use crate::retry::{retry_wait, RetryDelays};
use crate::state::*;
use crate::trigger::{Trigger, Verdict};

/// What the engine must know about a task to schedule it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub trigger: Trigger,
    pub skip_on_upstream_skip: bool,
    pub max_retries: u8,
    /// How long each retry waits (per attempt, optionally jittered).
    pub retry_delays: RetryDelays,
    /// Keyed constant inputs: each counts as one successful upstream state.
    pub n_constants: u32,
    /// Python watches this task's transitions (state handlers): outcomes the core
    /// decides alone (skips, trigger failures, and a mapped task's MAPPED before its
    /// children are made) are proposed to Python as [`ItemKind::Decided`] items
    /// instead of being recorded at once.
    pub observed: bool,
    /// A task decided from the start of the run with this finished state code (not
    /// MAPPED), whatever its upstream tasks do: SUCCESS for a constant (Prefect 1's
    /// `Constant` task), or the state given for the task to `flow.run(task_states=...)`.
    /// It is never handed out, its trigger never evaluated, and it never maps (Python
    /// already holds its value); its downstream tasks see that state.
    pub decided: Option<u8>,
}

impl Default for TaskSpec {
    fn default() -> Self {
        TaskSpec {
            trigger: Trigger::AllSuccessful,
            skip_on_upstream_skip: true,
            max_retries: 0,
            retry_delays: RetryDelays::NONE,
            n_constants: 0,
            observed: false,
            decided: None,
        }
    }
}

/// How a task depends on one upstream task (edges deduplicated per upstream and kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
enum LinkKind {
    /// An unmapped edge: the whole upstream, all of its children when it is mapped.
    /// (Zero: see `Run::link_kind`.)
    Whole = 0,
    /// A mapped, unflattened edge: child `i` depends on the upstream's child `i` (or
    /// element `i` of a non-mapped upstream's value).
    Child = 1,
    /// An unmapped, flattened edge: like `Whole`, but a mapped upstream counts one
    /// upstream state per element of its flattened children.
    WholeFlat = 2,
    /// A mapped, flattened edge: one child per element of the flattened upstream.
    Flat = 3,
}

impl LinkKind {
    #[inline]
    fn of(e: &EdgeSpec) -> LinkKind {
        match (e.mapped, e.flattened) {
            (true, false) => LinkKind::Child,
            (true, true) => LinkKind::Flat,
            (false, false) => LinkKind::Whole,
            (false, true) => LinkKind::WholeFlat,
        }
    }

    #[inline]
    fn from_code(code: u8) -> LinkKind {
        match code {
            0 => LinkKind::Whole,
            1 => LinkKind::Child,
            2 => LinkKind::WholeFlat,
            _ => LinkKind::Flat,
        }
    }
}

/// All the edges of one kind from one upstream task. (How many there are matters only
/// when a task maps over a non-mapped upstream: see `Run::edge_count`.)
#[derive(Debug, Clone, Copy)]
struct Link {
    up: u32,
    kind: LinkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// Run the task (or the listed children).
    Run,
    /// Measure a mapped task's inputs and answer with [`Run::prepared`].
    Prepare,
    /// The core decided these runs end in the given state without running; Python
    /// confirms (or rewrites) it through [`Run::report`]. Only for observed tasks.
    /// `Decided(MAPPED)` proposes to map the task: reporting MAPPED makes its children,
    /// another finished code ends it without children.
    Decided(u8),
}

/// A group of ready task runs of one task. `indices` is `None` for the task itself
/// (a non-mapped task run or a mapped task's parent) and lists children otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub task: u32,
    pub kind: ItemKind,
    pub indices: Option<Vec<u32>>,
}

/// The flow's final verdict over its reference tasks (mapped ones expanded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalVerdict {
    AllSucceeded,
    SomeFailed,
    /// Nothing failed but not everything succeeded (e.g. a cancelled task).
    NoneFailed,
}

const SELF: u32 = u32::MAX;

/// Above this many edges into one task, `Run::new` finds duplicate edges with a set.
const MANY_EDGES: usize = 32;

/// Rows of task ids of variable length stored flat (row `v` is
/// `items[offsets[v]..offsets[v+1]]`): two allocations for the whole graph instead of
/// two per task.
struct Rows {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Rows {
    #[inline]
    fn row(&self, row: u32) -> std::ops::Range<usize> {
        self.offsets[row as usize] as usize..self.offsets[row as usize + 1] as usize
    }

    #[inline]
    fn of(&self, row: u32) -> &[u32] {
        &self.items[self.row(row)]
    }

    /// Rows over `counts` (row `v` has `counts[v + 1]` items; `counts[0]` is 0), to be
    /// filled with [`Rows::put_last`]: each row's cursor starts at the row's end.
    fn sized(mut counts: Vec<u32>) -> Rows {
        let mut sum = 0u32;
        for c in counts.iter_mut() {
            sum += *c;
            *c = sum;
        }
        Rows { offsets: counts, items: vec![0; sum as usize] }
    }

    /// Fill row `row` from its end: rows are filled by walking their items backwards.
    /// Here `offsets[row + 1]` is the row's cursor; once every row is full it holds the
    /// row's start, and [`Rows::filled`] shifts the offsets into place.
    #[inline]
    fn put_last(&mut self, row: u32, item: u32) {
        let slot = &mut self.offsets[row as usize + 1];
        *slot -= 1;
        self.items[*slot as usize] = item;
    }

    fn filled(mut self) -> Rows {
        let n = self.offsets.len();
        if n > 0 {
            self.offsets.copy_within(1.., 0);
            self.offsets[n - 1] = self.items.len() as u32;
        }
        self
    }
}

#[derive(Clone)]
struct Children {
    width: u32,
    state: Vec<u8>,
    run_count: Vec<u8>,
    /// Child links whose upstream child `i` is not finished yet.
    waiting: Vec<u16>,
    /// Upstream counts shared by every child (unmapped links, constants, mapped
    /// links from non-mapped upstreams).
    base: Counts,
    /// Per-element states of flattened mapped upstreams, keyed by upstream.
    flat: Vec<(u32, Vec<u8>)>,
    unfinished: u32,
    tally: [u64; N_STATES],
    /// Children ready to be handed out, in the order they became ready.
    ready: VecDeque<u32>,
}

/// What the run keeps per task besides its state: 16 bytes, so that the records fit
/// four to a cache line and `Run::new` can build them in the allocation of the specs
/// it is given (the standard library collects a mapped `vec::IntoIter` in place when
/// sizes and alignments allow).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(8))]
struct Task {
    /// The task's first link in `Run::link_up` (its links end where the next task's
    /// begin; a last record closes the rows of the last task).
    links: u32,
    /// The task's topological rank (`Graph::rank`), its key in the ready set.
    rank: u32,
    /// Links not satisfied yet.
    waiting: u32,
    /// [`flag`] bits: the per-task parts of the spec, and where the task stands.
    flags: u16,
    run_count: u8,
}

const _: () = assert!(std::mem::size_of::<Task>() == 16);

#[derive(Debug, Clone, Copy)]
enum Event {
    ParentFinished(u32),
    FullyDone(u32),
    EvaluateChild(u32, u32),
    Evaluate(u32),
}

/// Per-task flag bits (`Task::flags`): what the run keeps of each [`TaskSpec`] and of
/// the task's edges, and where the task stands.
mod flag {
    /// Some edge into the task is mapped (and the task is not decided from the start).
    pub const MAPPED: u16 = 1;
    /// The task has an upstream edge or a keyed constant.
    pub const HAS_EDGES: u16 = 1 << 1;
    /// The task and all of its children are finished.
    pub const DONE: u16 = 1 << 2;
    /// Python watches the task: the core proposes its own decisions.
    pub const OBSERVED: u16 = 1 << 3;
    /// The task itself is ready to run / to be prepared.
    pub const READY_RUN: u16 = 1 << 4;
    pub const READY_PREPARE: u16 = 1 << 5;
    pub const READY_SELF: u16 = READY_RUN | READY_PREPARE;
    /// Some link into the task is flattened (it may need element counts).
    pub const FLAT_IN: u16 = 1 << 6;
    /// `TaskSpec::skip_on_upstream_skip`.
    pub const SKIP_ON_UPSTREAM_SKIP: u16 = 1 << 7;
    /// `TaskSpec::n_constants` is not zero (see `Run::n_constants`).
    pub const CONSTANTS: u16 = 1 << 8;
    /// Some task maps over this one's children (it has `LinkKind::Child` out-links).
    pub const CHILD_OUT: u16 = 1 << 9;
    /// Some edge into the task is mapped or flattened: its links' kinds are recorded
    /// in `Run::link_kind` (all other links are `LinkKind::Whole`).
    pub const KINDS: u16 = 1 << 10;
    /// Some satisfied link came from a task that did not end SUCCESS or CACHED (see
    /// `Run::satisfy`).
    pub const IMPERFECT: u16 = 1 << 11;
    /// The engine runs this task's runs itself, one at a time (see `Run::next_inline`).
    pub const INLINE: u16 = 1 << 15;
    /// The trigger's kind (`trigger_code`) sits in these bits.
    pub const TRIGGER_SHIFT: u32 = 12;
    pub const TRIGGER: u16 = 0b111 << TRIGGER_SHIFT;
}

/// Trigger kinds as stored in a task's flags; a trigger with bounds is kept aside.
const BOUNDED_TRIGGER: u16 = 7;

fn trigger_code(trigger: &Trigger) -> u16 {
    match trigger {
        Trigger::AllSuccessful => 0,
        Trigger::AllFailed => 1,
        Trigger::AnySuccessful => 2,
        Trigger::AnyFailed => 3,
        Trigger::AllFinished => 4,
        Trigger::NotAllSkipped => 5,
        Trigger::Custom => 6,
        Trigger::SomeSuccessful { .. } | Trigger::SomeFailed { .. } => BOUNDED_TRIGGER,
    }
}

/// A task's retry settings, kept only for tasks that retry or wait.
struct Retries {
    max_retries: u8,
    delays: RetryDelays,
}

pub struct Run {
    graph: Arc<Graph>,
    /// One record per task, plus one that closes the last task's rows.
    tasks: Vec<Task>,
    /// The upstream task of each link (edges deduplicated per upstream and kind), task
    /// by task: task `t`'s are `tasks[t].links..tasks[t + 1].links`.
    link_up: Vec<u32>,
    /// Each link's kind (`LinkKind as u8`). Allocated zeroed and written only for the
    /// links of tasks with `flag::KINDS`: for the others (`LinkKind::Whole`, 0) it is
    /// never touched.
    link_kind: Vec<u8>,
    /// Per task, the downstream tasks of its unmapped or flattened links, by id: task
    /// `t`'s are the first `out_len[t]` entries from `graph.out_edges.offsets[t]` (the
    /// rows of the graph's out-edges, which hold at least as many entries).
    out_items: Vec<u32>,
    out_len: Vec<u32>,
    /// Per task, the downstream tasks of its `LinkKind::Child` links, by id; empty
    /// (no rows at all) when the flow maps nothing, else read under `flag::CHILD_OUT`.
    out_child: Rows,
    /// Triggers with bounds (the others are coded in the flags).
    bounded_triggers: HashMap<u32, Trigger>,
    /// Keyed constants per task (allocated zeroed; read only under `flag::CONSTANTS`).
    n_constants: Vec<u32>,
    /// Tasks with retries or retry delays.
    retries: HashMap<u32, Retries>,
    state: Vec<u8>,
    /// Only mapped tasks ever have children (the vector is allocated zeroed and its
    /// entries for other tasks are never touched).
    children: Vec<Option<Box<Children>>>,
    /// Proposed outcomes of observed tasks: (index or SELF, code).
    ready_decided: HashMap<u32, VecDeque<(u32, u8)>>,
    /// Ranks of the tasks with something ready, deepest first.
    active: RankSet,
    timers: BinaryHeap<Reverse<(u64, u32, u32)>>,
    in_flight: u64,
    not_done: u32,
    events: Vec<Event>,
    /// Element counts of flattened mapped upstreams reported for non-mapped tasks.
    flat_counts: HashMap<u32, Vec<(u32, Vec<u32>)>>,
    /// Observed mapped tasks whose MAPPED was proposed to Python: the width hint and
    /// element counts to map with once it is confirmed.
    pending_maps: HashMap<u32, (Option<u32>, Vec<(u32, Vec<u32>)>)>,
}

impl Run {
    /// Start a run of `graph`; roots become ready at once. A graph in an `Arc` is
    /// shared with the run, not copied (a frozen flow and its run hold one graph).
    pub fn new(graph: impl Into<Arc<Graph>>, specs: Vec<TaskSpec>) -> Result<Run, CoreError> {
        let graph: Arc<Graph> = graph.into();
        let n = graph.len();
        if specs.len() != n {
            return Err(CoreError::SpecCount { specs: specs.len(), tasks: n });
        }
        // One pass over the specs and the edges into each task: each spec is taken
        // apart into its task's record (flag bits) and a few sparse maps, the edges
        // into links.
        let m = graph.edges().len();
        let mut state = vec![PENDING; n];
        let mut n_constants = vec![0u32; n];
        let mut bounded_triggers = HashMap::new();
        let mut retries = HashMap::new();
        let mut link_up: Vec<u32> = Vec::with_capacity(m);
        let mut link_kind = vec![0u8; m];
        // Links again by upstream task, written as they are made (so each row is in
        // downstream order, and in link order for one downstream task); child links
        // counted apart (row `u` counted at `u + 1`), to be grouped below.
        let out_start = &graph.out_edges.offsets;
        let mut out_items = vec![0u32; m];
        let mut out_len = vec![0u32; n];
        let mut child_counts: Vec<u32> = Vec::new();
        let mut bad_spec = None;
        // Tasks to start from (decided ones, and roots): (rank, task).
        let mut starts: Vec<(u32, u32)> = Vec::new();
        let mut tasks: Vec<Task> = specs
            .into_iter()
            .enumerate()
            .map(|(du, spec)| {
                let d = du as u32;
                if let Some(code) = spec.decided {
                    if !is_finished(code) || code == MAPPED || code as usize >= N_STATES {
                        bad_spec.get_or_insert_with(|| {
                            CoreError::BadSpec(format!(
                                "task {} cannot be decided from the start with code {code}",
                                graph.name(d)
                            ))
                        });
                    } else {
                        // Recorded below, in topological order, as the task's state.
                        state[du] = code;
                    }
                }
                let edges = graph.in_edges.of(d);
                let mut f = trigger_code(&spec.trigger) << flag::TRIGGER_SHIFT;
                if f >> flag::TRIGGER_SHIFT == BOUNDED_TRIGGER {
                    bounded_triggers.insert(d, spec.trigger);
                }
                if !edges.is_empty() || spec.n_constants > 0 {
                    f |= flag::HAS_EDGES;
                }
                if spec.n_constants > 0 {
                    f |= flag::CONSTANTS;
                    n_constants[du] = spec.n_constants;
                }
                if spec.observed {
                    f |= flag::OBSERVED;
                }
                if spec.skip_on_upstream_skip {
                    f |= flag::SKIP_ON_UPSTREAM_SKIP;
                }
                if spec.max_retries > 0 || !spec.retry_delays.is_none() {
                    retries.insert(d, Retries { max_retries: spec.max_retries, delays: spec.retry_delays });
                }
                let start = link_up.len();
                // Edges already linked are found by a scan of the task's links, or in a
                // set when it has many edges (a scan per edge would be quadratic).
                let mut seen: Option<HashSet<(u32, LinkKind)>> =
                    (edges.len() > MANY_EDGES).then(|| HashSet::with_capacity(edges.len()));
                // Links of unmapped, unflattened edges first (the common case); at the
                // first other edge, start the task's links over, kinds recorded.
                let mut plain = true;
                for &e in edges {
                    let e = graph.edge(e);
                    if e.mapped || e.flattened {
                        plain = false;
                        break;
                    }
                    let new = match seen.as_mut() {
                        Some(seen) => seen.insert((e.upstream, LinkKind::Whole)),
                        None => !link_up[start..].contains(&e.upstream),
                    };
                    if new {
                        link_up.push(e.upstream);
                        let up = e.upstream as usize;
                        out_items[(out_start[up] + out_len[up]) as usize] = d;
                        out_len[up] += 1;
                    }
                }
                if !plain {
                    for &up in &link_up[start..] {
                        out_len[up as usize] -= 1;
                    }
                    link_up.truncate(start);
                    if let Some(seen) = seen.as_mut() {
                        seen.clear();
                    }
                    f |= flag::KINDS;
                    for &e in edges {
                        let e = graph.edge(e);
                        let kind = LinkKind::of(e);
                        if e.mapped && spec.decided.is_none() {
                            f |= flag::MAPPED;
                        }
                        if e.flattened {
                            f |= flag::FLAT_IN;
                        }
                        let new = match seen.as_mut() {
                            Some(seen) => seen.insert((e.upstream, kind)),
                            None => !(start..link_up.len()).any(|j| link_up[j] == e.upstream && link_kind[j] == kind as u8),
                        };
                        if !new {
                            continue;
                        }
                        link_kind[link_up.len()] = kind as u8;
                        link_up.push(e.upstream);
                        if kind == LinkKind::Child {
                            if child_counts.is_empty() {
                                child_counts = vec![0u32; n + 1];
                            }
                            child_counts[e.upstream as usize + 1] += 1;
                        } else {
                            let up = e.upstream as usize;
                            out_items[(out_start[up] + out_len[up]) as usize] = d;
                            out_len[up] += 1;
                        }
                    }
                }
                let waiting = (link_up.len() - start) as u32;
                let rank = graph.rank(d);
                if spec.decided.is_some() || waiting == 0 {
                    starts.push((rank, d));
                }
                Task { links: start as u32, rank, waiting, flags: f, run_count: 0 }
            })
            .collect();
        if let Some(e) = bad_spec {
            return Err(e);
        }
        tasks.push(Task { links: link_up.len() as u32, ..Task::default() });
        // Child links grouped by upstream task (when the flow maps anything): each row
        // in downstream order (and in link order for one downstream task), filled
        // from its end.
        let mut out_child = Rows::sized(child_counts);
        if !out_child.offsets.is_empty() {
            for (u, c) in out_child.offsets.windows(2).enumerate() {
                if c[1] > c[0] {
                    tasks[u].flags |= flag::CHILD_OUT;
                }
            }
            for d in (0..n).rev() {
                if tasks[d].flags & flag::KINDS == 0 {
                    continue;
                }
                for j in (tasks[d].links as usize..tasks[d + 1].links as usize).rev() {
                    if link_kind[j] == LinkKind::Child as u8 {
                        out_child.put_last(link_up[j], d as u32);
                    }
                }
            }
        }
        let out_child = out_child.filled();
        let mut run = Run {
            tasks,
            link_up,
            link_kind,
            out_items,
            out_len,
            out_child,
            bounded_triggers,
            n_constants,
            retries,
            state,
            children: vec![None; n],
            ready_decided: HashMap::new(),
            active: RankSet::new(n),
            timers: BinaryHeap::new(),
            in_flight: 0,
            not_done: n as u32,
            events: Vec::new(),
            flat_counts: HashMap::new(),
            pending_maps: HashMap::new(),
            graph,
        };
        // In topological order, as the events they push are handled last first.
        starts.sort_unstable();
        for (_, t) in starts {
            let code = run.state[t as usize];
            if code != PENDING {
                // Decided from the start (set above; always a finished code). Its
                // upstreams still finish into it (and find it decided already).
                run.set_task_state(t, code);
            } else if run.tasks[t as usize].waiting == 0 {
                run.events.push(Event::Evaluate(t));
            }
        }
        run.drain();
        Ok(run)
    }

    /// The task's trigger.
    #[inline(always)]
    fn trigger(&self, t: u32) -> Trigger {
        match (self.tasks[t as usize].flags & flag::TRIGGER) >> flag::TRIGGER_SHIFT {
            0 => Trigger::AllSuccessful,
            1 => Trigger::AllFailed,
            2 => Trigger::AnySuccessful,
            3 => Trigger::AnyFailed,
            4 => Trigger::AllFinished,
            5 => Trigger::NotAllSkipped,
            6 => Trigger::Custom,
            _ => self.bounded_triggers[&t],
        }
    }

    /// Task `t`'s links, as upstream task ids (all `LinkKind::Whole` unless the task
    /// has `flag::KINDS`).
    #[inline(always)]
    fn ups(&self, t: u32) -> &[u32] {
        &self.link_up[self.tasks[t as usize].links as usize..self.tasks[t as usize + 1].links as usize]
    }

    /// Task `t`'s links.
    #[inline]
    fn links(&self, t: u32) -> impl Iterator<Item = Link> + Clone + '_ {
        let kinds = self.tasks[t as usize].flags & flag::KINDS != 0;
        let row = self.tasks[t as usize].links as usize..self.tasks[t as usize + 1].links as usize;
        row.map(move |j| Link {
            up: self.link_up[j],
            kind: if kinds { LinkKind::from_code(self.link_kind[j]) } else { LinkKind::Whole },
        })
    }

    /// The task's keyed constants.
    #[inline]
    fn n_constants(&self, t: u32) -> u32 {
        if self.tasks[t as usize].flags & flag::CONSTANTS != 0 {
            self.n_constants[t as usize]
        } else {
            0
        }
    }

    // ----- queries -------------------------------------------------------------

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn is_mapped(&self, task: u32) -> bool {
        self.tasks[..self.state.len()][task as usize].flags & flag::MAPPED != 0
    }

    /// Task-level state code (a mapped task's parent).
    pub fn task_state(&self, task: u32) -> u8 {
        self.state[task as usize]
    }

    pub fn task_states(&self) -> &[u8] {
        &self.state
    }

    pub fn task_run_count(&self, task: u32) -> u8 {
        self.tasks[..self.state.len()][task as usize].run_count
    }

    /// Number of children of a mapped task, once it has mapped.
    pub fn width(&self, task: u32) -> Option<u32> {
        self.children[task as usize].as_ref().map(|c| c.width)
    }

    /// State codes of a mapped task's children (empty before it maps).
    pub fn child_states(&self, task: u32) -> &[u8] {
        self.children[task as usize].as_ref().map_or(&[], |c| &c.state)
    }

    pub fn child_run_counts(&self, task: u32) -> &[u8] {
        self.children[task as usize].as_ref().map_or(&[], |c| &c.run_count)
    }

    /// Task runs of `task` by state code: the task itself plus its mapped children.
    pub fn tally(&self, task: u32) -> [u64; N_STATES] {
        let mut t = self.children[task as usize].as_ref().map_or([0; N_STATES], |c| c.tally);
        t[self.state[task as usize] as usize] += 1;
        t
    }

    /// True once every task (and every mapped child) is finished.
    pub fn is_complete(&self) -> bool {
        self.not_done == 0
    }

    /// Task runs handed out and not yet reported.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Whether some task run is ready to be handed out now.
    pub fn has_ready(&self) -> bool {
        !self.active.is_empty()
    }

    /// When the earliest retry timer fires.
    pub fn next_timer(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Armed retry timers as `(due_ms, task, index)`, earliest first (`index` is
    /// `None` for the task itself). A timer whose run was cancelled meanwhile may
    /// linger until it fires (it is then ignored).
    pub fn pending_retries(&self) -> Vec<(u64, u32, Option<u32>)> {
        let mut timers: Vec<(u64, u32, Option<u32>)> = self
            .timers
            .iter()
            .map(|&Reverse((due, t, i))| (due, t, (i != SELF).then_some(i)))
            .collect();
        timers.sort_unstable();
        timers
    }

    /// The wait the core schedules when attempt `attempt` of `task` (child `index`,
    /// or the task itself for `None`) fails and may be retried; `None` for an unknown task.
    pub fn retry_delay_ms(&self, task: u32, index: Option<u32>, attempt: u8) -> Option<u64> {
        if task as usize >= self.state.len() {
            return None;
        }
        Some(self.retries.get(&task).map_or(0, |r| r.delays.delay_ms(task, index.unwrap_or(SELF), attempt)))
    }

    /// Nothing ready, nothing in flight, no timer, yet not complete: the run cannot
    /// progress by itself (a paused task, or an engine bug).
    pub fn is_stalled(&self) -> bool {
        !self.is_complete() && self.active.is_empty() && self.in_flight == 0 && self.timers.is_empty()
    }

    /// The final verdict over `reference` tasks, mapped tasks expanded to children.
    pub fn verdict(&self, reference: &[u32]) -> FinalVerdict {
        let mut c = Counts::default();
        for &t in reference {
            self.add_whole(&mut c, t);
        }
        if c.failed > 0 {
            FinalVerdict::SomeFailed
        } else if c.success == c.total {
            FinalVerdict::AllSucceeded
        } else {
            FinalVerdict::NoneFailed
        }
    }

    // ----- the batch API -------------------------------------------------------

    /// Hand out up to `max_items` ready task runs, deepest tasks first (so mapped
    /// pipelines advance child by child instead of breadth first). Retry timers due at
    /// `now_ms` become ready first.
    pub fn next_batch(&mut self, max_items: usize, now_ms: u64) -> Vec<Item> {
        self.fire_timers(now_ms);
        let mut budget = max_items.max(1);
        // Every task in the ready set gives at least one item (while the budget lasts).
        let mut items = Vec::with_capacity(budget.min(self.active.len()));
        let mut handed = 0u64;
        // Handing out only takes tasks out of the ready set, so the next task to serve
        // is the deepest one below the last (unless that one still has work).
        let mut next = self.active.max();
        while budget > 0 {
            let Some(rank) = next else { break };
            let t = self.graph.order()[rank as usize];
            let tu = t as usize;
            let proposals = self.tasks[tu].flags & flag::OBSERVED != 0
                && self.ready_decided.get(&t).is_some_and(|q| !q.is_empty());
            if proposals {
                let queue = self.ready_decided.get_mut(&t).expect("proposals");
                let (first, code) = *queue.front().expect("proposals");
                // One item per run of proposals with the same code (SELF alone).
                let mut indices = Vec::new();
                while budget > 0 {
                    match queue.front() {
                        Some(&(i, c)) if c == code && (i == SELF) == (first == SELF) && !(first == SELF && !indices.is_empty()) => {
                            queue.pop_front();
                            indices.push(i);
                            budget -= 1;
                        }
                        _ => break,
                    }
                }
                handed += indices.len() as u64;
                if first == SELF {
                    self.set_task_state(t, RUNNING);
                    items.push(Item { task: t, kind: ItemKind::Decided(code), indices: None });
                } else {
                    let ch = self.children[tu].as_mut().expect("children");
                    for &i in &indices {
                        let old = ch.state[i as usize];
                        ch.tally[old as usize] -= 1;
                        ch.tally[RUNNING as usize] += 1;
                        ch.state[i as usize] = RUNNING;
                    }
                    items.push(Item { task: t, kind: ItemKind::Decided(code), indices: Some(indices) });
                }
            } else if self.tasks[tu].flags & flag::READY_SELF != 0 {
                let kind = if self.tasks[tu].flags & flag::READY_RUN != 0 { ItemKind::Run } else { ItemKind::Prepare };
                self.tasks[tu].flags &= !flag::READY_SELF;
                if kind == ItemKind::Run {
                    self.tasks[tu].run_count = self.tasks[tu].run_count.saturating_add(1);
                }
                self.set_task_state(t, RUNNING);
                items.push(Item { task: t, kind, indices: None });
                budget -= 1;
                handed += 1;
            } else {
                let ch = self.children[tu].as_mut().expect("ready children of a mapped task");
                let take = budget.min(ch.ready.len());
                let indices: Vec<u32> = ch.ready.drain(..take).collect();
                for &i in &indices {
                    let old = ch.state[i as usize];
                    ch.tally[old as usize] -= 1;
                    ch.tally[RUNNING as usize] += 1;
                    ch.state[i as usize] = RUNNING;
                    ch.run_count[i as usize] = ch.run_count[i as usize].saturating_add(1);
                }
                budget -= take;
                handed += take as u64;
                items.push(Item { task: t, kind: ItemKind::Run, indices: Some(indices) });
            }
            if !self.has_ready_work(t) {
                self.active.remove(rank);
                next = self.active.max_below(rank);
            }
        }
        self.in_flight += handed;
        items
    }

    /// Make the task runs whose retry timer is due at `now_ms` ready again.
    fn fire_timers(&mut self, now_ms: u64) {
        while let Some(&Reverse((due, t, i))) = self.timers.peek() {
            if due > now_ms {
                break;
            }
            self.timers.pop();
            let still_retrying = if i == SELF {
                self.state[t as usize] == RETRYING
            } else {
                self.children[t as usize].as_ref().is_some_and(|c| c.state[i as usize] == RETRYING)
            };
            if still_retrying {
                self.make_ready(t, i, ItemKind::Run);
            }
        }
    }

    /// Mark `task` as one whose runs the engine may take one at a time through
    /// [`Run::next_inline`] (a task of itself, never mapped: its runs are cheap to hand
    /// out singly). Marking changes nothing [`Run::next_batch`] does.
    pub fn mark_inline(&mut self, task: u32) -> Result<(), CoreError> {
        let t = task as usize;
        if t >= self.state.len() {
            return Err(CoreError::BadReport(format!("unknown task id {task}")));
        }
        self.tasks[t].flags |= flag::INLINE;
        Ok(())
    }

    /// The run [`Run::next_batch`] would hand out first, when it is a run of an inline
    /// task itself (see [`Run::mark_inline`]): handed out exactly as `next_batch`
    /// would (its state RUNNING, its run count up, after the retries due at `now_ms`
    /// are ready again), as `(task, run count)`. `None` when the first ready work is
    /// anything else, or there is none.
    pub fn next_inline(&mut self, now_ms: u64) -> Option<(u32, u8)> {
        self.fire_timers(now_ms);
        let rank = self.active.max()?;
        let t = self.graph.order()[rank as usize];
        let tu = t as usize;
        let f = self.tasks[tu].flags;
        if f & flag::INLINE == 0 || f & flag::READY_RUN == 0 || f & (flag::MAPPED | flag::OBSERVED) != 0 {
            return None;
        }
        self.tasks[tu].flags &= !flag::READY_SELF;
        let runs = self.tasks[tu].run_count.saturating_add(1);
        self.tasks[tu].run_count = runs;
        self.set_task_state(t, RUNNING);
        if !self.has_ready_work(t) {
            self.active.remove(rank);
        }
        self.in_flight += 1;
        Some((t, runs))
    }

    /// Whether `t` has anything left to hand out.
    fn has_ready_work(&self, t: u32) -> bool {
        let tu = t as usize;
        let f = self.tasks[tu].flags;
        f & flag::READY_SELF != 0
            || (f & flag::MAPPED != 0 && self.children[tu].as_ref().is_some_and(|c| !c.ready.is_empty()))
            || (f & flag::OBSERVED != 0 && self.ready_decided.get(&t).is_some_and(|q| !q.is_empty()))
    }

    /// Report outcomes of task runs handed out by [`Run::next_batch`]: one code per
    /// run (`indices: None` = the task itself). FAILED and TIMED_OUT may carry
    /// [`RETRY_OK`]; RETRYING means "retry now whatever `max_retries` says".
    pub fn report(&mut self, task: u32, indices: Option<&[u32]>, codes: &[u8], now_ms: u64) -> Result<(), CoreError> {
        let t = task as usize;
        if t >= self.state.len() {
            return Err(CoreError::BadReport(format!("unknown task id {task}")));
        }
        match indices {
            None => {
                let [code] = codes else {
                    return Err(CoreError::BadReport(format!("expected one code for task {}", self.graph.name(task))));
                };
                if self.state[t] != RUNNING {
                    return Err(self.not_running(task, None));
                }
                let proposed_map = if self.pending_maps.is_empty() { None } else { self.pending_maps.remove(&task) };
                if let Some((width_hint, flat)) = proposed_map {
                    // The answer to a proposed MAPPED: map, or end in the finished state
                    // chosen instead (no children then).
                    let code = *code & !RETRY_OK;
                    if code != MAPPED && (self.check_code(task, code).is_err() || !is_finished(code)) {
                        self.pending_maps.insert(task, (width_hint, flat));
                        return Err(CoreError::BadReport(format!(
                            "cannot end the mapped task {} with code {code}",
                            self.graph.name(task)
                        )));
                    }
                    self.in_flight -= 1;
                    if code == MAPPED {
                        self.map_task(task, width_hint, &flat);
                    } else {
                        self.set_task_state(task, code);
                    }
                    self.drain();
                    return Ok(());
                }
                self.check_code(task, *code)?;
                let code = self.outcome(task, self.tasks[t].run_count, *code, now_ms, SELF);
                self.in_flight -= 1;
                // set_task_state without the round trip through the (empty) event stack.
                debug_assert!(self.events.is_empty());
                self.state[t] = code;
                if is_finished(code) {
                    self.parent_finished(task);
                }
            }
            Some(indices) => {
                if indices.len() != codes.len() {
                    return Err(CoreError::BadReport(format!(
                        "{} indices but {} codes for task {}",
                        indices.len(),
                        codes.len(),
                        self.graph.name(task)
                    )));
                }
                // All or nothing: check every child before recording any.
                for (&i, &code) in indices.iter().zip(codes) {
                    let running = self.children[t]
                        .as_ref()
                        .is_some_and(|ch| ch.state.get(i as usize) == Some(&RUNNING));
                    if !running {
                        return Err(self.not_running(task, Some(i)));
                    }
                    self.check_code(task, code)?;
                }
                for (&i, &code) in indices.iter().zip(codes) {
                    let runs = self.children[t].as_ref().expect("children").run_count[i as usize];
                    let code = self.outcome(task, runs, code, now_ms, i);
                    self.in_flight -= 1;
                    self.set_child_state(task, i, code);
                }
            }
        }
        self.drain();
        Ok(())
    }

    /// Answer a [`ItemKind::Prepare`] item. `width_hint` is the shortest length among
    /// mapped inputs coming from non-mapped upstreams (None if there are none);
    /// `flat` gives, per flattened mapped upstream that is itself mapped, the number of
    /// elements each of its children contributes. `fail_code` ends the task instead
    /// (e.g. FAILED for an unmappable input).
    pub fn prepared(
        &mut self,
        task: u32,
        width_hint: Option<u32>,
        flat: &[(u32, Vec<u32>)],
        fail_code: Option<u8>,
    ) -> Result<(), CoreError> {
        let t = task as usize;
        if t >= self.state.len() || self.state[t] != RUNNING {
            return Err(CoreError::BadReport(format!("task id {task} was not being prepared")));
        }
        if let Some(code) = fail_code {
            if !is_finished(code) || code == MAPPED {
                return Err(CoreError::BadReport(format!(
                    "cannot end {} with code {code}",
                    self.graph.name(task)
                )));
            }
        } else {
            self.check_flat(task, flat)?;
        }
        self.in_flight -= 1;
        if self.tasks[t].flags & flag::MAPPED == 0 {
            // A reduce over flattened mapped upstreams: now that the element counts are
            // known, decide it like any other task.
            self.flat_counts.insert(task, flat.to_vec());
            self.state[t] = PENDING;
            match fail_code {
                Some(code) => self.set_task_state(task, code),
                None => self.evaluate_task(task),
            }
            self.drain();
            return Ok(());
        }
        match fail_code {
            Some(code) => self.set_task_state(task, code),
            None => self.start_mapping(task, width_hint, flat),
        }
        self.drain();
        Ok(())
    }

    /// Cancel every unfinished task run (Ctrl-C): they end CANCELLED.
    pub fn cancel(&mut self) {
        for t in 0..self.state.len() as u32 {
            if !is_finished(self.state[t as usize]) {
                self.set_task_state(t, CANCELLED);
            }
            if let Some(ch) = self.children[t as usize].as_mut() {
                for i in 0..ch.width as usize {
                    let old = ch.state[i];
                    if !is_finished(old) {
                        ch.tally[old as usize] -= 1;
                        ch.tally[CANCELLED as usize] += 1;
                        ch.state[i] = CANCELLED;
                    }
                }
                ch.unfinished = 0;
                ch.ready.clear();
            }
            self.tasks[t as usize].flags = (self.tasks[t as usize].flags | flag::DONE) & !flag::READY_SELF;
        }
        self.events.clear();
        self.active.clear();
        self.timers.clear();
        self.pending_maps.clear();
        self.ready_decided.clear();
        self.in_flight = 0;
        self.not_done = 0;
    }

    // ----- internals -----------------------------------------------------------

    /// Element counts must cover every child of each flattened mapped upstream.
    fn check_flat(&self, task: u32, flat: &[(u32, Vec<u32>)]) -> Result<(), CoreError> {
        for l in self.links(task) {
            if !matches!(l.kind, LinkKind::Flat | LinkKind::WholeFlat) || self.state[l.up as usize] != MAPPED {
                continue;
            }
            let width = self.children[l.up as usize].as_ref().map_or(0, |c| c.width);
            match flat.iter().find(|(u, _)| *u == l.up) {
                None => {
                    return Err(CoreError::BadReport(format!(
                        "missing flattened element counts of {} for {}",
                        self.graph.name(l.up),
                        self.graph.name(task)
                    )))
                }
                Some((_, counts)) if counts.len() != width as usize => {
                    return Err(CoreError::BadReport(format!(
                        "{} element counts for {} children of {}",
                        counts.len(),
                        width,
                        self.graph.name(l.up)
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn not_running(&self, task: u32, index: Option<u32>) -> CoreError {
        let what = match index {
            Some(i) => format!("{}[{i}]", self.graph.name(task)),
            None => self.graph.name(task).to_string(),
        };
        CoreError::BadReport(format!("{what} was reported but is not running"))
    }

    #[inline(always)]
    fn check_code(&self, task: u32, code: u8) -> Result<(), CoreError> {
        match code & !RETRY_OK {
            SUCCESS | CACHED | SKIPPED | FAILED | TRIGGER_FAILED | TIMED_OUT | CANCELLED | PAUSED | RETRYING => Ok(()),
            _ => Err(self.bad_code(task, code)),
        }
    }

    #[cold]
    fn bad_code(&self, task: u32, code: u8) -> CoreError {
        CoreError::BadReport(format!("code {code} is not a valid outcome for {}", self.graph.name(task)))
    }

    /// Turn a reported (and checked) code into the state to record, arming a retry timer if needed.
    #[inline(always)]
    fn outcome(&mut self, task: u32, runs: u8, code: u8, now_ms: u64, index: u32) -> u8 {
        debug_assert!(self.check_code(task, code).is_ok());
        if code & RETRY_OK == 0 && code != RETRYING {
            return code; // nothing to retry
        }
        self.retry_outcome(task, runs, code, now_ms, index)
    }

    #[inline(never)]
    fn retry_outcome(&mut self, task: u32, runs: u8, code: u8, now_ms: u64, index: u32) -> u8 {
        // A trigger failure decided by the core never carries RETRY_OK; a TRIGGERFAIL
        // raised inside the task body does, and is retried like any failure. The delay
        // is that of this run's own attempt (a mapped child's, for a child).
        let wait = match self.retries.get(&task) {
            Some(r) => retry_wait(code, runs, r.max_retries, &r.delays, task, index),
            None => retry_wait(code, runs, 0, &RetryDelays::NONE, task, index),
        };
        match wait {
            Some(delay) => {
                self.timers.push(Reverse((now_ms.saturating_add(delay), task, index)));
                RETRYING
            }
            None => code & !RETRY_OK,
        }
    }

    #[inline(always)]
    fn set_task_state(&mut self, t: u32, code: u8) {
        self.state[t as usize] = code;
        if is_finished(code) {
            self.events.push(Event::ParentFinished(t));
        }
    }

    /// Record a child's state. When it finishes, the children it feeds are updated at
    /// once (so a downstream task mapped later sees consistent counters) and only their
    /// evaluation is deferred to the event queue.
    fn set_child_state(&mut self, t: u32, i: u32, code: u8) {
        let ch = self.children[t as usize].as_mut().expect("children");
        let old = ch.state[i as usize];
        ch.tally[old as usize] -= 1;
        ch.tally[code as usize] += 1;
        ch.state[i as usize] = code;
        if !is_finished(code) || is_finished(old) {
            return;
        }
        ch.unfinished -= 1;
        let all_done = ch.unfinished == 0;
        if self.tasks[t as usize].flags & flag::CHILD_OUT != 0 {
            for k in 0..self.out_child.of(t).len() {
                let d = self.out_child.of(t)[k];
                let Some(dc) = self.children[d as usize].as_mut() else { continue };
                if i < dc.width {
                    dc.waiting[i as usize] -= 1;
                    if dc.waiting[i as usize] == 0 {
                        self.events.push(Event::EvaluateChild(d, i));
                    }
                }
            }
        }
        if all_done && self.state[t as usize] == MAPPED {
            self.events.push(Event::FullyDone(t));
        }
    }

    #[inline(always)]
    fn make_ready(&mut self, t: u32, index: u32, kind: ItemKind) {
        if index == SELF {
            let bit = match kind {
                ItemKind::Run => flag::READY_RUN,
                ItemKind::Prepare => flag::READY_PREPARE,
                ItemKind::Decided(_) => unreachable!("proposals go through conclude"),
            };
            self.tasks[t as usize].flags = self.tasks[t as usize].flags & !flag::READY_SELF | bit;
        } else {
            self.children[t as usize].as_mut().expect("ready children of a mapped task").ready.push_back(index);
        }
        self.active.insert(self.tasks[t as usize].rank);
    }

    #[inline(always)]
    fn drain(&mut self) {
        if !self.events.is_empty() {
            self.drain_events();
        }
    }

    #[inline(never)]
    fn drain_events(&mut self) {
        while let Some(ev) = self.events.pop() {
            match ev {
                Event::ParentFinished(t) => self.parent_finished(t),
                Event::FullyDone(t) => self.fully_done(t),
                Event::EvaluateChild(t, i) => {
                    if self.children[t as usize].as_ref().is_some_and(|c| c.state[i as usize] == PENDING) {
                        self.evaluate_child(t, i);
                    }
                }
                Event::Evaluate(t) => self.evaluate_task(t),
            }
        }
    }

    /// Task `t` itself (a mapped task's parent) finished.
    #[inline(always)]
    fn parent_finished(&mut self, t: u32) {
        let f = self.tasks[t as usize].flags;
        if f & flag::CHILD_OUT != 0 {
            let perfect = matches!(self.state[t as usize], SUCCESS | CACHED);
            for k in self.out_child.row(t) {
                let d = self.out_child.items[k];
                self.satisfy(d, perfect);
            }
        }
        let unfinished =
            if f & flag::MAPPED != 0 { self.children[t as usize].as_ref().map_or(0, |c| c.unfinished) } else { 0 };
        if unfinished == 0 {
            // What a FullyDone(t) pushed now would do, as it would be the next event popped.
            self.fully_done(t);
        }
    }

    /// Task `t` and all of its children finished.
    #[inline(always)]
    fn fully_done(&mut self, t: u32) {
        let f = &mut self.tasks[t as usize].flags;
        if *f & flag::DONE != 0 {
            return;
        }
        *f |= flag::DONE;
        self.not_done -= 1;
        let perfect = matches!(self.state[t as usize], SUCCESS | CACHED);
        let start = self.graph.out_edges.offsets[t as usize] as usize;
        for k in start..start + self.out_len[t as usize] as usize {
            let d = self.out_items[k];
            self.satisfy(d, perfect);
        }
    }

    /// One more link of `d` is satisfied, by a finished task whose state is SUCCESS or
    /// CACHED (`perfect`) or not. Once all are, `d` is evaluated through the event
    /// stack, except a task without mapped or flattened edges that turns out ready to
    /// run: it is made ready at once. Nothing can tell the difference: its inputs are
    /// final once its links are satisfied, and making a task ready changes nothing any
    /// other evaluation reads (while the order of the events that do change states, and
    /// so the order of what they make ready, stays as it was).
    ///
    /// The common case needs no look at the upstream states: an `all_successful` task
    /// whose links all came from tasks that ended SUCCESS or CACHED (none MAPPED, so
    /// each counts its own state) runs, keyed constants or not, skipping on upstream
    /// skips or not.
    #[inline(always)]
    fn satisfy(&mut self, d: u32, perfect: bool) {
        let task = &mut self.tasks[d as usize];
        task.waiting -= 1;
        if !perfect {
            task.flags |= flag::IMPERFECT;
        }
        if task.waiting != 0 {
            return;
        }
        let f = task.flags;
        if f & (flag::MAPPED | flag::FLAT_IN) == 0 && self.state[d as usize] == PENDING && self.flat_counts.is_empty() {
            if f & (flag::IMPERFECT | flag::TRIGGER) == 0 {
                return self.make_ready(d, SELF, ItemKind::Run);
            }
            let c = self.whole_counts(d);
            if matches!(self.trigger_verdict(d, &c), Verdict::Run | Verdict::Python) {
                return self.make_ready(d, SELF, ItemKind::Run);
            }
        }
        self.events.push(Event::Evaluate(d));
    }

    /// Add the upstream states `t` contributes through an unmapped edge.
    #[inline(always)]
    fn add_whole(&self, c: &mut Counts, t: u32) {
        let s = self.state[t as usize];
        // Only a task that mapped has children (and is MAPPED): other tasks never
        // touch their (zeroed, unused) entry of `children`.
        match if s == MAPPED { self.children[t as usize].as_ref() } else { None } {
            Some(ch) => *c = c.merged(&Counts::from_tally(&ch.tally)),
            None => c.add(s, 1),
        }
    }

    /// Add the upstream states `t` contributes through an unmapped flattened edge:
    /// one per element of a mapped upstream's flattened children (`counts` per child).
    fn add_flattened(&self, c: &mut Counts, t: u32, counts: Option<&[u32]>) {
        match (self.children[t as usize].as_ref(), counts) {
            (Some(ch), Some(counts)) if self.state[t as usize] == MAPPED => {
                for (&code, &n) in ch.state.iter().zip(counts) {
                    c.add(code, n as u64);
                }
            }
            _ => self.add_whole(c, t),
        }
    }

    /// Whether `t` needs element counts from Python before it can be decided.
    fn needs_flat_counts(&self, t: u32) -> bool {
        self.links(t).any(|l| matches!(l.kind, LinkKind::WholeFlat | LinkKind::Flat) && self.state[l.up as usize] == MAPPED)
    }

    #[inline(always)]
    fn evaluate_task(&mut self, t: u32) {
        if self.state[t as usize] != PENDING {
            return;
        }
        let f = self.tasks[t as usize].flags;
        if f & flag::MAPPED != 0 {
            return self.evaluate_parent(t);
        }
        if f & flag::FLAT_IN != 0 || !self.flat_counts.is_empty() {
            return self.evaluate_flattening(t);
        }
        let c = self.whole_counts(t);
        self.decide(t, SELF, &c);
    }

    /// The upstream states of a task whose links are all unmapped and unflattened
    /// (every upstream counts whole), keyed constants included.
    #[inline(always)]
    fn whole_counts(&self, t: u32) -> Counts {
        let mut c = Counts::default();
        for &up in self.ups(t) {
            self.add_whole(&mut c, up);
        }
        if self.tasks[t as usize].flags & flag::CONSTANTS != 0 {
            c.add(SUCCESS, self.n_constants[t as usize] as u64);
        }
        c
    }

    /// [`Run::evaluate_task`] for a task with flattened links (or while element
    /// counts are held for some task).
    #[inline(never)]
    fn evaluate_flattening(&mut self, t: u32) {
        let f = self.tasks[t as usize].flags;
        if f & flag::FLAT_IN != 0 && self.needs_flat_counts(t) && !self.flat_counts.contains_key(&t) {
            return self.make_ready(t, SELF, ItemKind::Prepare);
        }
        let mut c = Counts::default();
        let flat = if self.flat_counts.is_empty() { Vec::new() } else { self.flat_counts.remove(&t).unwrap_or_default() };
        for l in self.links(t) {
            if l.kind == LinkKind::WholeFlat {
                let counts = flat.iter().find(|(u, _)| *u == l.up).map(|(_, n)| n.as_slice());
                self.add_flattened(&mut c, l.up, counts);
            } else {
                self.add_whole(&mut c, l.up);
            }
        }
        c.add(SUCCESS, self.n_constants(t) as u64);
        self.decide(t, SELF, &c);
    }

    /// A mapped task's parent never evaluates its trigger (its children do); it skips,
    /// fails for lack of anything to map over, or maps.
    fn evaluate_parent(&mut self, t: u32) {
        let skip_on_upstream_skip = self.tasks[t as usize].flags & flag::SKIP_ON_UPSTREAM_SKIP != 0;
        let skipped = self.links(t).any(|l| {
            let s = self.state[l.up as usize];
            match l.kind {
                LinkKind::Child => s == SKIPPED,
                LinkKind::Flat => s == SKIPPED,
                LinkKind::Whole | LinkKind::WholeFlat => {
                    s == SKIPPED
                        || (s == MAPPED
                            && self.children[l.up as usize].as_ref().is_some_and(|c| c.tally[SKIPPED as usize] > 0))
                }
            }
        });
        if skip_on_upstream_skip && skipped {
            return self.conclude(t, SELF, SKIPPED);
        }
        let mappable = self
            .links(t)
            .any(|l| matches!(l.kind, LinkKind::Child | LinkKind::Flat) && is_successful(self.state[l.up as usize]));
        if !mappable {
            return self.conclude(t, SELF, FAILED);
        }
        let needs_values = self.links(t).any(|l| {
            let s = self.state[l.up as usize];
            match l.kind {
                LinkKind::Child => is_successful(s) && s != MAPPED,
                LinkKind::Flat => is_successful(s),
                LinkKind::WholeFlat => s == MAPPED,
                LinkKind::Whole => false,
            }
        });
        if needs_values {
            self.make_ready(t, SELF, ItemKind::Prepare);
        } else {
            self.start_mapping(t, None, &[]);
        }
    }

    /// Map `t`, or, when it is observed, propose MAPPED to Python first (its handlers
    /// see `Pending -> Mapped` and may choose another state): the children are made
    /// when the proposal comes back as MAPPED.
    fn start_mapping(&mut self, t: u32, width_hint: Option<u32>, flat: &[(u32, Vec<u32>)]) {
        if self.tasks[t as usize].flags & flag::OBSERVED != 0 {
            self.pending_maps.insert(t, (width_hint, flat.to_vec()));
            self.state[t as usize] = PENDING; // (RUNNING while it was being prepared)
            self.conclude(t, SELF, MAPPED);
        } else {
            self.map_task(t, width_hint, flat);
        }
    }

    /// How many edges link `l` of `t` stands for. Mapping over a non-mapped task gives
    /// each child a fresh copy of the upstream state per edge, so Prefect counts each
    /// edge then; everywhere else the same state object counts once.
    fn edge_count(&self, t: u32, l: Link) -> u32 {
        let g = &self.graph;
        g.in_edges.of(t).iter().filter(|&&e| g.edge(e).upstream == l.up && LinkKind::of(g.edge(e)) == l.kind).count() as u32
    }

    fn map_task(&mut self, t: u32, width_hint: Option<u32>, flat: &[(u32, Vec<u32>)]) {
        let tu = t as usize;
        let mut width = width_hint.unwrap_or(u32::MAX);
        let mut base = Counts::default();
        let mut flat_codes: Vec<(u32, Vec<u8>)> = Vec::new();
        for l in self.links(t) {
            let s = self.state[l.up as usize];
            let up_children = self.children[l.up as usize].as_ref().filter(|_| s == MAPPED);
            match (l.kind, up_children) {
                (LinkKind::Whole, _) => self.add_whole(&mut base, l.up),
                (LinkKind::WholeFlat, _) => {
                    let counts = flat.iter().find(|(u, _)| *u == l.up).map(|(_, n)| n.as_slice());
                    self.add_flattened(&mut base, l.up, counts);
                }
                (LinkKind::Child, Some(uc)) => width = width.min(uc.width),
                (LinkKind::Flat, Some(uc)) => {
                    let counts = flat.iter().find(|(u, _)| *u == l.up).map(|(_, c)| c).expect("checked by check_flat");
                    let mut codes = Vec::new();
                    for (j, &n) in counts.iter().enumerate() {
                        codes.extend(std::iter::repeat_n(uc.state[j], n as usize));
                    }
                    width = width.min(codes.len() as u32);
                    flat_codes.push((l.up, codes));
                }
                (_, None) => base.add(s, self.edge_count(t, l) as u64),
            }
        }
        base.add(SUCCESS, self.n_constants(t) as u64);
        if width == u32::MAX {
            width = 0;
        }
        for (_, codes) in &mut flat_codes {
            codes.truncate(width as usize);
        }
        let mut waiting = vec![0u16; width as usize];
        for l in self.links(t) {
            if l.kind != LinkKind::Child || self.state[l.up as usize] != MAPPED {
                continue;
            }
            let uc = self.children[l.up as usize].as_ref().expect("children");
            for (w, &s) in waiting.iter_mut().zip(&uc.state) {
                if !is_finished(s) {
                    *w += 1;
                }
            }
        }
        let mut tally = [0u64; N_STATES];
        tally[PENDING as usize] = width as u64;
        self.children[tu] = Some(Box::new(Children {
            width,
            state: vec![PENDING; width as usize],
            run_count: vec![0; width as usize],
            waiting,
            base,
            flat: flat_codes,
            unfinished: width,
            tally,
            ready: VecDeque::new(),
        }));
        self.set_task_state(t, MAPPED);
        // Without flattened links or links to a mapped upstream's children, every
        // child sees the same upstream states (`base`): decide once for all of them,
        // in the order `evaluate_child` would have, child by child.
        let uniform = !self
            .links(t)
            .any(|l| l.kind == LinkKind::Flat || (l.kind == LinkKind::Child && self.state[l.up as usize] == MAPPED));
        if uniform {
            let verdict = self.trigger_verdict(t, &base);
            if matches!(verdict, Verdict::Run | Verdict::Python) {
                if width > 0 {
                    self.children[tu].as_mut().expect("children").ready.extend(0..width);
                    self.active.insert(self.tasks[tu].rank);
                }
            } else {
                let code = if verdict == Verdict::Skip { SKIPPED } else { TRIGGER_FAILED };
                for i in 0..width {
                    self.conclude(t, i, code);
                }
            }
            return;
        }
        for i in 0..width {
            if self.children[tu].as_ref().expect("children").waiting[i as usize] == 0 {
                self.evaluate_child(t, i);
            }
        }
    }

    fn evaluate_child(&mut self, t: u32, i: u32) {
        let ch = self.children[t as usize].as_ref().expect("children");
        let mut c = ch.base;
        for l in self.links(t) {
            match l.kind {
                // Child i already counts among the upstream's children when the task
                // also takes that upstream whole: the same state counts once.
                LinkKind::Child
                    if self.state[l.up as usize] == MAPPED
                        && !self.links(t).any(|w| w.up == l.up && w.kind == LinkKind::Whole) =>
                {
                    let uc = self.children[l.up as usize].as_ref().expect("children");
                    c.add(uc.state[i as usize], 1);
                }
                LinkKind::Flat => {
                    if let Some((_, codes)) = ch.flat.iter().find(|(u, _)| *u == l.up) {
                        c.add(codes[i as usize], 1);
                    }
                }
                _ => {}
            }
        }
        self.decide(t, i, &c);
    }

    #[inline(always)]
    fn decide(&mut self, t: u32, index: u32, c: &Counts) {
        let code = match self.trigger_verdict(t, c) {
            Verdict::Run | Verdict::Python => return self.make_ready(t, index, ItemKind::Run),
            Verdict::TriggerFail => TRIGGER_FAILED,
            Verdict::Skip => SKIPPED,
        };
        self.conclude(t, index, code);
    }

    /// What `t`'s trigger (and skip rule) says on upstream states `c`.
    #[inline(always)]
    fn trigger_verdict(&self, t: u32, c: &Counts) -> Verdict {
        let f = self.tasks[t as usize].flags;
        if f & flag::SKIP_ON_UPSTREAM_SKIP != 0 && c.skipped > 0 {
            Verdict::Skip
        } else {
            self.trigger(t).evaluate(f & flag::HAS_EDGES != 0, c)
        }
    }

    /// Record an outcome the core decided alone, or propose it to Python when the task
    /// is observed.
    fn conclude(&mut self, t: u32, index: u32, code: u8) {
        if self.tasks[t as usize].flags & flag::OBSERVED != 0 {
            self.ready_decided.entry(t).or_default().push_back((index, code));
            self.active.insert(self.tasks[t as usize].rank);
        } else if index == SELF {
            self.set_task_state(t, code);
        } else {
            self.set_child_state(t, index, code);
        }
    }
}
