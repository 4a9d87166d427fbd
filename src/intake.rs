//! Creating tickets, from every channel. A ticket, its first message, its
//! first event and (when given) its idempotency key are written in one
//! transaction, so a 2xx always means all of them are committed.

use crate::attachments::{self, Upload};
use crate::auth::{generate_secret, hash_secret, Principal};
use crate::db::models::{Customer, IdempotencyKey, Message, Queue, Ticket};
use crate::db::schema::{customers, idempotency_keys, messages, queues};
use crate::db::{insert_ticket, is_unique_violation, write_tx, DbConnection};
use crate::domain::validate::{normalize_tags, Errors};
use crate::domain::{AuthorKind, Channel, Priority, Status};
use crate::error::{AppError, AppResult};
use crate::tickets::{events, query, view::TicketView};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub const MAX_SUBJECT: usize = 250;
pub const MAX_BODY: usize = 64 * 1024;
const MAX_CUSTOM_FIELDS_JSON: usize = 16 * 1024;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(default)]
    pub email: String,
    pub name: Option<String>,
}

/// `POST /api/v1/tickets` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    // Missing text fields default to empty so that they are reported with
    // the other field errors, not as a bare JSON error.
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub customer: CustomerInput,
    /// `low`, `normal` (default), `high` or `urgent`.
    pub priority: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Queue id or slug; authenticated callers only.
    pub queue: Option<String>,
    /// BCP 47 language tag such as `en` or `es-CO`.
    pub language: Option<String>,
}

/// A validated request to open a ticket, whatever channel it came from.
#[derive(Debug, Clone)]
pub struct Submission {
    pub subject: String,
    pub body: String,
    pub customer_email: String,
    pub customer_name: Option<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub custom_fields: Map<String, Value>,
    pub queue: Option<String>,
    pub language: Option<String>,
}

impl CreateTicketRequest {
    pub fn validate(self, caller: Option<&Principal>) -> AppResult<Submission> {
        let mut errors = Errors::default();
        let subject = errors.required_text("subject", &self.subject, MAX_SUBJECT);
        let body = errors.required_text("body", &self.body, MAX_BODY);
        let customer_email = errors.email("customer.email", &self.customer.email);
        let customer_name =
            errors.optional_text("customer.name", self.customer.name.as_deref(), 200);
        let priority = match self.priority.as_deref() {
            Some(p) => errors.parse("priority", p).unwrap_or(Priority::Normal),
            None => Priority::Normal,
        };
        let tags = normalize_tags(&mut errors, "tags", &self.tags);
        let custom_fields = self.custom_fields.unwrap_or_default();
        if serde_json::to_string(&custom_fields).map_or(0, |s| s.len()) > MAX_CUSTOM_FIELDS_JSON {
            errors.add(
                "custom_fields",
                format!("must be at most {MAX_CUSTOM_FIELDS_JSON} bytes as JSON"),
            );
        }
        let language = errors.optional_text("language", self.language.as_deref(), 35);
        if language
            .as_deref()
            .is_some_and(|l| !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            errors.add("language", "must be a language tag such as en or es-CO");
        }
        match (caller, &self.queue) {
            (None, Some(_)) => errors.add("queue", "only authenticated callers may choose a queue"),
            (Some(p), None) if p.role.is_vendor_scoped() => errors.add(
                "queue",
                "vendor agents must name one of their vendor's queues",
            ),
            _ => {}
        }
        errors.finish()?;
        Ok(Submission {
            subject,
            body,
            customer_email,
            customer_name,
            priority,
            tags,
            custom_fields,
            queue: self.queue,
            language,
        })
    }
}

/// A client's promise that two requests with this key are the same request.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// Whose key space: the token id, or `public` for anonymous callers.
    pub scope: String,
    pub key: String,
    /// Hash of the request body, to refuse the same key on a different request.
    pub request_hash: String,
}

impl Idempotency {
    pub fn new(caller: Option<&Principal>, key: &str, body: &[u8]) -> AppResult<Self> {
        let key = key.trim();
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AppError::BadRequest(
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters".into(),
            ));
        }
        Ok(Idempotency {
            scope: caller.map_or_else(|| "public".to_string(), |p| format!("token:{}", p.token_id)),
            key: key.to_string(),
            request_hash: hex::encode(Sha256::digest(body)),
        })
    }
}

