//! What every handler shares, and the bridge to blocking database work.

use super::problem::ApiError;
use crate::config::Settings;
use crate::db::{write_tx, Conn, Database, WriteConn};
use crate::domain::Channel;
use crate::error::{AppError, AppResult};
use crate::intake::AfterCreate;
use actix_web::web;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

pub struct AppState {
    /// The pool and the app's clock.
    pub db: Database,
    /// Where reports read (`database.read_url`'s replica, else `db`).
    pub report_db: Database,
    pub settings: Settings,
    /// Per-client-IP budget for the token-less channels. Kept per process: a
    /// coarse guard against bots, not an exact quota.
    pub public_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Per-client-IP budget of failed bearer tokens.
    pub failed_tokens: super::auth::FailedTokenThrottle,
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> Self {
        let per_minute =
            NonZeroU32::new(settings.intake.public_requests_per_minute).expect("validated");
        let burst = NonZeroU32::new(settings.intake.public_burst).expect("validated");
        let limiter = RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst));
        let failed_tokens = super::auth::FailedTokenThrottle::new(
            Quota::per_minute(settings.server.failed_token_attempts_per_minute)
                .allow_burst(settings.server.failed_token_burst),
        );
        AppState {
            report_db: db.clone(),
            db,
            settings,
            public_limiter: Arc::new(limiter),
            failed_tokens,
        }
    }

    /// Reports read from `report_db` (a replica) instead of the primary.
    pub fn with_report_reads(mut self, report_db: Database) -> Self {
        self.report_db = report_db;
        self
    }

    /// Spends one unit of `ip`'s public budget.
    pub fn check_public_rate(&self, ip: IpAddr) -> AppResult<()> {
        if self.public_limiter.len() > 100_000 {
            self.public_limiter.retain_recent();
        }
        self.public_limiter.check_key(&ip).map_err(|_| {
            AppError::TooManyRequests(
                "too many requests from your address; wait a minute and try again".into(),
            )
        })
    }
}

/// The acknowledgement mail for tickets opened on `channel`, as a step of
/// their transaction, when `intake.acknowledge_channels` names it.
pub fn acknowledgement(
    state: &web::Data<AppState>,
    channel: Channel,
) -> Option<Box<AfterCreate<'static>>> {
    if !state
        .settings
        .intake
        .acknowledge_channels
        .contains(&channel)
    {
        return None;
    }
    let state = state.clone();
    Some(Box::new(move |conn, created| {
        crate::email::acknowledgement::send(
            conn,
            &state.settings,
            &crate::email::acknowledgement::New {
                ticket: &created.ticket,
                new_customer: created.new_customer,
                access_token: created.access_token.as_deref(),
                thread: Vec::new(),
            },
        )
        .map(|event| vec![event])
    }))
}

/// Runs diesel work on the blocking pool with a pooled connection.
pub async fn run_db<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> AppResult<T> + Send + 'static,
{
    run_on_database(state, move |db| work(&mut db.get()?)).await
}

/// Runs a report's reads on the blocking pool, on the report database.
pub async fn run_report<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> AppResult<T> + Send + 'static,
{
    let db = state.report_db.clone();
    blocking(move || work(&mut db.get()?)).await
}

async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> AppResult<T> + Send + 'static,
{
    web::block(work)
        .await
        .map_err(|e| ApiError(AppError::failed("a blocking task failed", e)))?
        .map_err(ApiError)
}

/// Runs diesel work on the blocking pool with the database itself, for
/// work that takes several connections (a recompute's workers).
pub async fn run_on_database<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Database) -> AppResult<T> + Send + 'static,
{
    let db = state.db.clone();
    blocking(move || work(&db)).await
}

/// Runs a write on the blocking pool in one write transaction: what the
/// body writes commits together, or nothing does.
pub async fn run_write<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut WriteConn<'_>) -> AppResult<T> + Send + 'static,
{
    run_db(state, move |conn| write_tx(conn, work)).await
}
