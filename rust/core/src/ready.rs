//! The set of tasks with ready work, served deepest first.
//!
//! A task is keyed by its topological rank, a permutation of `0..n`, so two tasks
//! never share a key: the set is a bitmap over ranks with a summary tree on top (one
//! bit per 64-bit word of the level below), and "the deepest ready task" is the
//! highest set bit, found by walking down from the top word with leading-zero counts.
//! Insert, remove and max each touch one word per level (4 levels for a million
//! tasks); the whole structure is `n / 8` bytes plus 1/64 of that per level above.
//!
//! It replaces a `BTreeSet<(Reverse(rank), task)>` and keeps its contract exactly:
//! set semantics (inserting a present rank changes nothing), [`RankSet::max`] is the
//! highest rank present.

pub(crate) struct RankSet {
    /// The bit words of every level, the leaves (one bit per rank) first; level
    /// `k + 1` has one bit per word of level `k`, set when that word is not zero. The
    /// last level is a single word.
    words: Vec<u64>,
    /// Where each level starts in `words` (`depth` of them are used: 6 levels cover
    /// every `u32` rank).
    start: [usize; 6],
    depth: usize,
    len: usize,
}

impl RankSet {
    /// An empty set of ranks in `0..n`.
    pub(crate) fn new(n: usize) -> RankSet {
        let mut start = [0usize; 6];
        let mut depth = 0;
        let mut total = 0;
        let mut words = n.div_ceil(64).max(1);
        loop {
            start[depth] = total;
            depth += 1;
            total += words;
            if words == 1 {
                break;
            }
            words = words.div_ceil(64);
        }
        RankSet { words: vec![0u64; total], start, depth, len: 0 }
    }

    /// Number of ranks in the set.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Add `rank`; false if it was there already.
    #[inline(always)]
    pub(crate) fn insert(&mut self, rank: u32) -> bool {
        let mut i = rank as usize;
        for k in 0..self.depth {
            let word = &mut self.words[self.start[k] + i / 64];
            let bit = 1u64 << (i % 64);
            let was = *word;
            *word = was | bit;
            if k == 0 && was & bit != 0 {
                return false;
            }
            if was != 0 {
                break; // the levels above already know this word is not empty
            }
            i /= 64;
        }
        self.len += 1;
        true
    }

    /// Take `rank` out; false if it was not there.
    #[inline]
    pub(crate) fn remove(&mut self, rank: u32) -> bool {
        let mut i = rank as usize;
        for k in 0..self.depth {
            let word = &mut self.words[self.start[k] + i / 64];
            let bit = 1u64 << (i % 64);
            if k == 0 && *word & bit == 0 {
                return false;
            }
            *word &= !bit;
            if *word != 0 {
                break; // the word still holds other ranks: the levels above stay set
            }
            i /= 64;
        }
        self.len -= 1;
        true
    }

    /// The highest rank in the set.
    #[inline]
    pub(crate) fn max(&self) -> Option<u32> {
        let mut i = 0usize;
        for k in (0..self.depth).rev() {
            let word = self.words[self.start[k] + i];
            if word == 0 {
                return None; // only the top word is ever zero on the way down: the set is empty
            }
            i = i * 64 + 63 - word.leading_zeros() as usize;
        }
        Some(i as u32)
    }

    /// The highest rank in the set below `rank` (the next one to serve once `rank`
    /// is taken out): look for a lower bit in `rank`'s word, then for a lower non-empty
    /// word one level up, and so on; then down again to the highest rank under it.
    #[inline]
    pub(crate) fn max_below(&self, rank: u32) -> Option<u32> {
        let mut i = rank as usize;
        for k in 0..self.depth {
            let below = self.words[self.start[k] + i / 64] & ((1u64 << (i % 64)) - 1);
            if below != 0 {
                i = (i / 64) * 64 + 63 - below.leading_zeros() as usize;
                for kk in (0..k).rev() {
                    let word = self.words[self.start[kk] + i];
                    i = i * 64 + 63 - word.leading_zeros() as usize;
                }
                return Some(i as u32);
            }
            i /= 64;
        }
        None
    }