pub struct IntakeContext<'a> {
    pub channel: Channel,
    pub caller: Option<&'a Principal>,
    pub idempotency: Option<Idempotency>,
    /// Set when this ticket follows up on a closed one.
    pub follow_up_of: Option<String>,
    /// What only mail carries, stored with the first message.
    pub mail: Option<&'a MailDetails>,
    /// Events (kind, data) the channel records with the `created` one, by
    /// the same actor and in the same statement.
    pub more_events: Vec<(&'static str, Value)>,
}

/// The HTML and threading headers of a message that came in by email.
#[derive(Debug, Clone, Default)]
pub struct MailDetails {
    pub body_html: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Space-separated Message-IDs, oldest first.
    pub references: Option<String>,
}

pub struct Created {
    pub ticket: TicketView,
    /// The customer's first message (absent on a replay).
    pub first_message_id: Option<String>,
    /// The customer's secret link token; absent when an earlier request's
    /// ticket is replayed (only its hash is stored).
    pub access_token: Option<String>,
    pub replayed: bool,
    /// The customer was created by this request (never wrote in before).
    pub new_customer: bool,
}

pub fn create_ticket(
    conn: &mut DbConnection,
    submission: &Submission,
    uploads: &[Upload],
    ctx: &IntakeContext<'_>,
) -> AppResult<Created> {
    let attempt = write_tx(conn, |conn| {
        if let Some(replay) = replay(conn, ctx.idempotency.as_ref())? {
            return Ok(replay);
        }
        create_in_transaction(conn, submission, uploads, ctx)
    });
    match attempt {
        // A concurrent request with the same key committed first: answer as it did.
        Err(AppError::Database(err)) if is_unique_violation(&err) && ctx.idempotency.is_some() => {
            replay(conn, ctx.idempotency.as_ref())?.ok_or(AppError::Database(err))
        }
        Ok(created) => {
            if !created.replayed {
                crate::metrics::ticket_created(ctx.channel);
            }
            Ok(created)
        }
        Err(err) => Err(err),
    }
}

fn replay(
    conn: &mut DbConnection,
    idempotency: Option<&Idempotency>,
) -> AppResult<Option<Created>> {
    let Some(idem) = idempotency else {
        return Ok(None);
    };
    let found: Option<IdempotencyKey> = idempotency_keys::table
        .find((&idem.scope, &idem.key))
        .select(IdempotencyKey::as_select())
        .first(conn)
        .optional()?;
    let Some(found) = found else { return Ok(None) };
    if found.request_hash != idem.request_hash {
        return Err(AppError::Unprocessable(
            "this Idempotency-Key was already used for a different request".into(),
        ));
    }
    Ok(Some(Created {
        ticket: query::load_by_id(conn, &found.ticket_id)?,
        first_message_id: None,
        access_token: None,
        replayed: true,
        new_customer: false,
    }))
}

fn resolve_queue(
    conn: &mut DbConnection,
    reference: &str,
    caller: Option<&Principal>,
) -> AppResult<Queue> {
    let queue: Queue = queues::table
        .filter(queues::id.eq(reference).or(queues::slug.eq(reference)))
        .select(Queue::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::invalid("queue", format!("no queue '{reference}'")))?;
    if let Some(vendor) = caller.and_then(Principal::vendor_scope) {
        if queue.vendor_id != vendor {
            // Do not confirm that another vendor's queue exists.
            return Err(AppError::invalid(
                "queue",
                format!("no queue '{reference}'"),
            ));
        }
    }
    Ok(queue)
}

