//! Percentiles of latency samples.

use std::time::Duration;

/// p50/p90/p99 (nearest rank), the mean and the extremes of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Samples summarized.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Fastest.
    pub min: Duration,
    /// Slowest.
    pub max: Duration,
    /// Arithmetic mean.
    pub mean: Duration,
}

impl Percentiles {
    /// Summarizes `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let total: Duration = sorted.iter().sum();
        Some(Self {
            count: sorted.len(),
            p50: nearest_rank(&sorted, 50),
            p90: nearest_rank(&sorted, 90),
            p99: nearest_rank(&sorted, 99),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            mean: total / u32::try_from(sorted.len()).unwrap_or(u32::MAX),
        })
    }
}

/// The smallest sample with at least `pct` percent of the samples at or
/// below it; `sorted` is ascending and not empty.
fn nearest_rank(sorted: &[Duration], pct: usize) -> Duration {
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(v: u64) -> Duration {
        Duration::from_micros(v)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<_> = (1..=100).rev().map(us).collect();
        let p = Percentiles::of(&samples).unwrap();
        assert_eq!((p.p50, p.p90, p.p99), (us(50), us(90), us(99)));
        assert_eq!((p.min, p.max, p.count), (us(1), us(100), 100));
        assert_eq!(p.mean, Duration::from_nanos(50_500));
    }

    #[test]
    fn single_and_empty() {
        let p = Percentiles::of(&[us(7)]).unwrap();
        assert_eq!((p.p50, p.p99), (us(7), us(7)));
        assert!(Percentiles::of(&[]).is_none());
    }
}
