//! How long an idle environment is kept warm: a fixed idle timeout, or the
//! hybrid histogram policy of Shahrad et al., "Serverless in the Wild"
//! (USENIX ATC '20), learned from each function's own invocations.
//!
//! The hybrid policy keeps, per function version, a range-limited histogram
//! of its idle times (from the end of an invocation to the start of the
//! next one while none runs): one-minute bins up to four hours. When the
//! histogram is representative (enough samples, bin counts concentrated:
//! a coefficient of variation of at least 2), the pre-warm window is its
//! 5th percentile less a 10% margin and the keep-alive window runs to its
//! 99th percentile plus a 10% margin: an environment need not be kept
//! during the pre-warm window (it can be started again just before the next
//! invocation is expected) and is kept for the keep-alive window after it.
//! Without a pre-warm window the environment is kept from the end of its
//! invocation for at least the fixed keep-alive (Ignis's choice: the policy
//! only ever lengthens the fixed window, or trades it for a pre-warm one).
//! Otherwise — too few samples, idle times spread evenly over the range, or
//! mostly beyond it — the fixed keep-alive applies. (The paper forecasts
//! idle times beyond the range with ARIMA; Ignis falls back to the fixed
//! keep-alive there: see `docs/keepalive.md`.)
//!
//! Everything here is pure: time is passed in, nothing sleeps.

use std::str::FromStr;
use std::time::{Duration, Instant};

/// The keep-alive while nothing better is known: Ignis's default idle
/// timeout, five minutes.
pub const DEFAULT_FIXED: Duration = Duration::from_secs(300);
/// Width of a histogram bin.
pub const BIN: Duration = Duration::from_secs(60);
/// Number of bins: idle times up to four hours are counted in the histogram.
pub const BINS: usize = 240;
/// The histogram's range: idle times beyond it are counted as out of range.
pub const RANGE: Duration = Duration::from_secs(60 * BINS as u64);
/// The percentile of idle times below which an environment need not be
/// kept (the head of the distribution).
pub const HEAD: f64 = 0.05;
/// The percentile of idle times up to which an environment is kept (the
/// tail of the distribution).
pub const TAIL: f64 = 0.99;
/// The margin taken off the pre-warm window and added to the keep-alive
/// window (the paper's 10%).
pub const MARGIN: f64 = 0.10;
/// The coefficient of variation of the bin counts at and above which the
/// histogram is taken to show a pattern (the paper's threshold).
pub const CV_THRESHOLD: f64 = 2.0;
/// Idle times needed before the histogram is used (Ignis's choice: the
/// paper leaves it to the CV; with fewer samples a few lucky bins look like
/// a pattern).
pub const MIN_SAMPLES: u64 = 10;
/// The share of idle times beyond the range above which the histogram is
/// not used (Ignis's choice; the paper forecasts these functions' next
/// idle time instead).
pub const MAX_OUT_OF_RANGE: f64 = 0.5;

/// Which keep-alive policy the router follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every idle environment is kept for the fixed keep-alive.
    Fixed,
    /// Each function's keep-alive is learned from its idle times.
    #[default]
    Hybrid,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fixed" => Ok(Self::Fixed),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(format!(
                "unknown keep-alive policy {other:?} (fixed, hybrid)"
            )),
        }
    }
}

/// A keep-alive policy with its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Fixed, or learned per function.
    pub mode: Mode,
    /// The keep-alive of the fixed policy, and of the hybrid one while a
    /// function's history says nothing.
    pub fixed: Duration,
    /// No environment is kept idle longer than this (the user's
    /// `idle_timeout`).
    pub cap: Duration,
}

impl Policy {
    /// The fixed policy: every environment kept for `idle_timeout`.
    pub fn fixed(idle_timeout: Duration) -> Self {
        Self {
            mode: Mode::Fixed,
            fixed: idle_timeout,
            cap: idle_timeout,
        }
    }

