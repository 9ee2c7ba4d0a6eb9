//! How long a task run waits before each retry.
//!
//! A task's [`RetryDelays`] lists one delay per retry: the retry after attempt `k`
//! waits `delays[k - 1]`, and the last delay repeats when there are more retries than
//! delays (no delays: retry at once). An optional jitter takes a random share off each
//! delay: with jitter `j` the wait is uniform in `[d * (1 - j), d]`, so it never
//! exceeds the listed delay (a backoff's cap stays a cap) and never goes below zero.
//! `j = 1` is "full jitter", `j = 0.5` "equal jitter".
//!
//! The random share is a pure function of `(seed, task, index, attempt)` (a few rounds
//! of splitmix64): no generator state, nothing allocated per child, the same delays
//! for the same seed on every replay.

use std::fmt;

/// Per-attempt retry delays of one task, plus jitter. Compact: a task that waits
/// nothing costs one null pointer, and anything else one allocation per task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryDelays(Option<Box<Plan>>);

#[derive(Debug, Clone, PartialEq)]
struct Plan {
    delays_ms: Vec<u64>,
    jitter: f64,
    seed: u64,
}

/// A jitter outside `0..=1` (or not a number).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidJitter(pub f64);

impl fmt::Display for InvalidJitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "retry jitter must be a fraction between 0 and 1, got {}", self.0)
    }
}

impl std::error::Error for InvalidJitter {}

impl RetryDelays {
    /// Retry at once.
    pub const NONE: RetryDelays = RetryDelays(None);

    /// The same delay before every retry.
    pub fn fixed(ms: u64) -> RetryDelays {
        RetryDelays::per_attempt(vec![ms])
    }

    /// `delays_ms[k - 1]` before the retry after attempt `k`; the last one repeats.
    pub fn per_attempt(delays_ms: Vec<u64>) -> RetryDelays {
        if delays_ms.iter().all(|&d| d == 0) {
            return RetryDelays::NONE;
        }
        RetryDelays(Some(Box::new(Plan { delays_ms, jitter: 0.0, seed: 0 })))
    }

    /// Take a random share of up to `jitter` (0..=1) off every delay, drawn from `seed`.
    pub fn with_jitter(self, jitter: f64, seed: u64) -> Result<RetryDelays, InvalidJitter> {
        if !(0.0..=1.0).contains(&jitter) {
            return Err(InvalidJitter(jitter));
        }
        Ok(match self.0 {
            None => RetryDelays::NONE,
            Some(mut plan) => {
                plan.jitter = jitter;
                plan.seed = seed;
                RetryDelays(Some(plan))
            }
        })
    }

    /// Every retry is immediate (no delays listed).
    pub(crate) fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// The listed delays (empty when every retry is immediate).
    pub fn delays_ms(&self) -> &[u64] {
        self.0.as_ref().map_or(&[], |p| &p.delays_ms)
    }

    pub fn jitter(&self) -> f64 {
        self.0.as_ref().map_or(0.0, |p| p.jitter)
    }

    pub fn seed(&self) -> u64 {
        self.0.as_ref().map_or(0, |p| p.seed)
    }

    /// The listed delay before the retry after attempt `attempt` (1-based), no jitter.
    pub fn base_ms(&self, attempt: u8) -> u64 {
        let delays = self.delays_ms();
        match delays.len() {
            0 => 0,
            n => delays[(attempt.max(1) as usize).min(n) - 1],
        }
    }

    /// The wait before the retry after attempt `attempt` of task run `(task, index)`
    /// (`index` is the map index, or `u32::MAX` for the task itself).
    #[inline]
    pub fn delay_ms(&self, task: u32, index: u32, attempt: u8) -> u64 {
        let Some(plan) = self.0.as_deref() else { return 0 };
        let base = self.base_ms(attempt);
        if plan.jitter == 0.0 || base == 0 {
            return base;
        }
        let cut = base as f64 * plan.jitter * unit_interval(plan.seed, task, index, attempt);
        // `cut` is below `base` (the unit draw is below 1); the min guards rounding.
        base - (cut as u64).min(base)
    }
}

/// Whether an attempt that ended in `code` (with the [`crate::state::RETRY_OK`] flag when the
/// task's rules allow a retry) runs again, and after how long: the rule of a deferred
/// run's core. A failure flagged `RETRY_OK` is retried while `runs` (attempts made, this
/// one included) is at most `max_retries`; `RETRYING` (a `RETRY` signal, or a state
/// handler's) always runs again, at once.
pub fn retry_wait(code: u8, runs: u8, max_retries: u8, delays: &RetryDelays, task: u32, index: u32) -> Option<u64> {
    let base = code & !crate::state::RETRY_OK;
    match base {
        crate::state::FAILED | crate::state::TIMED_OUT | crate::state::TRIGGER_FAILED
            if code & crate::state::RETRY_OK != 0 && runs <= max_retries =>
        {
            Some(delays.delay_ms(task, index, runs))
        }
        crate::state::RETRYING => Some(0),
        _ => None,
    }
}

/// One round of splitmix64 (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
#[inline]
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in `[0, 1)` keyed by `(seed, task, index, attempt)`.
#[inline]
fn unit_interval(seed: u64, task: u32, index: u32, attempt: u8) -> f64 {
    let h = splitmix64(splitmix64(seed ^ ((task as u64) << 32 | index as u64)) ^ attempt as u64);
    // The top 53 bits fill an f64 mantissa exactly.
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // First outputs of the reference splitmix64 generator seeded with 0
        // (state advanced by the golden gamma before each mix).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn unit_interval_stays_below_one() {
        for a in 0..=255u8 {
            let u = unit_interval(u64::MAX, u32::MAX, u32::MAX, a);
            assert!((0.0..1.0).contains(&u));
        }
    }
}
