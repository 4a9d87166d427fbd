//! Creating tickets, from every channel. A ticket, its first message, its
//! first event and (when given) its idempotency key are written in one
//! transaction, so a 2xx always means all of them are committed.

pub mod customer_reply;
pub mod import;
pub mod public_fields;

use crate::attachments::{self, Upload};
use crate::auth::{generate_secret, hash_secret, Principal};
use crate::db::models::{Customer, IdempotencyKey, Message, Queue, Ticket};
use crate::db::schema::{customers, idempotency_keys, queues, tickets};
use crate::db::{is_unique_violation, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::event::EventData;
use crate::domain::validate::{normalize_tags, Errors};
use crate::domain::{AuthorKind, Channel, Priority, Status};
use crate::error::{AppError, AppResult};
use crate::routing::placement::Arrival;
use crate::tickets::change::{self, Change};
use crate::tickets::view::{SlaSummary, TicketView};
use crate::tickets::{query, TicketRef, Visibility};
use diesel::prelude::*;
use public_fields::{PublicFields, RestrictedField};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub use crate::domain::validate::{MAX_BODY, MAX_SUBJECT};

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
    /// The fields this request sets that the public channel may set only
    /// when a manager made them public.
    fn restricted_fields(&self) -> impl Iterator<Item = RestrictedField<'_>> {
        let priority = self.priority.is_some().then_some(RestrictedField::Priority);
        let tags = (!self.tags.is_empty()).then_some(RestrictedField::Tags);
        let custom = self
            .custom_fields
            .iter()
            .flat_map(Map::keys)
            .map(|name| RestrictedField::Custom(name));
        priority.into_iter().chain(tags).chain(custom)
    }

    /// Whether validating this request as an anonymous one needs the
    /// public-fields setting (most public requests send none of them).
    pub fn sets_restricted_fields(&self) -> bool {
        self.restricted_fields().next().is_some()
    }

    /// Checks every field; an anonymous request (`caller` is `None`) may
    /// set only what `public` opens to it. Authenticated callers are not
    /// limited by `public`.
    pub fn validate(
        self,
        caller: Option<&Principal>,
        public: &PublicFields,
    ) -> AppResult<Submission> {
        let mut errors = Errors::default();
        if caller.is_none() {
            public.refuse_others(&mut errors, self.restricted_fields());
        }
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
        errors.custom_fields("custom_fields", &custom_fields);
        let language = errors.language("language", self.language.as_deref());
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
    /// Whose key space: `token:{id}`, or `public:{client address}` for
    /// anonymous callers, so one client can neither take nor read another
    /// client's keys.
    pub scope: String,
    pub key: String,
    /// Hash of the request body, to refuse the same key on a different request.
    pub request_hash: String,
}

