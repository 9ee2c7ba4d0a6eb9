//! One-byte state codes, shared with the Python layer (`ferroflow.engine.codes`).
//!
//! Ordering matters: every code from [`SUCCESS`] up is *finished*.

pub const PENDING: u8 = 0;
pub const RUNNING: u8 = 1;
pub const RETRYING: u8 = 2;
pub const PAUSED: u8 = 3;
pub const SUCCESS: u8 = 4;
pub const CACHED: u8 = 5;
pub const MAPPED: u8 = 6;
pub const SKIPPED: u8 = 7;
pub const FAILED: u8 = 8;
pub const TRIGGER_FAILED: u8 = 9;
pub const TIMED_OUT: u8 = 10;
pub const CANCELLED: u8 = 11;

/// Number of distinct state codes.
pub const N_STATES: usize = 12;

/// Flag the engine ORs into a FAILED or TIMED_OUT outcome when the failure may be
/// retried (the task's `retry_on` accepts the exception).
pub const RETRY_OK: u8 = 0x80;

pub const NAMES: [&str; N_STATES] = [
    "Pending",
    "Running",
    "Retrying",
    "Paused",
    "Success",
    "Cached",
    "Mapped",
    "Skipped",
    "Failed",
    "TriggerFailed",
    "TimedOut",
    "Cancelled",
];

#[inline]
pub fn is_finished(code: u8) -> bool {
    code >= SUCCESS
}

#[inline]
pub fn is_successful(code: u8) -> bool {
    (SUCCESS..=SKIPPED).contains(&code)
}

#[inline]
pub fn is_failed(code: u8) -> bool {
    (FAILED..=TIMED_OUT).contains(&code)
}

#[inline]
pub fn is_skipped(code: u8) -> bool {
    code == SKIPPED
}

/// Counters of upstream states, the only input the built-in triggers need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub success: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    #[inline]
    pub fn add(&mut self, code: u8, n: u64) {
        self.total += n;
        if is_successful(code) {
            self.success += n;
        }
        if is_failed(code) {
            self.failed += n;
        }
        if is_skipped(code) {
            self.skipped += n;
        }
    }

    #[inline]
    pub fn merged(&self, other: &Counts) -> Counts {
        Counts {
            total: self.total + other.total,
            success: self.success + other.success,
            failed: self.failed + other.failed,
            skipped: self.skipped + other.skipped,
        }
    }

    /// Counters of a tally indexed by state code.
    pub fn from_tally(tally: &[u64; N_STATES]) -> Counts {
        let mut c = Counts::default();
        for (code, &n) in tally.iter().enumerate() {
            if n > 0 {
                c.add(code as u8, n);
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        for code in 0..N_STATES as u8 {
            let name = NAMES[code as usize];
            assert_eq!(is_finished(code), code >= SUCCESS, "{name}");
            assert!(!(is_successful(code) && is_failed(code)), "{name}");
        }
        assert!(is_successful(SKIPPED) && is_successful(MAPPED) && is_successful(CACHED));
        assert!(is_failed(TRIGGER_FAILED) && is_failed(TIMED_OUT));
        assert!(!is_successful(CANCELLED) && !is_failed(CANCELLED) && is_finished(CANCELLED));
        assert!(!is_finished(PAUSED) && !is_finished(RETRYING));
    }

    #[test]
    fn counts_add() {
        let mut c = Counts::default();
        c.add(SKIPPED, 2);
        c.add(TRIGGER_FAILED, 1);
        c.add(CANCELLED, 1);
        assert_eq!(c, Counts { total: 4, success: 2, failed: 1, skipped: 2 });
    }
}
