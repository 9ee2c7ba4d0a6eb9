//! The bookkeeping of an *eager* flow run: a Python function decorated with `@flow`
//! that calls its tasks as it goes, with no graph known in advance.
//!
//! Tasks are added as the run meets them ([`Ledger::add_task`]); each call of a task is
//! one of its *calls*, numbered in call order within the run (a `task.map` over `n`
//! items reserves `n` consecutive numbers, [`Ledger::reserve`]). The ledger keeps one
//! state byte per call, the retry rule shared with deferred runs ([`crate::retry::retry_wait`]: the
//! same delays, jitter and attempt counting), tallies per task, and what is new since
//! the run store last heard of each task ([`Ledger::unreported`]).
//!
//! Values never come here: the Python layer runs the user's code and reports a code.

use crate::retry::{retry_wait, RetryDelays};
use crate::state::{self, N_STATES};

/// The states of consecutive calls: the first call's number and one code per call.
pub type Segment = (u32, Vec<u8>);

/// What the ledger says after an attempt of a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The call ended in this state (recorded).
    Final(u8),
    /// Run the call again after this many milliseconds (attempts are left).
    Retry(u64),
}

#[derive(Debug, Clone, Default)]
struct TaskCalls {
    max_retries: u8,
    delays: RetryDelays,
    /// One state byte per call number (PENDING until it ends).
    codes: Vec<u8>,
    /// Calls that ended, by state.
    tallies: [u64; N_STATES],
    /// Calls numbered below this were handed to the run store already.
    reported_width: u32,
    /// Calls that ended since the run store last heard of this task, in the order they ended.
    ended: Vec<u32>,
}

/// The per-run ledger of an eager flow run.
#[derive(Debug, Default)]
pub struct Ledger {
    tasks: Vec<TaskCalls>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Add a task met for the first time; returns its id (0, 1, 2, ... in order).
    pub fn add_task(&mut self, max_retries: u8, delays: RetryDelays) -> u32 {
        self.tasks.push(TaskCalls { max_retries, delays, ..TaskCalls::default() });
        (self.tasks.len() - 1) as u32
    }

    pub fn n_tasks(&self) -> usize {
        self.tasks.len()
    }

    fn task(&self, task: u32) -> Option<&TaskCalls> {
        self.tasks.get(task as usize)
    }

    /// Reserve `n` call numbers of `task`; returns the first. None for an unknown task
    /// or more calls than a u32 counts.
    pub fn reserve(&mut self, task: u32, n: u32) -> Option<u32> {
        let t = self.tasks.get_mut(task as usize)?;
        let first = u32::try_from(t.codes.len()).ok()?;
        first.checked_add(n)?;
        t.codes.resize(t.codes.len() + n as usize, state::PENDING);
        Some(first)
    }

    fn set(t: &mut TaskCalls, index: u32, code: u8) {
        let slot = &mut t.codes[index as usize];
        if state::is_finished(*slot) {
            t.tallies[*slot as usize] -= 1;
        }
        *slot = code;
        if state::is_finished(code) {
            t.tallies[code as usize] += 1;
            t.ended.push(index);
        }
    }

    /// Attempt `runs` (1-based) of call `index` of `task` ended in `code`: either the
    /// call runs again ([`Outcome::Retry`], its state `RETRYING` meanwhile) or its state
    /// is recorded ([`Outcome::Final`], without the `RETRY_OK` flag). None for an
    /// unknown task or call, or a code that is not a state.
    pub fn outcome(&mut self, task: u32, index: u32, runs: u8, code: u8) -> Option<Outcome> {
        let t = self.tasks.get_mut(task as usize)?;
        if index as usize >= t.codes.len() || (code & !state::RETRY_OK) as usize >= N_STATES {
            return None;
        }
        if let Some(wait) = retry_wait(code, runs, t.max_retries, &t.delays, task, index) {
            Self::set(t, index, state::RETRYING);
            return Some(Outcome::Retry(wait));
        }
        let base = code & !state::RETRY_OK;
        let base = if base == state::RETRYING { state::FAILED } else { base };
        Self::set(t, index, base);
        Some(Outcome::Final(base))
    }

    /// Record the states of calls `first..first + codes.len()` of `task` at once (the
    /// children of a `task.map`, whose retries their work units decided). False for an
    /// unknown task or calls not reserved.
    pub fn record(&mut self, task: u32, first: u32, codes: &[u8]) -> bool {
        let Some(t) = self.tasks.get_mut(task as usize) else { return false };
        let end = first as usize + codes.len();
        if end > t.codes.len() || codes.iter().any(|&c| (c & !state::RETRY_OK) as usize >= N_STATES) {
            return false;
        }
        for (k, &code) in codes.iter().enumerate() {
            Self::set(t, first + k as u32, code & !state::RETRY_OK);
        }
        true
    }

    /// The state of call `index` of `task`.
    pub fn code(&self, task: u32, index: u32) -> Option<u8> {
        self.task(task)?.codes.get(index as usize).copied()
    }

    /// Calls of `task` numbered so far.
    pub fn width(&self, task: u32) -> Option<u32> {
        Some(self.task(task)?.codes.len() as u32)
    }