/// Finds the customer by address or creates them; safe against a concurrent
/// first ticket from the same address. Most mail and requests come from
/// customers Relay already knows, so it reads first: one statement for them,
/// two for a new address (a third only when another request created the
/// same customer at the same moment).
pub fn upsert_customer(
    conn: &mut DbConnection,
    email: &str,
    name: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Upserted> {
    let customer = match find_customer(conn, email)? {
        Some(known) => known,
        None => {
            let fresh = Customer {
                id: uuid::Uuid::now_v7().to_string(),
                email: email.to_string(),
                name: name.map(str::to_string),
                organization: None,
                created_at: now,
            };
            if crate::insert_ignoring_conflicts!(conn, customers::table, &fresh)? == 1 {
                return Ok(Upserted {
                    customer: fresh,
                    created: true,
                });
            }
            find_customer(conn, email)?.ok_or_else(|| {
                AppError::Internal(format!("customer {email} neither inserted nor found"))
            })?
        }
    };
    if customer.name.is_none() && name.is_some() {
        diesel::update(customers::table.find(&customer.id))
            .set(customers::name.eq(name))
            .execute(conn)?;
        return Ok(Upserted {
            customer: Customer {
                name: name.map(str::to_string),
                ..customer
            },
            created: false,
        });
    }
    Ok(Upserted {
        customer,
        created: false,
    })
}

pub struct Upserted {
    pub customer: Customer,
    /// Inserted by this call rather than found.
    pub created: bool,
}

fn find_customer(conn: &mut DbConnection, email: &str) -> AppResult<Option<Customer>> {
    Ok(customers::table
        .filter(customers::email.eq(email))
        .select(Customer::as_select())
        .first(conn)
        .optional()?)
}

/// Creates the ticket inside the caller's transaction (for channels that
/// write more in the same transaction, such as email).
pub fn create_in_transaction(
    conn: &mut DbConnection,
    s: &Submission,
    uploads: &[Upload],
    ctx: &IntakeContext<'_>,
) -> AppResult<Created> {
    let now = Utc::now().naive_utc();
    let queue = match &s.queue {
        Some(reference) => Some(resolve_queue(conn, reference, ctx.caller)?),
        None => None,
    };
    let Upserted {
        customer,
        created: new_customer,
    } = upsert_customer(conn, &s.customer_email, s.customer_name.as_deref(), now)?;
    let access_token = generate_secret();
    let mut ticket = Ticket {
        id: uuid::Uuid::now_v7().to_string(),
        number: 0,
        subject: s.subject.clone(),
        status: Status::New.as_str().into(),
        priority: s.priority.as_str().into(),
        channel: ctx.channel.as_str().into(),
        queue_id: queue.as_ref().map(|q| q.id.clone()),
        assignee_id: None,
        customer_id: customer.id.clone(),
        tags: serde_json::to_string(&s.tags).expect("tags serialise"),
        custom_fields: Value::Object(s.custom_fields.clone()).to_string(),
        language: s.language.clone(),
        access_token_hash: hash_secret(&access_token),
        follow_up_of: ctx.follow_up_of.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
        solved_at: None,
        closed_at: None,
    };
    insert_ticket(conn, &mut ticket)?;
    let message = Message {
        id: uuid::Uuid::now_v7().to_string(),
        ticket_id: ticket.id.clone(),
        author_kind: AuthorKind::Customer.as_str().into(),
        author_agent_id: None,
        author_customer_id: Some(customer.id.clone()),
        public: true,
        channel: ctx.channel.as_str().into(),
        body_text: s.body.clone(),
        body_html: ctx.mail.and_then(|m| m.body_html.clone()),
        email_message_id: ctx.mail.and_then(|m| m.message_id.clone()),
        email_in_reply_to: ctx.mail.and_then(|m| m.in_reply_to.clone()),
        email_references: ctx.mail.and_then(|m| m.references.clone()),
        created_at: now,
    };
    diesel::insert_into(messages::table)
        .values(&message)
        .execute(conn)?;
    attachments::store(conn, &message.id, uploads, now)?;
    let actor = ctx
        .caller
        .map_or_else(|| format!("customer:{}", customer.id), Principal::actor);
    let created = events::event(
        &ticket.id,
        "created",
        &actor,
        json!({
            "channel": ctx.channel,
            "priority": s.priority,
            "queue": queue.as_ref().map(|q| &q.slug),
            "follow_up_of": ctx.follow_up_of,
        }),
        now,
    );
    let more = ctx
        .more_events
        .iter()
        .map(|(kind, data)| events::event(&ticket.id, kind, &actor, data.clone(), now));
    events::append_all(
        conn,
        &std::iter::once(created).chain(more).collect::<Vec<_>>(),
    )?;
    if let Some(idem) = &ctx.idempotency {
        diesel::insert_into(idempotency_keys::table)
            .values(IdempotencyKey {
                scope: idem.scope.clone(),
                key: idem.key.clone(),
                request_hash: idem.request_hash.clone(),
                ticket_id: ticket.id.clone(),
                created_at: now,
            })
            .execute(conn)?;
    }
    let view = TicketView::from_row((ticket, customer, queue, None))?;
    Ok(Created {
        ticket: view,
        first_message_id: Some(message.id),
        access_token: Some(access_token),
        replayed: false,
        new_customer,
    })
}
