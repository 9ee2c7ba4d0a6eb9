//! Retry delays in the core: per-attempt delays (the last repeating), each mapped
//! child waiting by its own attempt number, seeded jitter that stays within
//! `[d * (1 - jitter), d]`, forced retries (the RETRY signal) and the compact spec.

use ferroflow_core::retry::splitmix64;
use ferroflow_core::state::*;
use ferroflow_core::{EdgeSpec, Graph, ItemKind, RetryDelays, Run, TaskSpec};

/// `list -> t` (mapped when `mapped`), `t` retrying with `delays`.
fn run_of(delays: RetryDelays, max_retries: u8, mapped: bool) -> Run {
    let names = vec!["list".to_string(), "t".to_string()];
    let edges = vec![EdgeSpec { upstream: 0, downstream: 1, mapped, flattened: false }];
    let specs = vec![TaskSpec::default(), TaskSpec { max_retries, retry_delays: delays, ..TaskSpec::default() }];
    Run::new(Graph::new(names, edges).expect("acyclic"), specs).expect("specs")
}

const T: u32 = 1;

/// Run the list task and, when `t` is mapped, map it over `width` children.
fn start(delays: RetryDelays, max_retries: u8, width: Option<u32>) -> Run {
    let mut run = run_of(delays, max_retries, width.is_some());
    let items = run.next_batch(10, 0);
    assert_eq!(items.len(), 1);
    run.report(0, None, &[SUCCESS], 0).unwrap();
    if let Some(w) = width {
        let items = run.next_batch(10, 0);
        assert_eq!(items[0].kind, ItemKind::Prepare);
        run.prepared(T, Some(w), &[], None).unwrap();
    }
    run
}

/// Hand out what is ready at `now`; the children (or None for the task) of `t`.
fn ready(run: &mut Run, now: u64) -> Vec<Option<Vec<u32>>> {
    run.next_batch(1 << 20, now).into_iter().filter(|it| it.task == T).map(|it| it.indices).collect()
}

fn fails() -> u8 {
    FAILED | RETRY_OK
}

#[test]
fn per_attempt_delays_then_the_last_repeats() {
    let mut run = start(RetryDelays::per_attempt(vec![10, 20, 40]), 5, None);
    let mut now = 0;
    let mut waits = Vec::new();
    for attempt in 1..=6u8 {
        assert_eq!(ready(&mut run, now), vec![None], "attempt {attempt} handed out at {now}");
        assert_eq!(run.task_run_count(T), attempt);
        run.report(T, None, &[fails()], now).unwrap();
        if attempt == 6 {
            break;
        }
        assert_eq!(run.task_state(T), RETRYING);
        let due = run.next_timer().unwrap();
        assert_eq!(run.pending_retries(), vec![(due, T, None)]);
        assert_eq!(run.retry_delay_ms(T, None, attempt), Some(due - now));
        // not a millisecond early
        assert!(ready(&mut run, due - 1).is_empty());
        waits.push(due - now);
        now = due;
    }
    assert_eq!(waits, vec![10, 20, 40, 40, 40]);
    assert_eq!(run.task_state(T), FAILED, "6 runs > max_retries 5");
    assert!(run.is_complete());
}

#[test]
fn no_delays_retry_at_once() {
    for delays in [RetryDelays::NONE, RetryDelays::per_attempt(vec![]), RetryDelays::fixed(0), RetryDelays::per_attempt(vec![0, 0])] {
        assert_eq!(delays, RetryDelays::NONE, "every zero delay is the compact 'no wait'");
        let mut run = start(delays, 1, None);
        ready(&mut run, 7);
        run.report(T, None, &[fails()], 7).unwrap();
        assert_eq!(run.next_timer(), Some(7));
        assert_eq!(ready(&mut run, 7), vec![None]);
    }
}

