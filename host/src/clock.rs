//! The one clock every host-side wait goes through (rate-limit pauses, backoff, pacing).
//!
//! Owns time scaling: `SOURCE_INSTAGRAM_TIME_SCALE=N` makes every wait N times shorter in real
//! time while all accounting (caps, logs, `quota_reset`) stays in nominal time, so fault tests
//! run in seconds. It must not be used for `emitted_at` (real time, see `protocol`).

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    scale: f64,
}

impl Clock {
    pub fn real_time() -> Clock {
        Clock { scale: 1.0 }
    }

    /// A clock that runs `scale` times faster than real time.
    pub fn scaled(scale: f64) -> Clock {
        Clock { scale: if scale.is_finite() && scale >= 1.0 { scale } else { 1.0 } }
    }

    /// The real clock, or a faster one when `SOURCE_INSTAGRAM_TIME_SCALE` is set (tests).
    pub fn from_env() -> Clock {
        std::env::var("SOURCE_INSTAGRAM_TIME_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Clock::scaled)
            .unwrap_or_else(Clock::real_time)
    }

    /// The real time a nominal wait takes.
    pub fn real(&self, nominal: Duration) -> Duration {
        nominal.div_f64(self.scale)
    }

    /// The nominal time a real duration stands for.
    pub fn nominal(&self, real: Duration) -> Duration {
        real.mul_f64(self.scale)
    }

    /// Wait for `nominal` (scaled down in tests).
    pub async fn sleep(&self, nominal: Duration) {
        if nominal.is_zero() {
            return;
        }
        tokio::time::sleep(nominal.div_f64(self.scale)).await;
    }
}
