//! `/api/v1/tickets`: intake, listing, reading, changing, conversation.

use super::auth::{BearerToken, Worker};
use super::client_key;
use super::problem::{ApiError, Problem};
use super::state::{acknowledgement, run_db, AppState};
use crate::db::models::{Customer, Ticket};
use crate::db::WriteConn;
use crate::domain::validate::Errors;
use crate::domain::{Channel, Priority, Status};
use crate::error::AppError;
use crate::intake::{self, CreateTicketRequest, Idempotency};
use crate::tickets::conversation::{self, NewMessageRequest};
use crate::tickets::query::{self, AssigneeFilter, Cursor, SlaFilter, Sort};
use crate::tickets::update::{patch_ticket, PatchAnswer, TicketPatch};
use crate::tickets::view::{EventView, MessageView, TicketPage, TicketView};
use crate::tickets::{TicketFilter, TicketRef};
use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_ticket)
        .service(list_tickets)
        .service(get_ticket)
        .service(update_ticket)
        .service(add_message)
        .service(list_messages)
        .service(list_events);
}

/// The create answer. To managers and admins, the ticket as `GET` shows it;
/// to everyone else (the public, intake tokens, vendor agents and leads) the
/// same fields with `customer` exactly as sent (`email`, `name`; no `id`),
/// never the stored customer. A replay answers what the first answer
/// showed (`{id, number}` for keys stored before Relay kept answers).
#[derive(Serialize, ToSchema)]
pub struct CreatedTicket {
    #[serde(flatten)]
    #[schema(value_type = TicketView)]
    pub ticket: Map<String, Value>,
    /// The customer's private page: only in the public (anonymous) answer
    /// that created the ticket; absent for every token and on replays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_url: Option<String>,
}

