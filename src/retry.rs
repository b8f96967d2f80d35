//! The one retry policy: exponential backoff from a first delay, by a factor, up to a cap, with an
//! optional jitter. Reconnecting watches, SSH connections and blocked evictions all use it.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    factor: f64,
    /// Up to this fraction of the delay is added, from the clock's nanoseconds (no RNG needed to keep
    /// reconnecting clients apart).
    jitter: f64,
    next: Duration,
}

impl Backoff {
    /// `first`, then x`factor` per try, capped at `max`; no jitter.
    pub fn new(first: Duration, factor: f64, max: Duration) -> Backoff {
        Backoff { first, max, factor, jitter: 0.0, next: first }
    }

    /// The same with up to `fraction` of each delay added at random.
    pub fn with_jitter(mut self, fraction: f64) -> Backoff {
        self.jitter = fraction;
        self
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// The delay before the next try; each call lengthens the one after.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.mul_f64(self.factor).min(self.max);
        if self.jitter > 0.0 {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.subsec_nanos()).unwrap_or(0);
            d + d.mul_f64(self.jitter * f64::from(nanos % 1000) / 1000.0)
        } else {
            d
        }
    }

    /// The delay after `failures` consecutive failures (1: the first delay), without keeping state.
    pub fn after(&self, failures: u32) -> Duration {
        let mut b = Backoff { next: self.first, jitter: 0.0, ..self.clone() };
        let mut d = self.first;
        for _ in 0..failures.clamp(1, 64) {
            d = b.next_delay();
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_its_factor_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(1000), 1.5, Duration::from_secs(5));
        let d: Vec<u64> = (0..6).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(d, vec![1000, 1500, 2250, 3375, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let mut b = Backoff::new(Duration::from_millis(250), 2.0, Duration::from_secs(2)).with_jitter(0.2);
        let d: Vec<Duration> = (0..6).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(250) && d[0] <= Duration::from_millis(300), "{d:?}");
        assert!(d[1] >= Duration::from_millis(500));
        assert!(d[5] >= Duration::from_secs(2) && d[5] <= Duration::from_millis(2400));
    }

    #[test]
    fn after_n_failures() {
        let b = Backoff::new(Duration::from_millis(500), 2.0, Duration::from_secs(5));
        let d: Vec<u64> = [1, 2, 3, 4, 5, 40].iter().map(|&n| b.after(n).as_millis() as u64).collect();
        assert_eq!(d, vec![500, 1000, 2000, 4000, 5000, 5000]);
    }
}