    /// The state of every call of `task`.
    pub fn codes(&self, task: u32) -> Option<&[u8]> {
        Some(&self.task(task)?.codes)
    }

    /// Ended calls of `task` by state (index: state code).
    pub fn tallies(&self, task: u32) -> Option<[u64; N_STATES]> {
        Some(self.task(task)?.tallies)
    }

    /// The state shown for `task` as a whole: `Failed` (or `TimedOut`, `Cancelled`) when
    /// a call ended so, `Running` while a call has not ended, else `Success` (or
    /// `Cached`/`Skipped` when every call was).
    pub fn task_code(&self, task: u32) -> Option<u8> {
        let t = self.task(task)?;
        let n = t.codes.len() as u64;
        let ended: u64 = t.tallies.iter().sum();
        for code in [state::FAILED, state::TRIGGER_FAILED, state::TIMED_OUT, state::CANCELLED] {
            if t.tallies[code as usize] > 0 {
                return Some(if code == state::TRIGGER_FAILED { state::FAILED } else { code });
            }
        }
        if ended < n {
            return Some(state::RUNNING);
        }
        for code in [state::CACHED, state::SKIPPED] {
            if n > 0 && t.tallies[code as usize] == n {
                return Some(code);
            }
        }
        Some(state::SUCCESS)
    }

    /// End every call that has not ended (`Pending`, `Running` or `Retrying`: the run
    /// was interrupted while they ran) in `code`; returns them as `(task, index)`, task
    /// by task in call order. Nothing changes (and nothing is returned) when `code` is
    /// not a final state. Only tasks with a call open are scanned.
    pub fn end_open(&mut self, code: u8) -> Vec<(u32, u32)> {
        let mut ended = Vec::new();
        if !state::is_finished(code) || code as usize >= N_STATES {
            return ended;
        }
        for (task, t) in self.tasks.iter_mut().enumerate() {
            if t.tallies.iter().sum::<u64>() == t.codes.len() as u64 {
                continue;
            }
            for index in 0..t.codes.len() {
                if !state::is_finished(t.codes[index]) {
                    Self::set(t, index as u32, code);
                    ended.push((task as u32, index as u32));
                }
            }
        }
        ended
    }

