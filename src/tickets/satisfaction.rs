//! Customers' ratings of solved tickets, through the survey link mailed
//! by `email::satisfaction`: one rating per ticket, which a later one
//! replaces while the link is valid; each is recorded as
//! `satisfaction.rated` through the ticket seam.

use super::change;
use super::view::TicketView;
use crate::auth::hash_secret;
use crate::db::models::{CsatSurvey, Ticket};
use crate::db::schema::{csat_surveys, tickets};
use crate::db::{lock_and_load_ticket, DbConnection, WriteConn};
use crate::domain::event::{EventData, Satisfaction};
use crate::domain::validate::Errors;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// The longest comment, in characters.
pub const MAX_COMMENT: usize = 2000;

/// A ticket's rating as staff see it on the ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rating {
    pub rating: Satisfaction,
    pub comment: Option<String>,
    pub rated_at: DateTime<Utc>,
}

/// What the rating page shows.
#[derive(Debug, Clone)]
pub struct SurveyPage {
    pub number: i64,
    pub subject: String,
    pub rating: Option<Satisfaction>,
    pub comment: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The link no longer takes ratings.
    pub expired: bool,
}

fn survey_of(conn: &mut DbConnection, token: &str) -> AppResult<(CsatSurvey, i64, String)> {
    csat_surveys::table
        .inner_join(tickets::table)
        .filter(csat_surveys::token_hash.eq(hash_secret(token)))
        .select((CsatSurvey::as_select(), tickets::number, tickets::subject))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("survey"))
}

fn page(survey: CsatSurvey, number: i64, subject: String, now: NaiveDateTime) -> SurveyPage {
    SurveyPage {
        number,
        subject,
        rating: survey.rating.as_deref().and_then(|r| r.parse().ok()),
        comment: survey.comment,
        expires_at: survey.expires_at.and_utc(),
        expired: survey.expires_at <= now,
    }
}

/// The survey behind a link (404 for a token that is none).
pub fn survey(conn: &mut DbConnection, token: &str, now: NaiveDateTime) -> AppResult<SurveyPage> {
    let (survey, number, subject) = survey_of(conn, token)?;
    Ok(page(survey, number, subject, now))
}

/// Records the customer's rating (replacing an earlier one): 404 for an
/// unknown link, 409 for an expired one, 422 for a bad rating or comment;
/// nothing changes on any of them.
pub fn rate(
    conn: &mut WriteConn<'_>,
    token: &str,
    rating: &str,
    comment: &str,
) -> AppResult<SurveyPage> {
    let mut errors = Errors::default();
    let comment = errors.optional_text("comment", Some(comment), MAX_COMMENT);
    let Ok(rating) = rating.parse::<Satisfaction>() else {
        errors.add("rating", "choose good or bad");
        return Err(AppError::Validation(errors.0));
    };
    errors.finish().map_err(AppError::Validation)?;
    let now = conn.now();
    let (survey, number, subject) = survey_of(conn, token)?;
    if survey.expires_at <= now {
        return Err(AppError::Conflict("this rating link has expired".into()));
    }
    let mut ticket: Ticket = lock_and_load_ticket(conn, &survey.ticket_id)?;
    diesel::update(csat_surveys::table.find(&survey.ticket_id))
        .set((
            csat_surveys::rating.eq(rating.as_str()),
            csat_surveys::comment.eq(&comment),
            csat_surveys::rated_at.eq(now),
        ))
        .execute(&mut **conn)?;
    change::update(
        conn,
        &mut ticket,
        change::SYSTEM_ACTOR,
        vec![EventData::SatisfactionRated {
            rating,
            comment: comment.clone(),
        }],
    )?;
    let rated = CsatSurvey {
        rating: Some(rating.as_str().to_string()),
        comment,
        rated_at: Some(now),
        ..survey
    };
    Ok(page(rated, number, subject, now))
}

/// Fills each view's `satisfaction` from the surveys, in one query.
pub fn attach_ratings(conn: &mut DbConnection, views: &mut [TicketView]) -> AppResult<()> {
    if views.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
    let rated: Vec<CsatSurvey> = csat_surveys::table
        .filter(csat_surveys::ticket_id.eq_any(ids))
        .filter(csat_surveys::rated_at.is_not_null())
        .select(CsatSurvey::as_select())
        .load(conn)?;
    for survey in rated {
        let rating = survey.rating.as_deref().and_then(|r| r.parse().ok());
        let (Some(rating), Some(rated_at)) = (rating, survey.rated_at) else {
            continue;
        };
        if let Some(view) = views.iter_mut().find(|v| v.id == survey.ticket_id) {
            view.satisfaction = Some(Rating {
                rating,
                comment: survey.comment,
                rated_at: rated_at.and_utc(),
            });
        }
    }
    Ok(())
}
