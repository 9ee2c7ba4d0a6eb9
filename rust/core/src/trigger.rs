//! Built-in triggers, evaluated on counters of upstream states.
//!
//! Semantics follow Prefect Core 1.4.1: mapped upstreams are expanded to their
//! children before counting; `has_edges` tells whether the task has any upstream edge
//! at all (keyed constants count as successful upstream edges).

use crate::state::Counts;

/// A threshold of `some_successful` / `some_failed`: below 1 it is a fraction of the
/// number of upstream states, from 1 up an absolute count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Default,
    Value(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    AllSuccessful,
    AllFailed,
    AnySuccessful,
    AnyFailed,
    AllFinished,
    NotAllSkipped,
    SomeSuccessful { at_least: Bound, at_most: Bound },
    SomeFailed { at_least: Bound, at_most: Bound },
    /// A user's callable: the Python layer evaluates it.
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Run,
    TriggerFail,
    Skip,
    /// Ask Python (custom trigger).
    Python,
}

fn within(hits: u64, total: u64, at_least: Bound, at_most: Bound) -> bool {
    let total_f = total as f64;
    let scale = |b: f64| if b < 1.0 { total_f * b } else { b };
    let low = match at_least {
        Bound::Default => 0.0,
        Bound::Value(v) => scale(v),
    };
    let high = match at_most {
        Bound::Default => total_f,
        Bound::Value(v) => scale(v),
    };
    let h = hits as f64;
    low <= h && h <= high
}

impl Trigger {
    /// Decide on fully finished upstream states.
    #[inline(always)]
    pub fn evaluate(&self, has_edges: bool, c: &Counts) -> Verdict {
        let pass = |ok: bool| if ok { Verdict::Run } else { Verdict::TriggerFail };
        match *self {
            Trigger::AllSuccessful => pass(c.success == c.total),
            Trigger::AllFailed => pass(c.failed == c.total),
            Trigger::AnySuccessful => pass(!has_edges || c.success > 0),
            Trigger::AnyFailed => pass(!has_edges || c.failed > 0),
            Trigger::AllFinished => Verdict::Run,
            Trigger::NotAllSkipped => {
                if c.skipped == c.total {
                    Verdict::Skip
                } else {
                    pass(c.success == c.total)
                }
            }
            Trigger::SomeSuccessful { at_least, at_most } => {
                pass(!has_edges || within(c.success, c.total, at_least, at_most))
            }
            Trigger::SomeFailed { at_least, at_most } => {
                pass(!has_edges || within(c.failed, c.total, at_least, at_most))
            }
            Trigger::Custom => Verdict::Python,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    fn c(total: u64, success: u64, failed: u64, skipped: u64) -> Counts {
        Counts { total, success, failed, skipped }
    }

    #[test]
    fn table() {
        let some_s = |a: Option<f64>, b: Option<f64>| Trigger::SomeSuccessful {
            at_least: a.map_or(Bound::Default, Bound::Value),
            at_most: b.map_or(Bound::Default, Bound::Value),
        };
        let some_f = |a: Option<f64>, b: Option<f64>| Trigger::SomeFailed {
            at_least: a.map_or(Bound::Default, Bound::Value),
            at_most: b.map_or(Bound::Default, Bound::Value),
        };
        let cases: Vec<(Trigger, bool, Counts, Verdict)> = vec![
            (Trigger::AllSuccessful, false, c(0, 0, 0, 0), Run),
            (Trigger::AllSuccessful, true, c(2, 2, 0, 1), Run),
            (Trigger::AllSuccessful, true, c(2, 1, 1, 0), TriggerFail),
            (Trigger::AllSuccessful, true, c(1, 0, 0, 0), TriggerFail), // cancelled upstream
            (Trigger::AllFailed, true, c(2, 0, 2, 0), Run),
            (Trigger::AllFailed, true, c(2, 1, 1, 0), TriggerFail),
            (Trigger::AllFailed, true, c(0, 0, 0, 0), Run),
            (Trigger::AnySuccessful, false, c(0, 0, 0, 0), Run),
            // a reduce over zero children has edges but no states: Prefect fails it
            (Trigger::AnySuccessful, true, c(0, 0, 0, 0), TriggerFail),
            (Trigger::AnySuccessful, true, c(3, 1, 2, 0), Run),
            (Trigger::AnyFailed, true, c(3, 3, 0, 0), TriggerFail),
            (Trigger::AnyFailed, true, c(3, 2, 1, 0), Run),
            (Trigger::AnyFailed, false, c(0, 0, 0, 0), Run),
            (Trigger::AllFinished, true, c(3, 0, 3, 0), Run),
            (Trigger::NotAllSkipped, true, c(2, 2, 0, 2), Skip),
            (Trigger::NotAllSkipped, true, c(0, 0, 0, 0), Skip),
            (Trigger::NotAllSkipped, true, c(2, 2, 0, 1), Run),
            (Trigger::NotAllSkipped, true, c(2, 1, 1, 1), TriggerFail),
            (some_s(Some(0.5), None), true, c(4, 2, 2, 0), Run),
            (some_s(Some(0.5), None), true, c(4, 1, 3, 0), TriggerFail),
            (some_s(Some(2.0), Some(3.0)), true, c(4, 3, 1, 0), Run),
            (some_s(Some(2.0), Some(3.0)), true, c(4, 4, 0, 0), TriggerFail),
            (some_s(None, Some(0.25)), true, c(4, 1, 3, 0), Run),
            (some_s(Some(1.0), None), true, c(0, 0, 0, 0), TriggerFail),
            (some_s(Some(1.0), None), false, c(0, 0, 0, 0), Run),
            (some_f(Some(1.0), None), true, c(3, 2, 1, 0), Run),
            (some_f(None, Some(0.0)), true, c(3, 2, 1, 0), TriggerFail),
            (Trigger::Custom, true, c(1, 1, 0, 0), Python),
        ];
        for (i, (t, has, counts, want)) in cases.into_iter().enumerate() {
            assert_eq!(t.evaluate(has, &counts), want, "case {i}: {t:?} {counts:?}");
        }
    }
}
