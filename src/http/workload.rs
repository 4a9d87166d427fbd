//! The agent's working API: claim the next ticket, release one, their own
//! tickets, a queue's view, availability.

use super::auth::{BearerToken, Worker};
use super::parse_json;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use crate::error::AppError;
use crate::tickets::view::TicketView;
use crate::tickets::workload::{self, Availability, Claim, QueueTickets, ReleaseRequest};
use crate::tickets::TicketRef;
use actix_web::http::header;
use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

/// Why a claim found nothing for the caller (`off_shift`, `at_capacity`);
/// absent when the queue simply has nothing waiting.
pub const CLAIM_REASON_HEADER: &str = "relay-claim-reason";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(claim_next)
        .service(queue_tickets)
        .service(release_ticket)
        .service(my_tickets)
        .service(set_availability);
}

/// Take the most urgent waiting ticket of the queue that the caller may
/// take: 200 with the ticket (as `GET /tickets/{id}` shows it), or 204 when
/// there is none (header `relay-claim-reason` says why when the caller is
/// off shift or at capacity). No ticket is ever given to two agents.
#[utoipa::path(post, path = "/api/v1/queues/{id}/claim", tag = "work", params(("id" = String, Path, description = "Queue id or slug")),
    responses((status = 200, body = TicketView), (status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/queues/{id}/claim")]
async fn claim_next(
    state: web::Data<AppState>,
    token: BearerToken,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // Authenticated on the claim's own connection: one pool checkout and
    // one blocking hop, and the token's read gives the agent and the queue.
    let claimed = run_db(&state, move |conn| {
        let (caller, agent, queue) = token.authenticate_worker_for_queue(conn, &id)?;
        workload::claim(conn, &caller, agent, queue)
    })
    .await?;
    Ok(match claimed {
        Claim::Ticket(ticket) => HttpResponse::Ok()
            .insert_header((header::ETAG, ticket.etag()))
            .json(ticket),
        Claim::Nothing(reason) => {
            let mut response = HttpResponse::NoContent();
            if let Some(reason) = reason {
                response.insert_header((CLAIM_REASON_HEADER, reason));
            }
            response.finish()
        }
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct QueueViewParams {
    /// At most this many tickets (1–200, default 50).
    limit: Option<i64>,
}

/// A queue's open tickets, most urgent first, with counts by status.
#[utoipa::path(get, path = "/api/v1/queues/{id}/tickets", tag = "work", params(("id" = String, Path, description = "Queue id or slug"), QueueViewParams),
    responses((status = 200, body = QueueTickets), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/api/v1/queues/{id}/tickets")]
async fn queue_tickets(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
    params: web::Query<QueueViewParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError(AppError::invalid(
            "limit",
            "must be between 1 and 200",
        )));
    }
    let view = run_db(&state, move |conn| {
        workload::queue_tickets(conn, &caller.0, &id, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Give a ticket back to its queue, with an optional note (kept as an
/// internal note). The holder, a lead or a manager may release it.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/release", tag = "work", params(("id" = String, Path, description = "Ticket id or number")),
    request_body = ReleaseRequest,
    responses((status = 200, body = TicketView), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/tickets/{id}/release")]
async fn release_ticket(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let reference = TicketRef::parse(&id).map_err(ApiError)?;
    let request: ReleaseRequest = if body.is_empty() {
        ReleaseRequest::default()
    } else {
        parse_json(&body)?
    };
    let ticket = run_db(&state, move |conn| {
        workload::release(conn, &caller.0, &reference, &request)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, ticket.etag()))
        .json(ticket))
}

/// The caller's open tickets, most urgent first.
#[utoipa::path(get, path = "/api/v1/agents/me/tickets", tag = "work",
    responses((status = 200, body = [TicketView]), (status = 403, body = Problem)), security(("bearer" = [])))]
#[get("/api/v1/agents/me/tickets")]
async fn my_tickets(state: web::Data<AppState>, caller: Worker) -> Result<HttpResponse, ApiError> {
    let tickets = run_db(&state, move |conn| workload::my_tickets(conn, &caller.0)).await?;
    Ok(HttpResponse::Ok().json(tickets))
}

/// Whether the caller takes pushed work now. Becoming available takes the
/// tickets waiting in the vendor's push queues, up to the caller's capacity.
#[utoipa::path(put, path = "/api/v1/agents/me/availability", tag = "work", request_body = Availability,
    responses((status = 200, body = Availability), (status = 403, body = Problem)), security(("bearer" = [])))]
#[put("/api/v1/agents/me/availability")]
async fn set_availability(
    state: web::Data<AppState>,
    caller: Worker,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let wanted: Availability = parse_json(&body)?;
    let set = run_db(&state, move |conn| {
        workload::set_availability(conn, &caller.0, &wanted)
    })
    .await?;
    Ok(HttpResponse::Ok().json(set))
}
