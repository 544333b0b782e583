//! Percentiles of measured durations.

use serde::Serialize;

/// Order statistics of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Summary {
    /// Sample size.
    pub n: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// The summary of `samples` (milliseconds); all zero for an empty sample.
pub fn summarise(mut samples: Vec<f64>) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        // Nearest rank: the smallest value with at least q of the sample at or below it.
        let rank = (q * samples.len() as f64).ceil() as usize;
        samples[rank.clamp(1, samples.len()) - 1]
    };
    Summary {
        n: samples.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: samples[samples.len() - 1],
        mean_ms: samples.iter().sum::<f64>() / samples.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = summarise((1..=100).map(f64::from).collect());
        assert_eq!(
            (s.n, s.p50_ms, s.p99_ms, s.max_ms),
            (100, 50.0, 99.0, 100.0)
        );
        assert!((s.mean_ms - 50.5).abs() < 1e-9);
        let one = summarise(vec![7.0]);
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
        assert_eq!(summarise(vec![]).n, 0);
    }
}