impl Idempotency {
    /// `client` is the caller's address; it scopes anonymous callers' keys.
    pub fn new(
        caller: Option<&Principal>,
        client: &str,
        key: &str,
        body: &[u8],
    ) -> AppResult<Self> {
        let key = key.trim();
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AppError::BadRequest(
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters".into(),
            ));
        }
        Ok(Idempotency {
            scope: caller.map_or_else(
                || format!("public:{client}"),
                |p| format!("token:{}", p.token_id),
            ),
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
    /// Events the channel records after the `created` one, by the same
    /// actor and in the same statement.
    pub more_events: Vec<EventData>,
    /// What the channel does once the ticket exists, in its transaction
    /// (the acknowledgement mail). The channel decides: intake sends no mail.
    pub after_create: Option<&'a AfterCreate<'a>>,
    /// What the door tells routing besides the ticket.
    pub routing: RoutingHints,
}

/// The door's part in routing a new ticket (see `routing::placement`).
#[derive(Debug, Clone, Default)]
pub struct RoutingHints {
    /// The door's queue (slug or id): the mailbox's, `mailgate --queue`,
    /// `email.address_queues`, or a follow-up's closed ticket's queue.
    pub hint: Option<String>,
    /// To, Cc and Delivered-To of an email.
    pub recipients: Vec<String>,
    /// `routing.default_queue`.
    pub default_queue: Option<String>,
}

/// A step run in a new ticket's transaction once it has its number; the
/// events it returns are recorded with the ticket's first ones.
pub type AfterCreate<'a> =
    dyn Fn(&mut WriteConn<'_>, &Created) -> AppResult<Vec<EventData>> + Send + Sync + 'a;

/// The HTML and threading headers of a message that came in by email.
#[derive(Debug, Clone, Default)]
pub struct MailDetails {
    pub body_html: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Space-separated Message-IDs, oldest first.
    pub references: Option<String>,
    /// Written by a machine (out-of-office, `Auto-Submitted`, a bounce).
    pub automatic: bool,
}

pub struct Created {
    pub ticket: TicketView,
    /// The customer's first message.
    pub first_message_id: Option<String>,
    /// The customer's secret link token (only its hash is stored).
    pub access_token: Option<String>,
    /// The customer was created by this request (never wrote in before).
    pub new_customer: bool,
}

/// What `POST /api/v1/tickets` answers.
pub struct Receipt {
    pub ticket_id: String,
    /// The ticket as the create answer shows it to this caller (see
    /// [`shown_to`]); on a replay, exactly what the first answer showed.
    pub shown: Map<String, Value>,
    /// The customer's secret link token: only on the public channel, where
    /// the caller is the customer, and only in the answer that made the
    /// ticket. Staff and machines never hold a customer's credential.
    pub access_token: Option<String>,
    pub replayed: bool,
}

impl Receipt {
    /// The ticket version the answer shows, for its `ETag` (keys stored
    /// before answers were kept replay without one).
    pub fn version(&self) -> Option<i64> {
        self.shown.get("version").and_then(Value::as_i64)
    }
}

/// Opens a ticket from the API, or, for a request with an idempotency key
/// that was used before, answers what the first request's answer showed.
/// The public-fields setting is read only for an anonymous request that
/// sets one of the fields it governs.
pub fn receive(
    conn: &mut Conn,
    request: CreateTicketRequest,
    caller: Option<&Principal>,
    idempotency: Option<Idempotency>,
    after_create: Option<&AfterCreate<'_>>,
    default_queue: Option<String>,
) -> AppResult<Receipt> {
    let public = match caller {
        None if request.sets_restricted_fields() => public_fields::load(conn)?,
        _ => PublicFields::default(),
    };
    let submission = request.validate(caller, &public)?;
    let ctx = IntakeContext {
        channel: Channel::Api,
        caller,
        idempotency,
        follow_up_of: None,
        mail: None,
        more_events: Vec::new(),
        after_create,
        routing: RoutingHints {
            default_queue,
            ..Default::default()
        },
    };
    let attempt = write_tx(conn, |conn| {
        if let Some(replayed) = replay(conn, &ctx)? {
            return Ok(replayed);
        }
        let created = create_in_transaction(conn, &submission, &[], &ctx)?;
        Ok(Receipt {
            shown: shown_to(caller, &created.ticket, &submission)?,
            ticket_id: created.ticket.id,
            access_token: created.access_token.filter(|_| caller.is_none()),
            replayed: false,
        })
    });
    match attempt {
        // A concurrent request with the same key committed first: answer as it did.
        Err(AppError::Database(err)) if is_unique_violation(&err) && ctx.idempotency.is_some() => {
            replay(conn, &ctx)?.ok_or(AppError::Database(err))
        }
        Ok(receipt) => {
            if !receipt.replayed {
                crate::metrics::ticket_created(ctx.channel);
            }
            Ok(receipt)
        }
        Err(err) => Err(err),
    }
}

/// Creates a ticket for a channel that sends no idempotency key (the web
/// form), in its own transaction.
pub fn create_ticket(
    conn: &mut Conn,
    submission: &Submission,
    uploads: &[Upload],
    ctx: &IntakeContext<'_>,
) -> AppResult<Created> {
    let created = write_tx(conn, |conn| {
        create_in_transaction(conn, submission, uploads, ctx)
    })?;
    crate::metrics::ticket_created(ctx.channel);
    Ok(created)
}

/// What a create answer shows of the new ticket. Managers and admins may
/// read every ticket and customer: they get the full view. Everyone else
/// (the public, intake machines, vendor agents) gets the same shape with the
/// customer exactly as they sent them, because the stored customer's id and
/// name would tell them who is a customer already and what they are called.
fn shown_to(
    caller: Option<&Principal>,
    ticket: &TicketView,
    sent: &Submission,
) -> AppResult<Map<String, Value>> {
    let Value::Object(mut shown) = serde_json::to_value(ticket)
        .map_err(|e| AppError::failed("a ticket view did not serialise", e))?
    else {
        return Err(AppError::Internal(
            "a ticket view is not a JSON object".into(),
        ));
    };
    if !caller.is_some_and(|p| p.role.is_manager_or_above()) {
        shown.insert(
            "customer".into(),
            json!({"email": sent.customer_email, "name": sent.customer_name}),
        );
    }
    Ok(shown)
}

/// The first answer to this request's key, if the key was used before, as
/// long as the caller may still see the ticket: a vendor's agents lose sight
/// of a ticket handed to another vendor, and a replay then answers 404.
fn replay(conn: &mut DbConnection, ctx: &IntakeContext<'_>) -> AppResult<Option<Receipt>> {
    let Some(idem) = &ctx.idempotency else {
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
    if let Some(visibility @ Visibility::Vendor(_)) = ctx.caller.map(Visibility::of) {
        query::find_row(conn, &visibility, &TicketRef::Id(found.ticket_id.clone()))?;
    }
    let shown = match &found.answer {
        Some(answer) => serde_json::from_str(answer)
            .map_err(|e| AppError::failed("a stored idempotent answer is unreadable", e))?,
        None => identity_only(conn, &found.ticket_id)?,
    };
    Ok(Some(Receipt {
        ticket_id: found.ticket_id,
        shown,
        access_token: None,
        replayed: true,
    }))
}

/// The answer for a key stored before answers were kept: only what names
/// the ticket, never its current state.
fn identity_only(conn: &mut DbConnection, ticket_id: &str) -> AppResult<Map<String, Value>> {
    let number: i64 = tickets::table
        .find(ticket_id)
        .select(tickets::number)
        .first(conn)?;
    let mut shown = Map::new();
    shown.insert("id".into(), ticket_id.into());
    shown.insert("number".into(), number.into());
    Ok(shown)
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
    conn: &mut WriteConn<'_>,
    email: &str,
    name: Option<&str>,
) -> AppResult<Upserted> {
    let customer = match find_customer(conn, email)? {
        Some(known) => known,
        None => {
            let fresh = Customer {
                id: conn.new_id(),
                email: email.to_string(),
                name: name.map(str::to_string),
                organization: None,
                created_at: conn.now(),
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
            .execute(&mut **conn)?;
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
    conn: &mut WriteConn<'_>,
    s: &Submission,
    uploads: &[Upload],
    ctx: &IntakeContext<'_>,
) -> AppResult<Created> {
    let now = conn.now();
    let queue = match &s.queue {
        Some(reference) => Some(resolve_queue(conn, reference, ctx.caller)?),
        None => None,
    };
    let Upserted {
        customer,
        created: new_customer,
    } = upsert_customer(conn, &s.customer_email, s.customer_name.as_deref())?;
    let access_token = generate_secret();
    let mut ticket = Ticket {
        id: conn.new_id(),
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
        language: s
            .language
            .clone()
            .or_else(|| crate::domain::language::detect(&format!("{}\n{}", s.subject, s.body))),
        access_token_hash: hash_secret(&access_token),
        follow_up_of: ctx.follow_up_of.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
        solved_at: None,
        closed_at: None,
        sla_policy_id: None,
        queued_at: None,
    };
    let message = Message {
        id: conn.new_id(),
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
        automatic: ctx.mail.is_some_and(|m| m.automatic),
    };
    let message_id = message.id.clone();
    let actor = ctx
        .caller
        .map_or_else(|| format!("customer:{}", customer.id), Principal::actor);
    let (from, organization) = (customer.email.clone(), customer.organization.clone());
    let arrival = Arrival {
        body: &s.body,
        from: &from,
        organization: organization.as_deref(),
        hint: ctx.routing.hint.as_deref(),
        recipients: &ctx.routing.recipients,
        explicit_queue: queue.is_some(),
        default_queue: ctx.routing.default_queue.as_deref(),
    };
    let mut opened: Option<Created> = None;
    let sla = change::open(
        conn,
        &mut ticket,
        Change {
            actor: &actor,
            messages: vec![message],
            events: ctx.more_events.clone(),
        },
        &arrival,
        |conn, ticket, placed| {
            let created = opened.insert(Created {
                ticket: TicketView::from_row((
                    ticket.clone(),
                    customer,
                    placed.queue.clone(),
                    placed.assignee.clone(),
                ))?,
                first_message_id: Some(message_id.clone()),
                access_token: Some(access_token),
                new_customer,
            });
            match ctx.after_create {
                Some(after_create) => after_create(conn, created),
                None => Ok(Vec::new()),
            }
        },
    )?;
    let mut created = opened.expect("open ran its step");
    created.ticket.sla = sla.and_then(|row| SlaSummary::of(&row, conn.now()));
    attachments::store(conn, &message_id, uploads)?;
    let view = &created.ticket;
    // The first answer is kept with the key, in the key's one INSERT, so a
    // replay can answer it as it was.
    if let Some(idem) = &ctx.idempotency {
        diesel::insert_into(idempotency_keys::table)
            .values(IdempotencyKey {
                scope: idem.scope.clone(),
                key: idem.key.clone(),
                request_hash: idem.request_hash.clone(),
                ticket_id: view.id.clone(),
                created_at: now,
                answer: Some(Value::Object(shown_to(ctx.caller, view, s)?).to_string()),
            })
            .execute(&mut **conn)?;
    }
    Ok(created)
}
