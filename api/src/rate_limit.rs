//! In-process rate limits for sign-in, one-time codes and the public door endpoint: a sliding
//! window of hit times per key (an email, a phone, a client address).
//!
//! Rules kept here: a refused hit is not recorded, so a caller who waits `Retry-After` gets
//! through; the limits are per api process (several processes multiply them, which is still a
//! bound; the one-time-code table adds a database-wide limit per phone); keys whose window has
//! passed are dropped when the map grows, so memory stays bounded by the active callers.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

use crate::config::Settings;
use crate::error::ApiError;

/// Keys kept before idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// At most `max` hits within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

/// One sliding-window limiter over many keys.
#[derive(Debug)]
pub struct RateLimiter {
    limit: Limit,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(limit: Limit) -> Self {
        RateLimiter {
            limit,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records a hit for `key`, or answers how long to wait when the key is at its limit.
    pub fn hit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.apply(key, now, true)
    }

    /// Whether a hit would pass, without recording one (limits that count failures only).
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.apply(key, now, false)
    }

    fn apply(&self, key: &str, now: Instant, record: bool) -> Result<(), Duration> {
        let window = self.limit.window;
        let mut map = self
            .hits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let queue = map.entry(key.to_owned()).or_default();
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            queue.pop_front();
        }
        if queue.len() >= usize::try_from(self.limit.max).unwrap_or(usize::MAX) {
            let oldest = queue.front().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.duration_since(oldest)));
        }
        if record {
            queue.push_back(now);
        }
        Ok(())
    }
}

/// The limiters of one api process.
#[derive(Debug)]
pub struct RateLimits {
    /// Sign-in attempts per client address (all attempts).
    pub login_address: RateLimiter,
    /// Failed sign-ins per email.
    pub login_account: RateLimiter,
    /// One-time-code requests and verifications per client address.
    pub otp_address: RateLimiter,
    /// Codes sent per phone.
    pub otp_phone: RateLimiter,
    /// Public door look-ups per client address (account numbers are not secrets, but they
    /// should not be enumerable quickly).
    pub public_address: RateLimiter,
}

impl RateLimits {
    pub fn new(s: &Settings) -> Self {
        let window = Duration::from_secs(s.rate_limit_window_secs.max(1));
        let limit = |max: u32| RateLimiter::new(Limit { max, window });
        RateLimits {
            login_address: limit(s.rate_limit_per_address),
            login_account: limit(s.rate_limit_per_account),
            otp_address: limit(s.rate_limit_per_address),
            otp_phone: limit(s.otp_sends_per_phone),
            public_address: limit(s.rate_limit_per_address.saturating_mul(4)),
        }
    }
}

/// `429 rate_limited` with `Retry-After` in whole seconds (at least 1).
pub fn limited(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests {
        code: "rate_limited",
        detail: "too many attempts; try again later".to_owned(),
        retry_after_secs: secs.max(1),
    }
}

/// Applies `limiter.hit(key)`, mapping a refusal to [`limited`].
pub fn hit(limiter: &RateLimiter, key: &str) -> Result<(), ApiError> {
    limiter.hit(key, Instant::now()).map_err(limited)
}

/// The caller's address: the TCP peer, or the proxy's `X-Forwarded-For`/`Forwarded` when the
/// deployment says a trusted proxy sets it (otherwise a client could pick its own key).
pub fn client_address(req: &HttpRequest, trust_forwarded: bool) -> String {
    if trust_forwarded {
        if let Some(ip) = req.connection_info().realip_remote_addr() {
            return ip.to_owned();
        }
    }
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_and_recovers_after_the_window() {
        let l = RateLimiter::new(Limit {
            max: 2,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        assert!(l.hit("a", t0).is_ok());
        assert!(l.hit("a", t0 + Duration::from_secs(10)).is_ok());
        let wait = l.hit("a", t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        // Another key is not affected; a refused hit was not recorded.
        assert!(l.hit("b", t0 + Duration::from_secs(20)).is_ok());
        assert!(l.hit("a", t0 + Duration::from_secs(60)).is_ok());
        assert!(l.check("a", t0 + Duration::from_secs(61)).is_err());
        assert!(l.check("a", t0 + Duration::from_secs(70)).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = limited(Duration::from_millis(1500))
        else {
            panic!("not a 429");
        };
        assert_eq!(retry_after_secs, 2);
    }
}
