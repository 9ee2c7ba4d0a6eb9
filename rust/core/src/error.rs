//! Errors raised by the core. They carry task names (given at freeze time) so that a
//! message names its culprit.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// The graph has a cycle; the names along it, the first repeated at the end.
    Cycle(Vec<String>),
    /// An edge names a task id that does not exist.
    UnknownTask { id: u32, n_tasks: u32 },
    /// The number of task specs differs from the number of tasks in the graph.
    SpecCount { specs: usize, tasks: usize },
    /// The Python layer reported an outcome the core cannot accept.
    BadReport(String),
    /// A task spec the core cannot accept (a task decided with a state that is not
    /// a finished one).
    BadSpec(String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Cycle(path) => {
                write!(f, "Cycle found; flows must be acyclic: {}", path.join(" -> "))
            }
            CoreError::UnknownTask { id, n_tasks } => {
                write!(f, "edge refers to task id {id} but the graph has {n_tasks} tasks")
            }
            CoreError::SpecCount { specs, tasks } => {
                write!(f, "{specs} task specs given for a graph of {tasks} tasks")
            }
            CoreError::BadReport(msg) => write!(f, "invalid report from the engine: {msg}"),
            CoreError::BadSpec(msg) => write!(f, "invalid task spec: {msg}"),
        }
    }
}

impl std::error::Error for CoreError {}
