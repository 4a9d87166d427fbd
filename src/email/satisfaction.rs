//! Satisfaction surveys: when a ticket is solved, its customer is mailed
//! a link to rate it (good or bad, with an optional comment).
//!
//! A pass looks for tickets solved within `satisfaction.request_within_hours`
//! that have no survey yet, and for each, in one transaction: locks the
//! ticket (still solved?), writes its survey (the ticket id is the key, so
//! of two processes only one writes it), mails the link through the outbox
//! and records `satisfaction.requested` through the ticket seam. The link's
//! token is a secret kept only as its hash, like the private ticket link.

use super::ingest::reply_addresses;
use super::outbox::{self, OutgoingKind, OutgoingMail};
use crate::auth::{generate_secret, hash_secret};
use crate::config::Settings;
use crate::db::models::{CsatSurvey, Customer};
use crate::db::schema::{csat_surveys, customers, queues, tickets};
use crate::db::{lock_and_load_ticket, write_tx, Conn, WriteConn};
use crate::domain::event::EventData;
use crate::domain::Status;
use crate::error::{AppError, AppResult};
use crate::tickets::change::{self, SYSTEM_ACTOR};
use askama::Template;
use chrono::Duration;
use diesel::prelude::*;

/// Tickets one pass surveys at most (the rest wait for the next pass).
const PER_PASS: i64 = 200;

/// Surveys the tickets solved since the last pass; how many were mailed.
pub fn request_due(conn: &mut Conn, settings: &Settings) -> AppResult<usize> {
    if !settings.satisfaction.enabled {
        return Ok(0);
    }
    let now = conn.now();
    let since = now - Duration::hours(i64::from(settings.satisfaction.request_within_hours));
    // NOT EXISTS, not NOT IN: an anti-join on the survey's key, however
    // many surveys there are.
    let surveyed = csat_surveys::table.filter(csat_surveys::ticket_id.eq(tickets::id));
    let due: Vec<String> = tickets::table
        .filter(tickets::status.eq(Status::Solved.as_str()))
        .filter(tickets::solved_at.ge(since))
        .filter(diesel::dsl::not(diesel::dsl::exists(surveyed)))
        .order(tickets::solved_at.asc())
        .select(tickets::id)
        .limit(PER_PASS)
        .load(&mut **conn)?;
    let mut mailed = 0;
    for ticket_id in due {
        if write_tx(conn, |w| request(w, settings, &ticket_id))? {
            mailed += 1;
        }
    }
    Ok(mailed)
}

/// Surveys one ticket, unless it was re-opened or surveyed meanwhile.
fn request(conn: &mut WriteConn<'_>, settings: &Settings, ticket_id: &str) -> AppResult<bool> {
    let mut ticket = lock_and_load_ticket(conn, ticket_id)?;
    if ticket.status != Status::Solved.as_str() {
        return Ok(false);
    }
    let now = conn.now();
    let token = generate_secret();
    let expires_at = now + Duration::days(i64::from(settings.satisfaction.valid_days));
    let vendor_id = match &ticket.queue_id {
        Some(queue) => queues::table
            .find(queue)
            .select(queues::vendor_id)
            .first::<String>(&mut **conn)
            .optional()?,
        None => None,
    };
    let survey = CsatSurvey {
        ticket_id: ticket.id.clone(),
        token_hash: hash_secret(&token),
        requested_at: now,
        expires_at,
        agent_id: ticket.assignee_id.clone(),
        queue_id: ticket.queue_id.clone(),
        vendor_id,
        rating: None,
        comment: None,
        rated_at: None,
    };
    if crate::insert_ignoring_conflicts!(conn, csat_surveys::table, &survey)? == 0 {
        return Ok(false);
    }
    let customer: Customer = customers::table
        .find(&ticket.customer_id)
        .select(Customer::as_select())
        .first(&mut **conn)?;
    let base = settings.server.public_base_url.trim_end_matches('/');
    let link = |rating: &str| format!("{base}/rate/{token}?rating={rating}");
    let (good_link, bad_link) = (link("good"), link("bad"));
    let expires = expires_at.format("%e %B %Y").to_string();
    let content = Survey {
        customer_name: customer.name.as_deref(),
        number: ticket.number,
        subject: &ticket.subject,
        good_link: &good_link,
        bad_link: &bad_link,
        expires: expires.trim(),
        from_name: &settings.email.from_name,
    };
    let html = SurveyHtml { inner: &content };
    let render = |e: askama::Error| AppError::failed("the satisfaction template", e);
    let replies = reply_addresses(conn, settings)?;
    let queued = outbox::enqueue(
        conn,
        settings,
        &replies,
        OutgoingMail {
            ticket_id: ticket.id.clone(),
            ticket_number: ticket.number,
            kind: OutgoingKind::Notification,
            to: customer.email.clone(),
            cc: Vec::new(),
            subject: ticket.subject.clone(),
            body_text: content.render().map_err(render)?,
            body_html: Some(html.render().map_err(render)?),
            thread: Vec::new(),
            automatic: true,
        },
    )?;
    change::update(
        conn,
        &mut ticket,
        SYSTEM_ACTOR,
        vec![EventData::SatisfactionRequested {
            outbox_id: queued.outbox_id,
            to: customer.email,
            expires_at: expires_at.and_utc(),
        }],
    )?;
    Ok(true)
}

#[derive(Template)]
#[template(path = "email/satisfaction.txt")]
struct Survey<'a> {
    customer_name: Option<&'a str>,
    number: i64,
    subject: &'a str,
    good_link: &'a str,
    bad_link: &'a str,
    expires: &'a str,
    from_name: &'a str,
}

#[derive(Template)]
#[template(path = "email/satisfaction.html")]
struct SurveyHtml<'a> {
    inner: &'a Survey<'a>,
}