#[test]
fn mapped_children_wait_by_their_own_attempt() {
    let mut run = start(RetryDelays::per_attempt(vec![10, 100]), 3, Some(3));
    assert_eq!(ready(&mut run, 0), vec![Some(vec![0, 1, 2])]);
    // child 0 fails its first attempt, 1 and 2 succeed / fail later
    run.report(T, Some(&[0, 1]), &[fails(), SUCCESS], 0).unwrap();
    assert_eq!(run.pending_retries(), vec![(10, T, Some(0))]);
    assert_eq!(ready(&mut run, 10), vec![Some(vec![0])]);
    // child 0 fails again (its 2nd attempt: 100 ms) while child 2 fails its 1st (10 ms)
    run.report(T, Some(&[0, 2]), &[fails(), fails()], 10).unwrap();
    assert_eq!(run.pending_retries(), vec![(20, T, Some(2)), (110, T, Some(0))]);
    assert_eq!(run.child_run_counts(T), &[2, 1, 1]);
    assert_eq!(ready(&mut run, 20), vec![Some(vec![2])]);
    run.report(T, Some(&[2]), &[SUCCESS], 20).unwrap();
    assert!(ready(&mut run, 109).is_empty());
    assert_eq!(ready(&mut run, 110), vec![Some(vec![0])]);
    // 3rd attempt of child 0: the last delay repeats
    run.report(T, Some(&[0]), &[fails()], 110).unwrap();
    assert_eq!(run.pending_retries(), vec![(210, T, Some(0))]);
    assert_eq!(ready(&mut run, 210), vec![Some(vec![0])]);
    run.report(T, Some(&[0]), &[SUCCESS], 210).unwrap();
    assert_eq!(run.child_states(T), &[SUCCESS, SUCCESS, SUCCESS]);
    assert_eq!(run.child_run_counts(T), &[4, 1, 2]);
    assert!(run.is_complete());
}

#[test]
fn forced_retries_are_immediate_and_count_as_attempts() {
    // RETRY signal on attempt 1 (immediate even with delays and max_retries 2), then
    // two ordinary failures: attempt 2 waits delays[1], attempt 3 is past max_retries.
    let mut run = start(RetryDelays::per_attempt(vec![5, 50]), 2, None);
    ready(&mut run, 0);
    run.report(T, None, &[RETRYING], 3).unwrap();
    assert_eq!(run.pending_retries(), vec![(3, T, None)]);
    assert_eq!(ready(&mut run, 3), vec![None]);
    run.report(T, None, &[fails()], 3).unwrap();
    assert_eq!(run.pending_retries(), vec![(53, T, None)]);
    assert_eq!(ready(&mut run, 53), vec![None]);
    run.report(T, None, &[fails()], 60).unwrap();
    assert_eq!(run.task_state(T), FAILED);
    assert_eq!(run.task_run_count(T), 3);
    // ... and the RETRY signal still retries once max_retries is used up, at once
    let mut run = start(RetryDelays::fixed(1_000), 0, Some(2));
    ready(&mut run, 0);
    run.report(T, Some(&[0, 1]), &[RETRYING, fails()], 4).unwrap();
    assert_eq!(run.child_states(T), &[RETRYING, FAILED]);
    assert_eq!(run.pending_retries(), vec![(4, T, Some(0))]);
    assert_eq!(ready(&mut run, 4), vec![Some(vec![0])]);
    run.report(T, Some(&[0]), &[SUCCESS], 4).unwrap();
    assert!(run.is_complete());
}

#[test]
fn jitter_stays_within_the_delay_and_spreads() {
    let width = 20_000u32;
    for (jitter, seed) in [(0.5, 1u64), (1.0, 2), (0.1, u64::MAX)] {
        let delays = RetryDelays::fixed(1_000).with_jitter(jitter, seed).unwrap();
        let mut run = start(delays, 1, Some(width));
        ready(&mut run, 0);
        let all: Vec<u32> = (0..width).collect();
        run.report(T, Some(&all), &vec![fails(); width as usize], 0).unwrap();
        let waits: Vec<u64> = run.pending_retries().iter().map(|&(due, _, _)| due).collect();
        assert_eq!(waits.len(), width as usize);
        let low = (1_000.0 * (1.0 - jitter)) as u64;
        assert!(waits.iter().all(|&w| (low..=1_000).contains(&w)), "jitter {jitter}: outside [{low}, 1000]");
        let (min, max) = (waits[0], waits[waits.len() - 1]);
        let spread = 1_000 - low;
        assert!(min <= low + spread / 50 && max >= 1_000 - spread / 50, "jitter {jitter}: {min}..{max}");
        let mean = waits.iter().sum::<u64>() as f64 / waits.len() as f64;
        let want = 1_000.0 - spread as f64 / 2.0;
        assert!((mean - want).abs() < spread as f64 * 0.02, "jitter {jitter}: mean {mean}, want {want}");
        // each child's timer is the one the preview gives
        for i in [0, 1, width / 2, width - 1] {
            let d = run.retry_delay_ms(T, Some(i), 1).unwrap();
            assert!(run.pending_retries().contains(&(d, T, Some(i))));
        }
    }
}