    /// The windows for a function with idle-time history `histogram`.
    pub fn windows(&self, histogram: &Histogram) -> Windows {
        let fixed = Windows {
            prewarm: Duration::ZERO,
            keep_alive: self.fixed.min(self.cap),
            basis: Basis::Fixed,
        };
        if self.mode == Mode::Fixed {
            return fixed;
        }
        let basis = histogram.basis();
        if basis != Basis::Histogram {
            return Windows { basis, ..fixed };
        }
        let (head, tail) = histogram.head_and_tail();
        let prewarm = head.mul_f64(1.0 - MARGIN);
        let end = tail.mul_f64(1.0 + MARGIN).min(self.cap);
        if prewarm >= end {
            // The next invocation is expected after the cap.
            return Windows {
                basis: Basis::BeyondCap,
                ..fixed
            };
        }
        let keep_alive = if prewarm.is_zero() {
            end.max(fixed.keep_alive)
        } else {
            end - prewarm
        };
        Windows {
            prewarm,
            keep_alive,
            basis,
        }
    }
}

/// What a policy decided for one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// After an invocation ends, the time during which the next is not
    /// expected: its environment could be ended and started again when the
    /// window closes. Zero: keep it from the end of the invocation.
    pub prewarm: Duration,
    /// How long the environment is kept after the pre-warm window.
    pub keep_alive: Duration,
    /// Why these windows.
    pub basis: Basis,
}

impl Windows {
    /// How long after its invocation an environment is worth having: the
    /// end of the keep-alive window.
    pub fn horizon(&self) -> Duration {
        self.prewarm + self.keep_alive
    }
}

/// Why a function got the windows it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The fixed policy.
    Fixed,
    /// Fewer than [`MIN_SAMPLES`] idle times.
    TooFewSamples,
    /// Idle times spread over the range (CV below [`CV_THRESHOLD`]).
    NoPattern,
    /// Most idle times beyond the range.
    OutOfRange,
    /// The next invocation is expected only after the cap.
    BeyondCap,
    /// The histogram's percentiles.
    Histogram,
}

/// A range-limited histogram of one function's idle times.
#[derive(Debug, Clone)]
pub struct Histogram {
    bins: Box<[u32; BINS]>,
    in_range: u64,
    out_of_range: u64,
    /// The sum of the squared bin counts, kept so the CV costs no scan.
    squares: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            bins: Box::new([0; BINS]),
            in_range: 0,
            out_of_range: 0,
            squares: 0,
        }
    }
}

impl Histogram {
    /// Counts one idle time.
    pub fn record(&mut self, idle: Duration) {
        let bin = (idle.as_secs() / BIN.as_secs()) as usize;
        match self.bins.get_mut(bin) {
            Some(count) if *count < u32::MAX => {
                self.squares += 2 * u64::from(*count) + 1;
                *count += 1;
                self.in_range += 1;
            }
            // A full bin: the pattern is known by then.
            Some(_) => {}
            None => self.out_of_range += 1,
        }
    }

    /// Idle times counted, in range and beyond it.
    pub fn samples(&self) -> u64 {
        self.in_range + self.out_of_range
    }

    /// The coefficient of variation of the bin counts (0 when empty).
    pub fn cv(&self) -> f64 {
        if self.in_range == 0 {
            return 0.0;
        }
        // Var = E[c²] − E[c]² over the bins.
        let n = BINS as f64;
        let mean = self.in_range as f64 / n;
        let variance = (self.squares as f64 / n - mean * mean).max(0.0);
        variance.sqrt() / mean
    }

    /// Whether the histogram's percentiles are used, and if not why.
    pub fn basis(&self) -> Basis {
        if self.samples() < MIN_SAMPLES {
            Basis::TooFewSamples
        } else if self.out_of_range as f64 > MAX_OUT_OF_RANGE * self.samples() as f64 {
            Basis::OutOfRange
        } else if self.cv() < CV_THRESHOLD {
            Basis::NoPattern
        } else {
            Basis::Histogram
        }
    }

    /// The lower edge of the bin holding the [`HEAD`] percentile and the
    /// upper edge of the one holding the [`TAIL`] percentile, of the idle
    /// times in range.
    fn head_and_tail(&self) -> (Duration, Duration) {
        let n = self.in_range as f64;
        let (mut head, mut tail) = (None, BINS - 1);
        let mut seen = 0u64;
        for (i, &c) in self.bins.iter().enumerate() {
            seen += u64::from(c);
            if head.is_none() && seen as f64 >= HEAD * n && c > 0 {
                head = Some(i);
            }
            if seen as f64 >= TAIL * n {
                tail = i;
                break;
            }
        }
        let head = head.unwrap_or(0);
        (BIN * head as u32, BIN * (tail as u32 + 1))
    }
}