    /// What changed in `task` since the last call: `(width, segments)` where `width`
    /// is the number of calls now (None when it did not grow) and `segments` the states
    /// of the calls that ended since, as `(first call, codes)` runs of ended calls (a
    /// call not ended yet is reported once it ends). Marks them reported.
    pub fn unreported(&mut self, task: u32) -> Option<(Option<u32>, Vec<Segment>)> {
        let t = self.tasks.get_mut(task as usize)?;
        let width = t.codes.len() as u32;
        let grown = (width != t.reported_width).then_some(width);
        t.reported_width = width;
        let mut ended = std::mem::take(&mut t.ended);
        ended.sort_unstable();
        ended.dedup();
        let mut segments: Vec<Segment> = Vec::new();
        for index in ended {
            let code = t.codes[index as usize];
            match segments.last_mut() {
                Some((first, codes)) if *first + codes.len() as u32 == index => codes.push(code),
                _ => segments.push((index, vec![code])),
            }
        }
        Some((grown, segments))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::*;

    #[test]
    fn tasks_and_calls_are_numbered_in_order() {
        let mut l = Ledger::new();
        assert_eq!(l.add_task(0, RetryDelays::NONE), 0);
        assert_eq!(l.add_task(0, RetryDelays::NONE), 1);
        assert_eq!(l.reserve(0, 1), Some(0));
        assert_eq!(l.reserve(0, 1000), Some(1));
        assert_eq!(l.reserve(0, 1), Some(1001));
        assert_eq!(l.width(0), Some(1002));
        assert_eq!(l.width(1), Some(0));
        assert_eq!(l.reserve(7, 1), None);
        assert_eq!(l.n_tasks(), 2);
    }

    #[test]
    fn a_failure_is_retried_while_attempts_are_left_with_the_tasks_delays() {
        let mut l = Ledger::new();
        let t = l.add_task(2, RetryDelays::per_attempt(vec![100, 250]));
        let i = l.reserve(t, 1).unwrap();
        assert_eq!(l.outcome(t, i, 1, FAILED | RETRY_OK), Some(Outcome::Retry(100)));
        assert_eq!(l.code(t, i), Some(RETRYING));
        assert_eq!(l.outcome(t, i, 2, TIMED_OUT | RETRY_OK), Some(Outcome::Retry(250)));
        assert_eq!(l.outcome(t, i, 3, FAILED | RETRY_OK), Some(Outcome::Final(FAILED)));
        assert_eq!(l.code(t, i), Some(FAILED));
        assert_eq!(l.tallies(t).unwrap()[FAILED as usize], 1);
    }

    #[test]
    fn a_failure_without_retry_ok_or_a_success_ends_the_call() {
        let mut l = Ledger::new();
        let t = l.add_task(3, RetryDelays::NONE);
        l.reserve(t, 2);
        assert_eq!(l.outcome(t, 0, 1, FAILED), Some(Outcome::Final(FAILED)));
        assert_eq!(l.outcome(t, 1, 1, SUCCESS), Some(Outcome::Final(SUCCESS)));
        assert_eq!(l.outcome(t, 1, 1, 200), None); // not a state
        assert_eq!(l.outcome(t, 9, 1, SUCCESS), None); // not reserved
    }

    #[test]
    fn retrying_runs_again_at_once_whatever_max_retries_says() {
        let mut l = Ledger::new();
        let t = l.add_task(0, RetryDelays::fixed(5000));
        l.reserve(t, 1);
        assert_eq!(l.outcome(t, 0, 1, RETRYING), Some(Outcome::Retry(0)));
        assert_eq!(l.outcome(t, 0, 2, SUCCESS), Some(Outcome::Final(SUCCESS)));
    }

    #[test]
    fn the_retry_rule_is_the_deferred_runs_jittered_delays_included() {
        let delays = RetryDelays::per_attempt(vec![1000]).with_jitter(0.5, 42).unwrap();
        let mut l = Ledger::new();
        let t = l.add_task(1, delays.clone());
        l.reserve(t, 4);
        let Some(Outcome::Retry(wait)) = l.outcome(t, 3, 1, FAILED | RETRY_OK) else { panic!() };
        assert_eq!(wait, delays.delay_ms(t, 3, 1));
        assert!((500..=1000).contains(&wait));
    }

    #[test]
    fn the_task_state_sums_up_its_calls() {
        let mut l = Ledger::new();
        let t = l.add_task(0, RetryDelays::NONE);
        assert_eq!(l.task_code(t), Some(SUCCESS)); // no call
        l.reserve(t, 3);
        assert_eq!(l.task_code(t), Some(RUNNING));
        assert!(l.record(t, 0, &[CACHED, CACHED, CACHED]));
        assert_eq!(l.task_code(t), Some(CACHED));
        l.outcome(t, 1, 1, SUCCESS);
        assert_eq!(l.task_code(t), Some(SUCCESS));
        l.outcome(t, 2, 1, TIMED_OUT);
        assert_eq!(l.task_code(t), Some(TIMED_OUT));
        assert_eq!(l.tallies(t).unwrap().iter().sum::<u64>(), 3);
        assert!(!l.record(t, 2, &[SUCCESS, SUCCESS])); // beyond the calls reserved
    }

    #[test]
    fn unreported_gives_what_changed_once() {
        let mut l = Ledger::new();
        let t = l.add_task(0, RetryDelays::NONE);
        l.reserve(t, 5);
        l.outcome(t, 1, 1, SUCCESS);
        l.outcome(t, 2, 1, FAILED);
        l.outcome(t, 4, 1, SUCCESS);
        // call 3 is still pending: reported once it ends
        assert_eq!(l.unreported(t), Some((Some(5), vec![(1, vec![SUCCESS, FAILED]), (4, vec![SUCCESS])])));
        assert_eq!(l.unreported(t), Some((None, vec![])));
        l.outcome(t, 0, 1, SUCCESS);
        assert_eq!(l.unreported(t), Some((None, vec![(0, vec![SUCCESS])])));
        l.outcome(t, 3, 1, SUCCESS);
        l.reserve(t, 1);
        assert_eq!(l.unreported(t), Some((Some(6), vec![(3, vec![SUCCESS])])));
        assert_eq!(l.unreported(5), None);
    }

    #[test]
    fn end_open_ends_only_the_calls_not_ended_and_reports_them() {
        let mut l = Ledger::new();
        let a = l.add_task(1, RetryDelays::NONE);
        let b = l.add_task(0, RetryDelays::NONE);
        let c = l.add_task(0, RetryDelays::NONE);
        assert_eq!(l.reserve(a, 3), Some(0));
        assert_eq!(l.reserve(b, 1), Some(0));
        assert_eq!(l.reserve(c, 2), Some(0));
        l.outcome(a, 0, 1, SUCCESS);
        assert_eq!(l.outcome(a, 1, 1, FAILED | RETRY_OK), Some(Outcome::Retry(0))); // retrying: open
        l.outcome(b, 0, 1, FAILED);
        l.record(c, 0, &[SUCCESS, SKIPPED]);
        l.unreported(a);
        assert!(l.end_open(PENDING).is_empty() && l.end_open(RUNNING).is_empty());
        assert_eq!(l.end_open(CANCELLED), vec![(a, 1), (a, 2)]);
        assert_eq!(l.codes(a), Some(&[SUCCESS, CANCELLED, CANCELLED][..]));
        assert_eq!(l.tallies(a).unwrap()[CANCELLED as usize], 2);
        assert_eq!(l.task_code(a), Some(CANCELLED));
        assert_eq!(l.task_code(b), Some(FAILED));
        // reported as any other ending, and a second call finds nothing open
        assert_eq!(l.unreported(a), Some((None, vec![(1, vec![CANCELLED, CANCELLED])])));
        assert!(l.end_open(CANCELLED).is_empty());
        assert!(l.end_open(200).is_empty());
    }
}
