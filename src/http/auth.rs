//! Bearer-token extractors.

use super::problem::ApiError;
use super::state::{run_db, AppState};
use crate::auth::{authenticate, Principal};
use crate::error::AppError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

/// An authenticated caller; requests without a valid token get 401.
pub struct Caller(pub Principal);

/// The bearer token as sent, not yet checked: for hot paths that
/// authenticate on the same connection as their own work (one pool checkout
/// and one blocking hop instead of two).
pub struct BearerToken(pub Option<String>);

impl BearerToken {
    /// Resolves the token on `conn`; `None` when none was sent.
    pub fn authenticate(
        &self,
        conn: &mut crate::db::DbConnection,
    ) -> Result<Option<Principal>, AppError> {
        self.0
            .as_deref()
            .map(|token| authenticate(conn, token))
            .transpose()
    }
}

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(bearer(req).map(BearerToken).map_err(ApiError))
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
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("app state is registered")
        .clone();
    run_db(&state, move |conn| authenticate(conn, &token))
        .await
        .map(Some)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve(req).await?.map(Caller).ok_or_else(|| {
                AppError::Unauthorized("this endpoint needs 'Authorization: Bearer <token>'".into())
                    .into()
            })
        })
    }
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
            principal.require(crate::domain::Role::works_tickets)?;
            Ok(Worker(principal))
        })
    }
}