/// Create a ticket. Without a token this is the public channel (rate-limited
/// per client IP); with one, authenticated intake. Send `Idempotency-Key` so a
/// retried request never makes a second ticket. Anonymous callers may set
/// `priority`, `tags` and `custom_fields` only as far as
/// `/api/v1/intake/public-fields` allows (422 naming each other field).
#[utoipa::path(
    post, path = "/api/v1/tickets", tag = "tickets",
    request_body = CreateTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key, scoped to the token (or, without one, to the client address); the same key and body replay the first answer")),
    responses(
        (status = 201, description = "Created and committed, or replayed (`Idempotent-Replayed: true`)", body = CreatedTicket),
        (status = 404, description = "Replay by a vendor agent or lead of a ticket they can no longer see", body = Problem),
        (status = 422, description = "Invalid fields, or fields the public channel may not set", body = Problem),
        (status = 429, description = "Too many public requests", body = Problem),
    )
)]
#[post("/api/v1/tickets")]
async fn create_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: BearerToken,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Anonymous callers are budgeted, and their idempotency keys scoped, by address.
    let anonymous_client = token.0.is_none().then(|| client_key(&req, &state.settings));
    if let Some(client) = anonymous_client {
        state.check_public_rate(client)?;
    }
    let request: CreateTicketRequest = super::parse_json(&body)?;
    let idempotency_key = match req.headers().get("idempotency-key") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| {
                    AppError::BadRequest("the Idempotency-Key header must be visible ASCII".into())
                })?
                .to_string(),
        ),
        None => None,
    };
    let client = anonymous_client
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    // Intake is the hottest path: the token is checked on the connection
    // that then creates the ticket.
    let acknowledge = acknowledgement(&state, Channel::Api);
    let default_queue = state.settings.routing.default_queue.clone();
    let receipt = run_db(&state, move |conn| {
        let caller = token.authenticate(conn)?;
        let idempotency = idempotency_key
            .map(|key| Idempotency::new(caller.as_ref(), &client, &key, &body))
            .transpose()?;
        intake::receive(
            conn,
            request,
            caller.as_ref(),
            idempotency,
            acknowledge.as_deref(),
            default_queue,
        )
    })
    .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((
        header::LOCATION,
        format!("/api/v1/tickets/{}", receipt.ticket_id),
    ));
    if let Some(version) = receipt.version() {
        response.insert_header((header::ETAG, format!("\"{version}\"")));
    }
    if receipt.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    let base = state.settings.server.public_base_url.trim_end_matches('/');
    Ok(response.json(CreatedTicket {
        access_url: receipt.access_token.map(|t| format!("{base}/t/{t}")),
        ticket: receipt.shown,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Comma-separated statuses, e.g. `new,open`.
    status: Option<String>,
    /// Comma-separated priorities.
    priority: Option<String>,
    /// Queue id or slug.
    queue: Option<String>,
    /// Agent id, `me`, or `none` for unassigned.
    assignee: Option<String>,
    /// Customer email address (422 for vendors that see customers masked).
    customer: Option<String>,
    /// Text to find in the subject (case-insensitive).
    q: Option<String>,
    /// `breached` (a clock that has not stopped ran out) or `at_risk` (the
    /// earliest running due time is within `at_risk_minutes`).
    sla: Option<String>,
    /// For `sla=at_risk`: minutes ahead, 1..=10080 (default 60).
    at_risk_minutes: Option<i64>,
    /// `newest` (default) or `due` (earliest running SLA due time first,
    /// tickets without one last).
    sort: Option<String>,
    /// Page size, 1..=100 (default 25).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

pub(super) fn comma_list<T: std::str::FromStr<Err = String>>(
    errors: &mut Errors,
    field: &str,
    raw: &Option<String>,
) -> Vec<T> {
    raw.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| errors.parse(field, s))
        .collect()
}

impl ListParams {
    fn into_filter(self, caller: &crate::auth::Principal) -> Result<TicketFilter, AppError> {
        let mut errors = Errors::default();
        let statuses = comma_list::<Status>(&mut errors, "status", &self.status);
        let priorities = comma_list::<Priority>(&mut errors, "priority", &self.priority);
        let limit = self.limit.unwrap_or(25);
        if !(1..=100).contains(&limit) {
            errors.add("limit", "must be between 1 and 100");
        }
        let sort = match self.sort.as_deref() {
            None | Some("newest") => Sort::Newest,
            Some("due") => Sort::Due,
            Some(_) => {
                errors.add("sort", "must be newest or due");
                Sort::Newest
            }
        };
        let at_risk_minutes = self.at_risk_minutes.unwrap_or(60);
        if !(1..=10_080).contains(&at_risk_minutes) {
            errors.add("at_risk_minutes", "must be between 1 and 10080");
        }
        if self.at_risk_minutes.is_some() && self.sla.as_deref() != Some("at_risk") {
            errors.add("at_risk_minutes", "goes with sla=at_risk");
        }
        let sla = match self.sla.as_deref() {
            None => None,
            Some("breached") => Some(SlaFilter::Breached),
            Some("at_risk") => Some(SlaFilter::AtRisk {
                minutes: at_risk_minutes,
            }),
            Some(_) => {
                errors.add("sla", "must be breached or at_risk");
                None
            }
        };
        let cursor = match &self.cursor {
            Some(raw) => {
                let cursor = Cursor::decode(raw).filter(|c| c.fits(sort));
                if cursor.is_none() {
                    errors.add(
                        "cursor",
                        "is not a cursor this API returned for this sort order",
                    );
                }
                cursor
            }
            None => None,
        };
        let assignee = match self.assignee.as_deref() {
            None => None,
            Some("none") => Some(AssigneeFilter::Unassigned),
            Some("me") => match &caller.agent_id {
                Some(id) => Some(AssigneeFilter::Agent(id.clone())),
                None => {
                    errors.add("assignee", "'me' needs a token that belongs to an agent");
                    None
                }
            },
            Some(id) => Some(AssigneeFilter::Agent(id.to_string())),
        };
        errors.finish()?;
        Ok(TicketFilter {
            statuses,
            priorities,
            queue: self.queue,
            assignee,
            customer_email: self.customer,
            text: self.q.filter(|q| !q.trim().is_empty()),
            sla,
            sort,
            limit,
            cursor,
        })
    }
}

/// List tickets the caller may see, newest first, one page at a time.
#[utoipa::path(
    get, path = "/api/v1/tickets", tag = "tickets", params(ListParams),
    responses((status = 200, body = TicketPage), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/tickets")]
async fn list_tickets(
    state: web::Data<AppState>,
    caller: Worker,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let filter = params.into_inner().into_filter(&principal)?;
    let page = run_db(&state, move |conn| {
        query::list_for(conn, &principal, &filter)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

fn ticket_ref(raw: &str) -> Result<TicketRef, ApiError> {
    TicketRef::parse(raw).map_err(ApiError)
}

/// Read one ticket, by id or number. The `ETag` is what `PATCH` needs in `If-Match`.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id or number")),
    responses((status = 200, body = TicketView), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/tickets/{id}")]
async fn get_ticket(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let reference = ticket_ref(&id)?;
    let ticket = run_db(&state, move |conn| {
        query::read(conn, &principal, &reference)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, ticket.etag()))
        .json(ticket))
}

/// The version a client read, from `If-Match: "7"` (a weak `W/"7"` is accepted too).
fn expected_version(req: &HttpRequest) -> Result<i32, AppError> {
    let raw = req.headers().get(header::IF_MATCH).ok_or_else(|| {
        AppError::PreconditionRequired(
            "send If-Match with the ETag you read, e.g. If-Match: \"3\"".into(),
        )
    })?;
    raw.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            AppError::PreconditionFailed("If-Match does not name a version of this ticket".into())
        })
}

/// Change status, priority, queue, assignee, tags, custom fields or subject.
/// A vendor agent or lead may hand a ticket to another vendor's queue by
/// that queue's id (never its slug) and without naming an assignee; since
/// the ticket then leaves the caller's sight, the answer is only
/// `{id, number, version, handed_off: true}`.
#[utoipa::path(
    patch, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path), ("If-Match" = String, Header, description = "The ETag you read")),
    request_body = TicketPatch,
    responses(
        (status = 200, description = "The changed ticket, or `{id, number, version, handed_off: true}` after a hand-off out of the caller's vendor", body = PatchAnswer),
        (status = 412, description = "Someone changed the ticket since you read it", body = Problem),
        (status = 428, description = "If-Match missing", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/tickets/{id}")]
async fn update_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Worker,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let reference = ticket_ref(&id)?;
    let patch: TicketPatch = super::parse_json(&body)?;
    let version = expected_version(&req)?;
    let (answer, etag) = run_db(&state, move |conn| {
        let answer = patch_ticket(conn, &principal, &reference, version, &patch)?;
        let etag = answer.etag();
        Ok((answer, etag))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .json(answer))
}

/// Add a public reply (to the customer) or an internal note.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/messages", tag = "tickets",
    params(("id" = String, Path)),
    request_body = NewMessageRequest,
    responses((status = 201, body = MessageView), (status = 409, description = "Ticket closed", body = Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/tickets/{id}/messages")]
async fn add_message(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let reference = ticket_ref(&id)?;
    let request: NewMessageRequest = super::parse_json(&body)?;
    let shared = state.clone();
    let (message, ticket) = run_db(&state, move |conn| {
        let mail_reply =
            |w: &mut WriteConn<'_>, ticket: &Ticket, customer: &Customer, body: &str| {
                crate::email::compose::agent_reply(w, &shared.settings, ticket, customer, body)
            };
        conversation::add_agent_message(conn, &mail_reply, &principal, &reference, &request)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, ticket.etag()))
        .json(message))
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/messages", tag = "tickets",
    params(("id" = String, Path)),
    responses((status = 200, body = [MessageView])),
    security(("bearer" = []))
)]
#[get("/api/v1/tickets/{id}/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let reference = ticket_ref(&id)?;
    let messages = run_db(&state, move |conn| {
        conversation::list_messages(conn, &principal, &reference)
    })
    .await?;
    Ok(HttpResponse::Ok().json(messages))
}

/// The ticket's audit trail, oldest first.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = String, Path)),
    responses((status = 200, body = [EventView])),
    security(("bearer" = []))
)]
#[get("/api/v1/tickets/{id}/events")]
async fn list_events(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let reference = ticket_ref(&id)?;
    let events = run_db(&state, move |conn| {
        conversation::list_events(conn, &principal, &reference)
    })
    .await?;
    Ok(HttpResponse::Ok().json(events))
}
