//! ferroflow-core: the scheduling core of ferroflow, free of any Python dependency.
//!
//! * [`graph`] freezes a flow into a compact graph: topological order, cycle detection
//!   whose error names the tasks on the cycle in order.
//! * [`layout`] lays a graph out in layers (Sugiyama style) for drawing a run's graph.
//! * [`state`] defines the one-byte state codes shared with the Python layer.
//! * [`retry`] computes per-attempt retry delays with seeded, allocation-free jitter.
//! * [`trigger`] evaluates the built-in triggers on counters of upstream states.
//! * [`eager`] keeps the bookkeeping of an eager flow run (tasks met as the user's
//!   function calls them, one state byte per call, the same retry rule).
//! * [`run`] keeps the per-run bookkeeping (one byte per task run and mapped child),
//!   expands mapped tasks, propagates skips and trigger failures, keeps retry timers and
//!   hands out ready task runs in batches.
//!
//! The core never sees task values: it holds states, counters and indices. The Python
//! layer runs user code and reports one state code per task run.

pub mod eager;
pub mod error;
pub mod graph;
pub mod layout;
mod ready;
pub mod retry;
pub mod run;
pub mod state;
pub mod trigger;

pub use eager::{Ledger, Outcome};
pub use error::CoreError;
pub use graph::{EdgeSpec, Graph};
pub use retry::{InvalidJitter, RetryDelays};
pub use run::{FinalVerdict, Item, ItemKind, Run, TaskSpec};
pub use trigger::{Bound, Trigger, Verdict};