/// A function's invocations as the keep-alive policy sees them: its idle
/// times so far, and whether one of its invocations is running.
#[derive(Debug, Clone, Default)]
pub struct History {
    histogram: Histogram,
    running: u32,
    /// When the last invocation ended, if none runs now.
    idle_since: Option<Instant>,
}

impl History {
    /// An invocation starts at `now`; if none was running, the time since
    /// the last one ended is an idle time.
    pub fn started(&mut self, now: Instant) {
        if self.running == 0 {
            if let Some(since) = self.idle_since.take() {
                self.histogram.record(now.saturating_duration_since(since));
            }
        }
        self.running += 1;
    }

    /// An invocation ended at `now`.
    pub fn finished(&mut self, now: Instant) {
        self.running = self.running.saturating_sub(1);
        if self.running == 0 {
            self.idle_since = Some(now);
        }
    }

    /// The idle times so far.
    pub fn histogram(&self) -> &Histogram {
        &self.histogram
    }

    /// When the last invocation ended, if none runs now.
    pub fn idle_since(&self) -> Option<Instant> {
        self.idle_since
    }

    /// When the next invocation is expected under `windows`: the end of
    /// the pre-warm window, if there is one and nothing runs.
    pub fn prewarm_at(&self, windows: &Windows) -> Option<Instant> {
        if windows.prewarm.is_zero() {
            return None;
        }
        self.idle_since.map(|since| since + windows.prewarm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn hybrid(fixed: Duration, cap: Duration) -> Policy {
        Policy {
            mode: Mode::Hybrid,
            fixed,
            cap,
        }
    }

    fn histogram(idle: impl IntoIterator<Item = Duration>) -> Histogram {
        let mut h = Histogram::default();
        idle.into_iter().for_each(|d| h.record(d));
        h
    }

    #[test]
    fn modes_parse() {
        assert_eq!("fixed".parse(), Ok(Mode::Fixed));
        assert_eq!("hybrid".parse(), Ok(Mode::Hybrid));
        assert!("lru".parse::<Mode>().is_err());
    }

    #[test]
    fn too_few_samples_keep_the_fixed_window() {
        let h = histogram([MIN * 30; 9]);
        let w = hybrid(MIN * 5, RANGE).windows(&h);
        assert_eq!(w.basis, Basis::TooFewSamples);
        assert_eq!((w.prewarm, w.keep_alive), (Duration::ZERO, MIN * 5));
    }

    #[test]
    fn a_periodic_function_is_prewarmed_before_its_period() {
        // Every 30 minutes (idle times in the 30th minute's bin).
        let h = histogram([MIN * 30 + Duration::from_secs(5); 20]);
        assert!(h.cv() > CV_THRESHOLD);
        let w = hybrid(MIN * 5, RANGE).windows(&h);
        assert_eq!(w.basis, Basis::Histogram);
        // Head: the bin's lower edge, 30 min, less 10%; tail: its upper
        // edge, 31 min, plus 10%.
        assert_eq!(w.prewarm, MIN * 27);
        assert_eq!(w.horizon(), (MIN * 31).mul_f64(1.1));
    }

    #[test]
    fn a_frequent_function_is_kept_from_its_invocation_for_its_tail() {
        // Mostly seconds apart, one idle time of 3 minutes in 100.
        let mut idle = vec![Duration::from_secs(2); 99];
        idle.push(MIN * 3);
        let h = histogram(idle);
        let w = hybrid(Duration::from_secs(30), RANGE).windows(&h);
        assert_eq!(w.basis, Basis::Histogram);
        assert_eq!(w.prewarm, Duration::ZERO);
        // The 99th percentile is still in the first bin.
        assert_eq!(w.keep_alive, MIN.mul_f64(1.1));
        // Never shorter than the fixed window.
        let w = hybrid(MIN * 5, RANGE).windows(&h);
        assert_eq!((w.basis, w.keep_alive), (Basis::Histogram, MIN * 5));
    }

    #[test]
    fn the_tail_bin_is_where_the_99th_percentile_falls() {
        let mut idle = vec![Duration::from_secs(10); 90];
        idle.extend([MIN * 7 + Duration::from_secs(1); 10]);
        let w = hybrid(MIN * 5, RANGE).windows(&histogram(idle.clone()));
        assert_eq!(w.prewarm, Duration::ZERO);
        assert_eq!(w.keep_alive, (MIN * 8).mul_f64(1.1));
        let w = hybrid(MIN * 10, RANGE).windows(&histogram(idle));
        assert_eq!(w.keep_alive, MIN * 10);
    }

    #[test]
    fn the_cv_is_that_of_the_bin_counts() {
        // Counts 3 and 1 in two bins, 0 in the others.
        let h = histogram([MIN, MIN, MIN, MIN * 2]);
        let n = BINS as f64;
        let mean = 4.0 / n;
        let var = ((3.0 - mean).powi(2) + (1.0 - mean).powi(2) + (n - 2.0) * mean * mean) / n;
        assert!((h.cv() - var.sqrt() / mean).abs() < 1e-9);
    }

    #[test]
    fn idle_times_spread_over_the_range_show_no_pattern() {
        // One idle time in each of 240 bins: CV 0.
        let h = histogram((0..BINS as u32).map(|i| MIN * i));
        assert!(h.cv() < 1e-6);
        let w = hybrid(MIN * 5, RANGE).windows(&h);
        assert_eq!(w.basis, Basis::NoPattern);
        assert_eq!(w.keep_alive, MIN * 5);
    }

    #[test]
    fn idle_times_mostly_beyond_the_range_fall_back_to_the_fixed_window() {
        let mut idle = vec![RANGE * 2; 11];
        idle.extend([MIN; 10]);
        let h = histogram(idle);
        assert_eq!(h.samples(), 21);
        let w = hybrid(MIN * 5, RANGE).windows(&h);
        assert_eq!(w.basis, Basis::OutOfRange);
        assert_eq!(w.keep_alive, MIN * 5);
    }

    #[test]
    fn the_cap_bounds_every_window() {
        let h = histogram([MIN * 30; 20]);
        let w = hybrid(MIN * 5, MIN * 10).windows(&h);
        assert_eq!(w.basis, Basis::BeyondCap);
        assert_eq!((w.prewarm, w.keep_alive), (Duration::ZERO, MIN * 5));
        let w = hybrid(MIN * 5, MIN * 32).windows(&h);
        assert_eq!((w.prewarm, w.horizon()), (MIN * 27, MIN * 32));
        let w = hybrid(MIN * 5, MIN * 2).windows(&histogram([]));
        assert_eq!(w.keep_alive, MIN * 2);
        let fixed = Policy::fixed(MIN * 10).windows(&h);
        assert_eq!((fixed.basis, fixed.keep_alive), (Basis::Fixed, MIN * 10));
    }

    #[test]
    fn history_counts_idle_times_between_invocations_not_overlaps() {
        let t0 = Instant::now();
        let mut h = History::default();
        h.started(t0);
        h.finished(t0 + Duration::from_secs(1));
        // Two overlapping invocations: one idle time, from the end of the
        // first to the start of the second.
        h.started(t0 + MIN * 10);
        h.started(t0 + MIN * 10 + Duration::from_secs(1));
        h.finished(t0 + MIN * 10 + Duration::from_secs(2));
        assert_eq!(h.idle_since(), None);
        h.finished(t0 + MIN * 11);
        assert_eq!(h.histogram().samples(), 1);
        assert_eq!(h.idle_since(), Some(t0 + MIN * 11));
        h.started(t0 + MIN * 12);
        assert_eq!(h.histogram().samples(), 2);
    }

    #[test]
    fn the_next_invocation_is_expected_when_the_prewarm_window_closes() {
        let t0 = Instant::now();
        let mut h = History::default();
        for i in 0..12u32 {
            h.started(t0 + MIN * 30 * i);
            h.finished(t0 + MIN * 30 * i);
        }
        let w = hybrid(MIN * 5, RANGE).windows(h.histogram());
        assert_eq!(h.prewarm_at(&w), Some(t0 + MIN * 30 * 11 + w.prewarm));
        h.started(t0 + MIN * 30 * 12);
        assert_eq!(h.prewarm_at(&w), None);
        let kept = hybrid(MIN * 5, RANGE).windows(&histogram([]));
        assert_eq!(h.prewarm_at(&kept), None);
    }
}
