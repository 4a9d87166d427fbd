//! Bearer-token extractors, and the throttle on guessing tokens.

use super::problem::ApiError;
use super::state::{run_db, AppState};
use crate::auth::{authenticate, authenticate_for_queue, ActingAgent, Principal, QueueWithMasking};
use crate::db::Conn;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

type Instant = <DefaultClock as Clock>::Instant;

/// Failed bearer tokens allowed per client address. Once an address has
/// spent its budget, its requests with a token are refused (429) before any
/// database lookup until the budget refills, whether the token is good or
/// not: telling them apart is the lookup being saved. Kept per process, like
/// the public limiter.
pub struct FailedTokenThrottle {
    budget: RateLimiter<
        IpAddr,
        DefaultKeyedStateStore<IpAddr>,
        DefaultClock,
        StateInformationMiddleware,
    >,
    /// Addresses out of budget, and when their next attempt may go through.
    refused_until: Mutex<HashMap<IpAddr, Instant>>,
}

/// Past this many tracked addresses, forgotten ones are dropped.
const TRACKED_ADDRESSES: usize = 100_000;

impl FailedTokenThrottle {
    pub fn new(quota: Quota) -> Self {
        FailedTokenThrottle {
            budget: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            refused_until: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses an address that is out of budget.
    pub fn check(&self, ip: IpAddr) -> AppResult<()> {
        let now = self.budget.clock().now();
        let refused = self.refused().get(&ip).is_some_and(|until| *until > now);
        if refused {
            Err(AppError::TooManyRequests(
                "too many invalid bearer tokens from your address; wait a minute and try again"
                    .into(),
            ))
        } else {
            Ok(())
        }
    }

    /// Spends one unit of `ip`'s budget; the one that empties it starts the
    /// refusal.
    pub fn record_failure(&self, ip: IpAddr) {
        let now = self.budget.clock().now();
        let next_allowed = match self.budget.check_key(&ip) {
            Ok(state) if state.remaining_burst_capacity() > 0 => None,
            Ok(state) => Some(now + Nanos::from(state.quota().replenish_interval())),
            Err(not_until) => Some(not_until.earliest_possible()),
        };
        let mut refused = self.refused();
        if refused.len() > TRACKED_ADDRESSES {
            refused.retain(|_, until| *until > now);
            self.budget.retain_recent();
        }
        match next_allowed {
            Some(until) => refused.insert(ip, until),
            None => refused.remove(&ip),
        };
    }

    fn refused(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        // The map holds only deadlines, so one left by a panicking thread is
        // still sound.
        self.refused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A token presented from one address: its failure counts against that
/// address.
struct Attempt {
    state: web::Data<AppState>,
    ip: IpAddr,
}

impl Attempt {
    /// Refuses at once when the address is out of budget.
    fn start(req: &HttpRequest) -> AppResult<Self> {
        let state = app_state(req);
        let ip = super::client_key(req, &state.settings);
        state.failed_tokens.check(ip)?;
        Ok(Attempt { state, ip })
    }

    fn authenticate(&self, conn: &mut Conn, token: &str) -> AppResult<Principal> {
        self.counted(authenticate(conn, token))
    }

    /// A refused token spends the address's budget.
    fn counted<T>(&self, outcome: AppResult<T>) -> AppResult<T> {
        if matches!(outcome, Err(AppError::Unauthorized(_))) {
            self.state.failed_tokens.record_failure(self.ip);
        }
        outcome
    }
}

fn app_state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .expect("app state is registered")
        .clone()
}

/// An authenticated caller; requests without a valid token get 401.
pub struct Caller(pub Principal);

/// The bearer token as sent, not yet checked: for hot paths that
/// authenticate on the same connection as their own work (one pool checkout
/// and one blocking hop instead of two). Extracting it already refuses an
/// address that is out of its failed-token budget.
pub struct BearerToken(pub Option<String>, Option<Attempt>);

impl BearerToken {
    /// Resolves the token on `conn`; `None` when none was sent.
    pub fn authenticate(&self, conn: &mut Conn) -> Result<Option<Principal>, AppError> {
        match (&self.0, &self.1) {
            (Some(token), Some(attempt)) => attempt.authenticate(conn, token).map(Some),
            _ => Ok(None),
        }
    }

    /// A caller who works tickets (not the intake role), with the agent
    /// the token acts for and the queue `queue_ref`, read together (see
    /// [`authenticate_for_queue`]); 401 when no token was sent.
    pub fn authenticate_worker_for_queue(
        &self,
        conn: &mut Conn,
        queue_ref: &str,
    ) -> AppResult<(Principal, Option<ActingAgent>, Option<QueueWithMasking>)> {
        let (Some(token), Some(attempt)) = (&self.0, &self.1) else {
            return Err(missing_token());
        };
        let found = attempt.counted(authenticate_for_queue(conn, token, queue_ref))?;
        found.0.require(Role::works_tickets)?;
        Ok(found)
    }

    fn from_request_now(req: &HttpRequest) -> AppResult<Self> {
        let Some(token) = bearer(req)? else {
            return Ok(BearerToken(None, None));
        };
        Ok(BearerToken(Some(token), Some(Attempt::start(req)?)))
    }
}

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(BearerToken::from_request_now(req).map_err(ApiError))
    }
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        AppError::Unauthorized("the Authorization header is not readable text".into())
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(AppError::Unauthorized(
            "use 'Authorization: Bearer <token>'".into(),
        )),
    }
}

async fn resolve(req: HttpRequest) -> Result<Option<Principal>, ApiError> {
    let Some(token) = bearer(&req)? else {
        return Ok(None);
    };
    let attempt = Attempt::start(&req)?;
    let state = attempt.state.clone();
    run_db(&state, move |conn| attempt.authenticate(conn, &token))
        .await
        .map(Some)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve(req)
                .await?
                .map(Caller)
                .ok_or_else(|| missing_token().into())
        })
    }
}

fn missing_token() -> AppError {
    AppError::Unauthorized("this endpoint needs 'Authorization: Bearer <token>'".into())
}

/// A caller who works tickets: any role except the intake machine role.
pub struct Worker(pub Principal);

impl FromRequest for Worker {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let Caller(principal) = caller.await?;
            principal.require(Role::works_tickets)?;
            Ok(Worker(principal))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn address(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn an_address_is_refused_once_its_failures_spend_the_budget() {
        let throttle = FailedTokenThrottle::new(
            Quota::per_minute(NonZeroU32::new(1).unwrap()).allow_burst(NonZeroU32::new(3).unwrap()),
        );
        for _ in 0..2 {
            throttle.record_failure(address(1));
            assert!(throttle.check(address(1)).is_ok());
        }
        throttle.record_failure(address(1));
        assert!(matches!(
            throttle.check(address(1)),
            Err(AppError::TooManyRequests(_))
        ));
        assert!(throttle.check(address(2)).is_ok(), "other addresses go on");
    }

    #[test]
    fn a_refused_address_may_try_again_when_its_budget_refills() {
        let throttle = FailedTokenThrottle::new(
            Quota::per_second(NonZeroU32::new(20).unwrap())
                .allow_burst(NonZeroU32::new(1).unwrap()),
        );
        throttle.record_failure(address(1));
        assert!(throttle.check(address(1)).is_err());
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert!(throttle.check(address(1)).is_ok());
        // The refilled unit is spent by the next failure.
        throttle.record_failure(address(1));
        assert!(throttle.check(address(1)).is_err());
    }
}