    pub(crate) fn clear(&mut self) {
        self.words.fill(0);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BTreeSet;

    /// The structure it replaces: deepest rank first.
    struct Reference(BTreeSet<(Reverse<u32>, u32)>);

    impl Reference {
        fn max(&self) -> Option<u32> {
            self.0.first().map(|&(Reverse(r), _)| r)
        }
    }

    #[test]
    fn deepest_rank_first() {
        let mut s = RankSet::new(10);
        assert_eq!(s.max(), None);
        for r in [3, 7, 0, 9, 5] {
            assert!(s.insert(r));
        }
        assert!(!s.insert(7), "a rank is in the set once");
        assert_eq!(s.len(), 5);
        let mut out = Vec::new();
        while let Some(r) = s.max() {
            assert!(s.remove(r));
            out.push(r);
        }
        assert_eq!(out, vec![9, 7, 5, 3, 0]);
        for r in [3, 7, 0, 9, 5] {
            s.insert(r);
        }
        assert_eq!(s.max_below(9), Some(7));
        assert_eq!(s.max_below(8), Some(7));
        assert_eq!(s.max_below(7), Some(5));
        assert_eq!(s.max_below(1), Some(0));
        assert_eq!(s.max_below(0), None);
        s.clear();
        assert!(s.is_empty());
        assert!(!s.remove(3), "removing an absent rank changes nothing");
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn sizes_at_word_and_level_boundaries() {
        for n in [0usize, 1, 63, 64, 65, 4095, 4096, 4097, 262_145] {
            let mut s = RankSet::new(n);
            assert_eq!(s.max(), None, "n = {n}");
            if n == 0 {
                continue;
            }
            let last = n as u32 - 1;
            assert!(s.insert(0));
            assert_eq!(s.max(), Some(0));
            if n == 1 {
                continue;
            }
            assert!(s.insert(last));
            assert_eq!(s.max(), Some(last), "n = {n}");
            s.remove(last);
            assert_eq!(s.max(), Some(0), "n = {n}");
            s.remove(0);
            assert_eq!(s.max(), None, "n = {n}");
            assert!(s.is_empty());
        }
    }

    #[test]
    fn clear_empties_every_level() {
        let mut s = RankSet::new(100_000);
        for r in (0..100_000).step_by(977) {
            s.insert(r);
        }
        s.clear();
        assert_eq!((s.max(), s.len()), (None, 0));
        s.insert(12_345);
        assert_eq!(s.max(), Some(12_345));
    }

    /// Random inserts, removes and pops agree with the BTreeSet it replaces.
    #[test]
    fn matches_the_btreeset_it_replaces() {
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [1usize, 70, 5_000, 300_000] {
            let mut s = RankSet::new(n);
            let mut r = Reference(BTreeSet::new());
            for _ in 0..50_000 {
                let rank = (next() % n as u64) as u32;
                match next() % 4 {
                    0 | 1 => assert_eq!(s.insert(rank), r.0.insert((Reverse(rank), rank)), "insert {rank}"),
                    2 => assert_eq!(s.remove(rank), r.0.remove(&(Reverse(rank), rank)), "remove {rank}"),
                    _ => {
                        if let Some(m) = r.max() {
                            r.0.remove(&(Reverse(m), m));
                            assert_eq!(s.max(), Some(m));
                            assert!(s.remove(m));
                        }
                    }
                }
                assert_eq!(s.max(), r.max());
                assert_eq!(s.len(), r.0.len());
                let below = r.0.range((Reverse(rank.saturating_sub(1)), 0)..).next().map(|&(Reverse(x), _)| x);
                let want = if rank == 0 { None } else { below };
                assert_eq!(s.max_below(rank), want, "below {rank}");
            }
        }
    }
}
