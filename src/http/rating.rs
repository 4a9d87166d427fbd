//! The customer's rating page, `/rate/{token}` (the link of the survey
//! mail): works without JavaScript. The mail's Good and Bad links open it
//! with that choice made; the customer sends it with one click (a GET
//! never records a rating, since mail scanners follow links), may add a
//! comment, and may come back to change it while the link is valid.

use super::client_key;
use super::form_body::FormBody;
use super::problem::ApiError;
use super::state::{run_db, AppState};
use super::support::{error_page, html};
use crate::domain::validate::FieldError;
use crate::error::AppError;
use crate::tickets::satisfaction::{self, SurveyPage};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

/// The largest rating form: a rating and a comment of 2,000 characters
/// (up to four bytes each, percent-encoded) fit well within it.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(rating_page).service(send_rating);
}

#[derive(Template)]
#[template(path = "rate.html")]
struct RatePage {
    token: String,
    number: i64,
    subject: String,
    /// The stored rating.
    current: Option<String>,
    /// The choice shown selected: the link's, the form's, or the stored one.
    chosen: String,
    comment: String,
    expires: String,
    expired: bool,
    saved: bool,
    errors: Vec<FieldError>,
}

impl RatePage {
    fn of(token: String, survey: SurveyPage, chosen: Option<&str>) -> RatePage {
        let current = survey.rating.map(|r| r.as_str().to_string());
        RatePage {
            token,
            number: survey.number,
            subject: survey.subject,
            chosen: chosen
                .map(str::to_string)
                .or_else(|| current.clone())
                .unwrap_or_default(),
            current,
            comment: survey.comment.unwrap_or_default(),
            expires: survey
                .expires_at
                .format("%e %B %Y")
                .to_string()
                .trim()
                .to_string(),
            expired: survey.expired,
            saved: false,
            errors: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct Choice {
    rating: Option<String>,
}

#[get("/rate/{token}")]
async fn rating_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    choice: web::Query<Choice>,
) -> HttpResponse {
    if let Err(e) = state.check_public_rate(client_key(&req, &state.settings)) {
        return error_page(&e);
    }
    let token = token.into_inner();
    let lookup = token.clone();
    let found = run_db(&state, move |conn| {
        let now = conn.now();
        satisfaction::survey(conn, &lookup, now)
    })
    .await;
    match found {
        Ok(survey) => {
            let status = if survey.expired {
                StatusCode::GONE
            } else {
                StatusCode::OK
            };
            let chosen = choice
                .rating
                .as_deref()
                .filter(|r| matches!(*r, "good" | "bad"));
            html(status, &RatePage::of(token, survey, chosen))
        }
        Err(ApiError(e)) => error_page(&e),
    }
}

#[post("/rate/{token}")]
async fn send_rating(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let settings = &state.settings;
    if let Err(e) = state.check_public_rate(client_key(&req, settings)) {
        return error_page(&e);
    }
    let token = token.into_inner();
    let form = match FormBody::read(&req, payload, MAX_FORM_BYTES).await {
        Ok(form) => form,
        Err(e) => return error_page(&e),
    };
    let (rating, comment) = (
        form.text("rating").to_string(),
        form.text("comment").to_string(),
    );
    let (rate_token, rate_rating, rate_comment) = (token.clone(), rating.clone(), comment.clone());
    let rated = run_db(&state, move |conn| {
        crate::db::write_tx(conn, |w| {
            satisfaction::rate(w, &rate_token, &rate_rating, &rate_comment)
        })
    })
    .await;
    match rated {
        Ok(survey) => {
            let mut page = RatePage::of(token, survey, None);
            page.saved = true;
            html(StatusCode::OK, &page)
        }
        Err(ApiError(AppError::Validation(errors))) => {
            // The page again, with what they sent and why it was refused.
            let lookup = token.clone();
            let survey = run_db(&state, move |conn| {
                let now = conn.now();
                satisfaction::survey(conn, &lookup, now)
            })
            .await;
            match survey {
                Ok(survey) => {
                    let mut page = RatePage::of(token, survey, Some(rating.as_str()));
                    page.comment = comment;
                    page.errors = errors;
                    html(StatusCode::UNPROCESSABLE_ENTITY, &page)
                }
                Err(ApiError(e)) => error_page(&e),
            }
        }
        Err(ApiError(e)) => error_page(&e),
    }
}