#[test]
fn jitter_is_a_pure_function_of_seed_task_index_and_attempt() {
    let d = RetryDelays::per_attempt(vec![500, 5_000]).with_jitter(0.8, 42).unwrap();
    let again = d.clone();
    let other_seed = RetryDelays::per_attempt(vec![500, 5_000]).with_jitter(0.8, 43).unwrap();
    let keys: Vec<(u32, u32, u8)> = (0..50).flat_map(|i| [(1, i, 1), (1, i, 2), (2, i, 1)]).collect();
    let draw = |r: &RetryDelays| keys.iter().map(|&(t, i, a)| r.delay_ms(t, i, a)).collect::<Vec<_>>();
    assert_eq!(draw(&d), draw(&again), "same seed, same delays");
    assert_ne!(draw(&d), draw(&other_seed), "another seed, other delays");
    // task, index and attempt each change the draw
    assert_ne!(d.delay_ms(1, 0, 1), d.delay_ms(2, 0, 1));
    assert_ne!(d.delay_ms(1, 0, 3), d.delay_ms(1, 1, 3));
    assert_ne!(d.delay_ms(1, 0, 2), d.delay_ms(1, 0, 3));
    // a delay of zero stays zero; jitter never makes a delay negative nor larger
    let z = RetryDelays::per_attempt(vec![0, 10]).with_jitter(1.0, 7).unwrap();
    assert_eq!(z.delay_ms(0, 0, 1), 0);
    assert!(z.delay_ms(0, 0, 2) <= 10);
    // the largest delays neither overflow nor panic, and jitter still spreads them
    let huge = RetryDelays::fixed(u64::MAX).with_jitter(1.0, 9).unwrap();
    let draws: Vec<u64> = (1..=255u8).map(|a| huge.delay_ms(3, u32::MAX, a)).collect();
    assert!(draws.iter().any(|&w| w < u64::MAX / 2) && draws.iter().any(|&w| w > u64::MAX / 2));
}

#[test]
fn huge_delays_saturate_the_clock() {
    let mut run = start(RetryDelays::fixed(u64::MAX).with_jitter(0.0, 0).unwrap(), 1, None);
    ready(&mut run, 10);
    run.report(T, None, &[fails()], 10).unwrap();
    assert_eq!(run.next_timer(), Some(u64::MAX));
    assert!(ready(&mut run, u64::MAX - 1).is_empty());
    assert_eq!(ready(&mut run, u64::MAX), vec![None]);
}

#[test]
fn bad_jitter_is_refused() {
    for bad in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
        let err = RetryDelays::fixed(10).with_jitter(bad, 0).unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
    }
    assert!(RetryDelays::fixed(10).with_jitter(0.0, 0).is_ok());
    assert!(RetryDelays::fixed(10).with_jitter(1.0, 0).is_ok());
}

#[test]
fn accessors_and_compactness() {
    let d = RetryDelays::per_attempt(vec![1, 2, 3]).with_jitter(0.25, 11).unwrap();
    assert_eq!(d.delays_ms(), &[1, 2, 3]);
    assert_eq!((d.jitter(), d.seed()), (0.25, 11));
    assert_eq!([d.base_ms(0), d.base_ms(1), d.base_ms(3), d.base_ms(200)], [1, 1, 3, 3]);
    assert_eq!(RetryDelays::NONE.delays_ms(), &[] as &[u64]);
    assert_eq!(RetryDelays::NONE.delay_ms(0, 0, 1), 0);
    // one pointer per task; nothing per child
    assert_eq!(std::mem::size_of::<RetryDelays>(), std::mem::size_of::<usize>());
    assert!(std::mem::size_of::<TaskSpec>() <= 64, "{}", std::mem::size_of::<TaskSpec>());
}

#[test]
fn splitmix64_matches_the_reference_generator() {
    // outputs 1 and 2 of splitmix64 seeded with 1234567 (state += gamma, then mix)
    let gamma = 0x9E37_79B9_7F4A_7C15u64;
    let seed = 1_234_567u64;
    assert_eq!(splitmix64(seed), 6_457_827_717_110_365_317);
    assert_eq!(splitmix64(seed.wrapping_add(gamma)), 3_203_168_211_198_807_973);
}
