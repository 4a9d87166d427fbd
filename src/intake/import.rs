//! Bringing another help desk's tickets in with their history (`POST
//! /api/v1/import/tickets`), so a migration keeps its SLA record.
//!
//! Each record's history (messages, status, priority and queue changes,
//! assignments) is walked in time order from a ticket that starts `new`,
//! and becomes the typed events a live ticket would have had, each at its
//! own time: `customer_replied` (re-opening a pending or solved ticket),
//! `replied` (the first on a new ticket takes it to `open`, reason
//! `first_reply`), `note_added`, `status_changed`, `priority_changed`,
//! `queue_changed` (with `handed_off`, letting a foreign assignee go) and
//! `assigned`/`unassigned`. The history goes in through the seam's
//! `change::import`, which computes the clocks from it as for a live
//! ticket. Routing does not run (the record names its queue and policy),
//! nothing is mailed, and warnings and breaches the history had already
//! reached count as announced (by the help desk it came from), so the
//! scanner announces only what comes due from now on.
//!
//! A batch is one write transaction: one bad record refuses the whole
//! batch with every bad field named (`tickets[3].messages[0].agent_email`)
//! and nothing is stored. Records are known by their `external_id`: a
//! record imported before answers its ticket with `created: false` and
//! changes nothing.

use super::{upsert_customer, CustomerInput};
use crate::auth::{generate_secret, hash_secret, Principal};
use crate::db::models::{Agent, Message, Queue, Ticket, TicketEvent};
use crate::db::schema::{agents, queues, sla_policies, ticket_imports, ticket_sla, tickets};
use crate::db::{is_unique_violation, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::event::{AssignedBy, EventData, ReleaseReason, StatusReason};
use crate::domain::validate::{normalize_tags, present, Errors, FieldError, MAX_BODY, MAX_SUBJECT};
use crate::domain::{AuthorKind, Channel, Priority, Role, Status};
use crate::error::{AppError, AppResult};
use crate::routing::assignment::OPEN_STATUSES;
use crate::routing::placement::{agent_ref, moved, queue_ref};
use crate::sla::{notices, tracking};
use crate::tickets::change::{self, SYSTEM_ACTOR};
use crate::tickets::events;
use chrono::{DateTime, NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// The most tickets one request may import: the batch is one write
/// transaction, which holds SQLite's write lock while it runs.
pub const MAX_TICKETS: usize = 1000;
/// The most messages one imported ticket may have.
pub const MAX_MESSAGES: usize = 1000;
/// The most history entries (messages and changes together) of one ticket.
pub const MAX_ENTRIES: usize = 2000;
/// The largest request body, in bytes (the HTTP layer reads up to this
/// instead of `server.json_body_limit`, since a batch carries whole
/// conversations).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// The longest `external_id`, in characters.
pub const MAX_EXTERNAL_ID: usize = 255;

/// `POST /api/v1/import/tickets` body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    #[serde(default)]
    pub tickets: Vec<ImportTicket>,
    /// What of the body did not fit outside the records ([`read`]).
    #[serde(skip)]
    pub unfit: Vec<FieldError>,
}

/// One ticket of another help desk, as it was created, with its history.
/// Missing text fields default to empty so they are reported with the
/// other field errors.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportTicket {
    /// The ticket's id in the help desk it comes from (1 to 255
    /// characters): importing it again finds this ticket.
    #[serde(default)]
    pub external_id: String,
    #[serde(default)]
    pub subject: String,
    /// The priority it was created with: `low`, `normal`, `high`, `urgent`.
    #[serde(default)]
    pub priority: String,
    /// `email`, `web` or `api` (default).
    pub channel: Option<String>,
    /// RFC 3339; no time of the history may be before it.
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub customer: CustomerInput,
    /// The queue it was created in (id or slug); none: outside every queue.
    pub queue: Option<String>,
    /// The SLA policy it runs under (as a routing rule's `set_sla_policy`);
    /// none: the first enabled policy whose conditions match.
    pub sla_policy_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The conversation; the earliest message is the customer's opening one.
    #[serde(default)]
    pub messages: Vec<ImportMessage>,
    #[serde(default)]
    pub status_changes: Vec<ImportStatusChange>,
    #[serde(default)]
    pub priority_changes: Vec<ImportPriorityChange>,
    #[serde(default)]
    pub queue_changes: Vec<ImportQueueChange>,
    #[serde(default)]
    pub assignments: Vec<ImportAssignment>,
    /// The parts of the record that did not fit and were left out when it
    /// was read ([`read`]).
    #[serde(skip)]
    pub unfit: Vec<Unfit>,
}

/// A part of a record that did not fit (an unknown field, a value of the
/// wrong type): its error, and the part left out to read the rest.
#[derive(Debug, Clone)]
pub struct Unfit {
    pub error: FieldError,
    /// The path of what was left out (`tickets[2].messages` for a bad
    /// `tickets[2].messages[0]`): other errors under it are its echo.
    pub left_out: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportMessage {
    /// `customer` or `agent`.
    #[serde(default)]
    pub author: String,
    /// The agent who wrote it (active or not); required for `agent`.
    pub agent_email: Option<String>,
    /// An agent's public reply (`true`) or internal note (`false`);
    /// customer messages are public.
    pub public: Option<bool>,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportStatusChange {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportPriorityChange {
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportQueueChange {
    /// Queue id or slug; `null` takes the ticket out of every queue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub queue: Option<Option<String>>,
    #[serde(default)]
    pub at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportAssignment {
    /// The agent who took the ticket (active or not); `null`: it was
    /// unassigned.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub agent_email: Option<Option<String>>,
    #[serde(default)]
    pub at: String,
}

/// What `POST /api/v1/import/tickets` answers, in the order of the request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportAnswer {
    pub tickets: Vec<Imported>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Imported {
    pub external_id: String,
    pub id: String,
    pub number: i64,
    /// `false`: the record was imported before; its ticket is unchanged.
    pub created: bool,
}

#[derive(Insertable)]
#[diesel(table_name = ticket_imports)]
struct ImportRow {
    external_id: String,
    ticket_id: String,
    imported_at: NaiveDateTime,
}

/// Reads a request body (parsed JSON) record by record. A part that does
/// not fit (an unknown field, a value of the wrong type, a record that is
/// not an object) is named by its path (`tickets[2].messages[0].colour`)
/// and left out, and the rest of its record read, so a client learns of
/// every bad field of every record at once; [`import`] then refuses the
/// batch with them all.
pub fn read(body: serde_json::Value) -> ImportRequest {
    let mut request = ImportRequest::default();
    let serde_json::Value::Object(top) = body else {
        request.unfit.push(FieldError::new(
            "tickets",
            "the body must be a JSON object: {\"tickets\": [...]}",
        ));
        return request;
    };
    for (key, value) in top {
        match (key.as_str(), value) {
            ("tickets", serde_json::Value::Array(records)) => {
                for (index, record) in records.into_iter().enumerate() {
                    request.tickets.push(read_record(index, record));
                }
            }
            ("tickets", _) => request
                .unfit
                .push(FieldError::new("tickets", "must be a list of tickets")),
            (other, _) => request.unfit.push(FieldError::new(
                other,
                format!("unknown field `{other}`, expected `tickets`"),
            )),
        }
    }
    request
}

/// Reads one record, leaving out (and naming) what does not fit until the
/// rest does: every field has a default, so an empty object always reads.
fn read_record(index: usize, mut value: serde_json::Value) -> ImportTicket {
    use serde_path_to_error::Segment;
    let base = format!("tickets[{index}]");
    let path = |segments: &[Segment]| {
        let mut path = base.clone();
        for segment in segments {
            match segment {
                Segment::Map { key } => path.push_str(&format!(".{key}")),
                Segment::Seq { index } => path.push_str(&format!("[{index}]")),
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        path
    };
    let mut unfit = Vec::new();
    if !value.is_object() {
        unfit.push(Unfit {
            error: FieldError::new(&base, "must be an object (one ticket)"),
            left_out: base.clone(),
        });
        value = serde_json::Value::Object(Default::default());
    }
    // Each round leaves out one key, so this ends; the bound is a guard.
    for _ in 0..256 {
        let failed = match serde_path_to_error::deserialize::<_, ImportTicket>(&value) {
            Ok(mut ticket) => {
                ticket.unfit = unfit;
                return ticket;
            }
            Err(failed) => failed,
        };
        let segments: Vec<Segment> = failed.path().iter().cloned().collect();
        let message = failed.into_inner().to_string();
        // Leave out the innermost field holding the bad part: for a bad
        // item of a list, the whole list (taking the item out would
        // renumber the others, and their errors would name wrong paths).
        let cut = segments
            .iter()
            .rposition(|s| matches!(s, Segment::Map { .. }));
        let removed = cut.and_then(|k| {
            let Segment::Map { key } = &segments[k] else {
                return None;
            };
            let mut parent = &mut value;
            for segment in &segments[..k] {
                parent = match segment {
                    Segment::Map { key } => parent.get_mut(key.as_str())?,
                    Segment::Seq { index } => parent.get_mut(*index)?,
                    Segment::Enum { .. } | Segment::Unknown => return None,
                };
            }
            parent.as_object_mut()?.remove(key.as_str())?;
            Some(path(&segments[..=k]))
        });
        let left_out = match removed {
            Some(left_out) => left_out,
            None => {
                value = serde_json::Value::Object(Default::default());
                base.clone()
            }
        };
        unfit.push(Unfit {
            error: FieldError::new(path(&segments), message),
            left_out,
        });
    }
    ImportTicket {
        unfit,
        ..ImportTicket::default()
    }
}

/// Only admins import.
pub fn may_import(caller: &Principal) -> AppResult<()> {
    caller.require(|r| r == Role::Admin)
}

/// Imports the batch as `caller` (an admin), all of it or nothing.
pub fn import(
    conn: &mut Conn,
    caller: &Principal,
    request: ImportRequest,
) -> AppResult<ImportAnswer> {
    may_import(caller)?;
    let (records, found) = check(&request, conn.now());
    if records.is_empty() && !found.is_empty() {
        return Err(AppError::Validation(found));
    }
    let attempt = |conn: &mut Conn| {
        write_tx(conn, |w| {
            import_in_transaction(w, caller, &records, Errors(found.clone()))
        })
    };
    match attempt(conn) {
        // Another batch imported one of these records at the same moment
        // (PostgreSQL): once it committed, this batch finds it imported.
        Err(AppError::Database(err)) if is_unique_violation(&err) => attempt(conn),
        done => done,
    }
}

// ------------------------------------------------------------ the checks

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Author {
    Customer,
    Agent,
}

#[derive(Debug, Clone)]
enum Step {
    Message {
        author: Author,
        agent_email: Option<String>,
        public: bool,
        body: String,
    },
    Status(Status),
    Priority(Priority),
    Queue(Option<String>),
    Assign(Option<String>),
}

impl Step {
    /// Entries at the same instant apply in this order (then as listed):
    /// queue moves, assignments, priority changes, messages, status
    /// changes, so a ticket is moved before it is assigned there and an
    /// agent replies before solving.
    fn rank(&self) -> u8 {
        match self {
            Step::Queue(_) => 0,
            Step::Assign(_) => 1,
            Step::Priority(_) => 2,
            Step::Message { .. } => 3,
            Step::Status(_) => 4,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    at: NaiveDateTime,
    /// The entry's path in the request, e.g. `tickets[2].messages[0]`.
    field: String,
    step: Step,
}

/// A record whose fields are well-formed.
#[derive(Debug, Clone)]
struct Record {
    index: usize,
    external_id: String,
    subject: String,
    priority: Priority,
    channel: Channel,
    created_at: NaiveDateTime,
    customer_email: String,
    customer_name: Option<String>,
    queue: Option<String>,
    sla_policy_id: Option<String>,
    tags: Vec<String>,
    /// In the order they apply (time, then [`Step::rank`], then as listed).
    entries: Vec<Entry>,
    /// Whether every field of the record was well-formed; a record with
    /// bad fields has its references checked but is not walked.
    clean: bool,
}

impl Record {
    fn field(&self, name: &str) -> String {
        format!("tickets[{}].{name}", self.index)
    }
}

/// An RFC 3339 instant, as UTC to the microsecond (what both databases keep).
fn instant(errors: &mut Errors, field: &str, value: &str) -> Option<NaiveDateTime> {
    let value = value.trim();
    if value.is_empty() {
        errors.add(
            field,
            "is required (an RFC 3339 time such as 2026-01-05T09:30:00Z)",
        );
        return None;
    }
    match DateTime::parse_from_rfc3339(value) {
        Ok(at) => Some(at.naive_utc().trunc_subsecs(6)),
        Err(_) => {
            errors.add(
                field,
                "must be an RFC 3339 time such as 2026-01-05T09:30:00Z",
            );
            None
        }
    }
}

/// Everything that can be checked without the database: the records, and
/// the field errors found (the look-ups in the transaction add theirs, so
/// the caller learns of every bad field at once).
fn check(request: &ImportRequest, now: NaiveDateTime) -> (Vec<Record>, Vec<FieldError>) {
    let mut errors = Errors(request.unfit.clone());
    if request.tickets.len() > MAX_TICKETS {
        errors.add(
            "tickets",
            format!("at most {MAX_TICKETS} tickets per request; send the rest in further batches"),
        );
        return (Vec::new(), errors.0);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut records = Vec::with_capacity(request.tickets.len());
    for (index, input) in request.tickets.iter().enumerate() {
        let record = check_record(&mut errors, index, input, now);
        if !record.external_id.is_empty() {
            if let Some(first) = seen.get(&record.external_id) {
                errors.add(
                    &record.field("external_id"),
                    format!("repeats tickets[{first}].external_id"),
                );
            } else {
                seen.insert(record.external_id.clone(), index);
            }
        }
        records.push(record);
    }
    (records, errors.0)
}

fn check_record(
    errors: &mut Errors,
    index: usize,
    input: &ImportTicket,
    now: NaiveDateTime,
) -> Record {
    let before = errors.0.len();
    errors.0.extend(input.unfit.iter().map(|u| u.error.clone()));
    let checked_from = errors.0.len();
    let field = |name: &str| format!("tickets[{index}].{name}");
    let external_id = input.external_id.trim().to_string();
    if external_id.is_empty() {
        errors.add(&field("external_id"), "must not be empty");
    } else if external_id.chars().count() > MAX_EXTERNAL_ID {
        errors.add(
            &field("external_id"),
            format!("must be at most {MAX_EXTERNAL_ID} characters"),
        );
    }
    let subject = errors.required_text(&field("subject"), &input.subject, MAX_SUBJECT);
    let priority = if input.priority.trim().is_empty() {
        errors.add(
            &field("priority"),
            "is required: low, normal, high or urgent",
        );
        Priority::Normal
    } else {
        errors
            .parse(&field("priority"), input.priority.trim())
            .unwrap_or(Priority::Normal)
    };
    let channel = match input.channel.as_deref() {
        Some(c) => errors
            .parse(&field("channel"), c.trim())
            .unwrap_or(Channel::Api),
        None => Channel::Api,
    };
    let created_at = instant(errors, &field("created_at"), &input.created_at);
    if created_at.is_some_and(|at| at > now) {
        errors.add(&field("created_at"), "must not be in the future");
    }
    let customer_email = errors.email(&field("customer.email"), &input.customer.email);
    let customer_name =
        errors.optional_text(&field("customer.name"), input.customer.name.as_deref(), 200);
    let queue = input.queue.as_deref().map(str::trim).map(str::to_string);
    if queue.as_deref() == Some("") {
        errors.add(
            &field("queue"),
            "must name a queue by id or slug (leave it out for none)",
        );
    }
    let sla_policy_id = input
        .sla_policy_id
        .as_deref()
        .map(str::trim)
        .map(str::to_string);
    let tags = normalize_tags(errors, &field("tags"), &input.tags);

    let mut entries = Vec::new();
    // Checks an entry's time: well-formed, not before the ticket, not after now.
    let time = |errors: &mut Errors, at_field: String, value: &str| {
        let at = instant(errors, &at_field, value)?;
        if created_at.is_some_and(|created| at < created) {
            errors.add(&at_field, "must not be before the ticket's created_at");
            return None;
        }
        if at > now {
            errors.add(&at_field, "must not be in the future");
            return None;
        }
        Some(at)
    };
    if input.messages.is_empty() {
        errors.add(
            &field("messages"),
            "must hold at least the customer's first message",
        );
    } else if input.messages.len() > MAX_MESSAGES {
        errors.add(
            &field("messages"),
            format!("at most {MAX_MESSAGES} messages per ticket"),
        );
    }
    let total = input.messages.len()
        + input.status_changes.len()
        + input.priority_changes.len()
        + input.queue_changes.len()
        + input.assignments.len();
    if total > MAX_ENTRIES {
        errors.add(
            &field("messages"),
            format!("at most {MAX_ENTRIES} messages and changes together per ticket"),
        );
    }
    for (k, m) in input.messages.iter().enumerate() {
        let base = field(&format!("messages[{k}]"));
        let at = time(errors, format!("{base}.created_at"), &m.created_at);
        let author = match m.author.trim() {
            "customer" => Some(Author::Customer),
            "agent" => Some(Author::Agent),
            "" => {
                errors.add(&format!("{base}.author"), "is required: customer or agent");
                None
            }
            other => {
                errors.add(
                    &format!("{base}.author"),
                    format!("unknown author '{other}' (customer or agent)"),
                );
                None
            }
        };
        let body = errors.required_text(&format!("{base}.body"), &m.body, MAX_BODY);
        let public = m.public;
        if public.is_none() {
            errors.add(&format!("{base}.public"), "is required: true or false");
        }
        let agent_email = match (author, m.agent_email.as_deref().map(str::trim)) {
            (Some(Author::Agent), None | Some("")) => {
                errors.add(
                    &format!("{base}.agent_email"),
                    "is required for an agent's message",
                );
                None
            }
            (Some(Author::Agent), Some(email)) => {
                Some(errors.email(&format!("{base}.agent_email"), email))
            }
            (_, Some(email)) if !email.is_empty() => {
                errors.add(
                    &format!("{base}.agent_email"),
                    "only an agent's message names an agent",
                );
                None
            }
            _ => None,
        };
        if author == Some(Author::Customer) && public == Some(false) {
            errors.add(&format!("{base}.public"), "a customer's message is public");
        }
        if let (Some(at), Some(author), Some(public)) = (at, author, public) {
            entries.push(Entry {
                at,
                field: base,
                step: Step::Message {
                    author,
                    agent_email,
                    public,
                    body,
                },
            });
        }
    }
    for (k, c) in input.status_changes.iter().enumerate() {
        let base = field(&format!("status_changes[{k}]"));
        let at = time(errors, format!("{base}.at"), &c.at);
        let status = errors.parse::<Status>(&format!("{base}.status"), c.status.trim());
        if let (Some(at), Some(status)) = (at, status) {
            entries.push(Entry {
                at,
                field: base,
                step: Step::Status(status),
            });
        }
    }
    for (k, c) in input.priority_changes.iter().enumerate() {
        let base = field(&format!("priority_changes[{k}]"));
        let at = time(errors, format!("{base}.at"), &c.at);
        let priority = errors.parse::<Priority>(&format!("{base}.priority"), c.priority.trim());
        if let (Some(at), Some(priority)) = (at, priority) {
            entries.push(Entry {
                at,
                field: base,
                step: Step::Priority(priority),
            });
        }
    }
    for (k, c) in input.queue_changes.iter().enumerate() {
        let base = field(&format!("queue_changes[{k}]"));
        let at = time(errors, format!("{base}.at"), &c.at);
        let queue = match &c.queue {
            None => {
                errors.add(
                    &format!("{base}.queue"),
                    "is required: a queue id or slug, or null for none",
                );
                None
            }
            Some(Some(q)) if q.trim().is_empty() => {
                errors.add(
                    &format!("{base}.queue"),
                    "must name a queue by id or slug, or be null",
                );
                None
            }
            Some(q) => Some(q.as_deref().map(|q| q.trim().to_string())),
        };
        if let (Some(at), Some(queue)) = (at, queue) {
            entries.push(Entry {
                at,
                field: base,
                step: Step::Queue(queue),
            });
        }
    }
    for (k, a) in input.assignments.iter().enumerate() {
        let base = field(&format!("assignments[{k}]"));
        let at = time(errors, format!("{base}.at"), &a.at);
        let agent = match &a.agent_email {
            None => {
                errors.add(
                    &format!("{base}.agent_email"),
                    "is required: an agent's email, or null for unassigned",
                );
                None
            }
            Some(Some(email)) => Some(Some(errors.email(&format!("{base}.agent_email"), email))),
            Some(None) => Some(None),
        };
        if let (Some(at), Some(agent)) = (at, agent) {
            entries.push(Entry {
                at,
                field: base,
                step: Step::Assign(agent),
            });
        }
    }
    // A stable sort keeps the listed order among equals.
    entries.sort_by_key(|e| (e.at, e.step.rank()));
    // What was left out of the record when it was read is named already;
    // the checks' complaints about it (now missing) are its echo.
    let echoes = |field: &str| {
        input.unfit.iter().any(|u| {
            field
                .strip_prefix(u.left_out.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    };
    let checked = errors.0.split_off(checked_from);
    errors
        .0
        .extend(checked.into_iter().filter(|e| !echoes(&e.field)));
    Record {
        index,
        external_id,
        subject,
        priority,
        channel,
        created_at: created_at.unwrap_or(now),
        customer_email,
        customer_name,
        queue,
        sla_policy_id,
        tags,
        entries,
        clean: errors.0.len() == before,
    }
}

// ------------------------------------------------------- the transaction

/// The queues, agents and policies the records name.
#[derive(Default)]
struct Directory {
    /// By the reference as given (an id wins over a slug equal to it).
    queues: HashMap<String, Queue>,
    /// By (normalised) email.
    agents: HashMap<String, Agent>,
    policies: HashSet<String>,
}

/// How many values one `IN (...)` list takes.
const CHUNK: usize = 500;

impl Directory {
    fn load(conn: &mut DbConnection, records: &[&Record]) -> AppResult<Directory> {
        let mut queue_refs: Vec<String> = Vec::new();
        let mut emails: Vec<String> = Vec::new();
        let mut policy_ids: Vec<String> = Vec::new();
        for record in records {
            queue_refs.extend(record.queue.clone());
            policy_ids.extend(record.sla_policy_id.clone());
            for entry in &record.entries {
                match &entry.step {
                    Step::Queue(Some(reference)) => queue_refs.push(reference.clone()),
                    Step::Assign(Some(email)) => emails.push(email.clone()),
                    Step::Message {
                        agent_email: Some(email),
                        ..
                    } => emails.push(email.clone()),
                    _ => {}
                }
            }
        }
        for list in [&mut queue_refs, &mut emails, &mut policy_ids] {
            list.sort();
            list.dedup();
        }
        let mut found = Directory::default();
        for chunk in queue_refs.chunks(CHUNK) {
            let rows: Vec<Queue> = queues::table
                .filter(queues::id.eq_any(chunk).or(queues::slug.eq_any(chunk)))
                .select(Queue::as_select())
                .load(conn)?;
            for reference in chunk {
                let by_id = rows.iter().find(|q| &q.id == reference);
                let chosen = by_id.or_else(|| rows.iter().find(|q| &q.slug == reference));
                if let Some(queue) = chosen {
                    found.queues.insert(reference.clone(), queue.clone());
                }
            }
        }
        for chunk in emails.chunks(CHUNK) {
            let rows: Vec<Agent> = agents::table
                .filter(agents::email.eq_any(chunk))
                .select(Agent::as_select())
                .load(conn)?;
            for agent in rows {
                if agent.role.parse::<Role>().is_ok_and(Role::is_person_role) {
                    found.agents.insert(agent.email.clone(), agent);
                }
            }
        }
        for chunk in policy_ids.chunks(CHUNK) {
            let rows: Vec<String> = sla_policies::table
                .filter(sla_policies::id.eq_any(chunk))
                .select(sla_policies::id)
                .load(conn)?;
            found.policies.extend(rows);
        }
        Ok(found)
    }

    /// Whether everything the record names exists; adds an error for each
    /// reference that does not.
    fn check(&self, errors: &mut Errors, record: &Record) -> bool {
        let before = errors.0.len();
        if let Some(reference) = &record.queue {
            if !self.queues.contains_key(reference) {
                errors.add(&record.field("queue"), format!("no queue '{reference}'"));
            }
        }
        if let Some(id) = &record.sla_policy_id {
            if !self.policies.contains(id) {
                errors.add(
                    &record.field("sla_policy_id"),
                    format!("no SLA policy '{id}'"),
                );
            }
        }
        for entry in &record.entries {
            match &entry.step {
                Step::Queue(Some(reference)) if !self.queues.contains_key(reference) => {
                    errors.add(
                        &format!("{}.queue", entry.field),
                        format!("no queue '{reference}'"),
                    );
                }
                Step::Assign(Some(email))
                | Step::Message {
                    agent_email: Some(email),
                    ..
                } if !self.agents.contains_key(email) => {
                    errors.add(
                        &format!("{}.agent_email", entry.field),
                        format!("no agent '{email}'"),
                    );
                }
                _ => {}
            }
        }
        errors.0.len() == before
    }
}

/// The tickets imported before, by external id: their id and number.
fn imported_before(
    conn: &mut DbConnection,
    records: &[Record],
) -> AppResult<HashMap<String, (String, i64)>> {
    let ids: Vec<String> = records
        .iter()
        .filter(|r| !r.external_id.is_empty())
        .map(|r| r.external_id.clone())
        .collect();
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, String, i64)> = ticket_imports::table
            .inner_join(tickets::table)
            .filter(ticket_imports::external_id.eq_any(chunk))
            .select((ticket_imports::external_id, tickets::id, tickets::number))
            .load(conn)?;
        found.extend(
            rows.into_iter()
                .map(|(ext, id, number)| (ext, (id, number))),
        );
    }
    Ok(found)
}

fn import_in_transaction(
    conn: &mut WriteConn<'_>,
    caller: &Principal,
    records: &[Record],
    mut errors: Errors,
) -> AppResult<ImportAnswer> {
    let now = conn.now();
    let before = imported_before(conn, records)?;
    let fresh: Vec<&Record> = records
        .iter()
        .filter(|r| !before.contains_key(&r.external_id))
        .collect();
    let directory = Directory::load(conn, &fresh)?;
    let importer = caller.actor();
    let mut walked = Vec::with_capacity(fresh.len());
    for record in fresh {
        if directory.check(&mut errors, record) && record.clean {
            walked.extend(walk(&mut errors, record, &directory, now));
        }
    }
    errors.finish()?;

    let mut made: HashMap<usize, (String, i64)> = HashMap::new();
    for ticket in walked {
        let index = ticket.record.index;
        made.insert(index, write(conn, ticket, &importer, now)?);
    }
    let tickets = records
        .iter()
        .map(|record| {
            let (created, (id, number)) = match made.remove(&record.index) {
                Some(new) => (true, new),
                None => (
                    false,
                    before.get(&record.external_id).cloned().ok_or_else(|| {
                        AppError::Internal(format!(
                            "import record {} was neither written nor found",
                            record.index
                        ))
                    })?,
                ),
            };
            Ok(Imported {
                external_id: record.external_id.clone(),
                id,
                number,
                created,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ImportAnswer { tickets })
}

/// Who an imported event is by.
#[derive(Debug, Clone)]
enum Actor {
    Customer,
    Agent(String),
    /// The admin whose token imports: status, priority and queue changes
    /// and assignments name nobody in the record.
    Importer,
    System,
}

/// A record's history as the ticket, messages and events it makes.
struct Walked<'r> {
    record: &'r Record,
    /// Its `customer_id` (and its customer messages' author) is filled in
    /// when the customer is found or created.
    ticket: Ticket,
    messages: Vec<Message>,
    events: Vec<(String, NaiveDateTime, Actor, EventData)>,
}

/// An id of the record's own time (see [`crate::clock::historical_id`]).
fn id_at(at: NaiveDateTime, seq: u16) -> String {
    crate::clock::historical_id(at, seq, rand::random())
}

/// Walks a record's history from a new ticket, as live changes would have
/// gone; `None` (with the errors added) when the history is not one a
/// ticket can have had.
fn walk<'r>(
    errors: &mut Errors,
    record: &'r Record,
    directory: &Directory,
    now: NaiveDateTime,
) -> Option<Walked<'r>> {
    let created_at = record.created_at;
    let mut queue: Option<&Queue> = record.queue.as_ref().map(|r| &directory.queues[r]);
    let mut assignee: Option<&Agent> = None;
    let mut ticket = Ticket {
        id: id_at(created_at, 0),
        number: 0,
        subject: record.subject.clone(),
        status: Status::New.as_str().into(),
        priority: record.priority.as_str().into(),
        channel: record.channel.as_str().into(),
        queue_id: None,
        assignee_id: None,
        customer_id: String::new(),
        tags: serde_json::to_string(&record.tags).expect("tags serialise"),
        custom_fields: "{}".into(),
        language: None,
        access_token_hash: hash_secret(&generate_secret()),
        follow_up_of: None,
        version: 1,
        created_at,
        updated_at: created_at,
        solved_at: None,
        closed_at: None,
        sla_policy_id: record.sla_policy_id.clone(),
        queued_at: None,
    };
    let (mut message_seq, mut event_seq) = (0u16, 0u16);
    let next = |seq: &mut u16| {
        *seq = seq.wrapping_add(1);
        *seq
    };
    let mut status = Status::New;
    let mut priority = record.priority;
    let mut waiting_since = created_at;
    let mut messages: Vec<Message> = Vec::new();
    let mut events = vec![(
        id_at(created_at, next(&mut event_seq)),
        created_at,
        Actor::Customer,
        EventData::Created {
            channel: record.channel,
            priority,
            queue: queue.map(queue_ref),
            follow_up_of: None,
        },
    )];
    // The customer answers by mail on an email ticket, else on its page.
    let reply_channel = if record.channel == Channel::Email {
        Channel::Email
    } else {
        Channel::Web
    };
    let mut opening: Option<String> = None;
    let failed = errors.0.len();
    for entry in &record.entries {
        let at = entry.at;
        if status.is_final() {
            errors.add(
                &entry.field,
                format!(
                    "the ticket was closed at {}; closed is final and nothing may follow",
                    ticket.closed_at.unwrap_or(at).and_utc().to_rfc3339()
                ),
            );
            break;
        }
        let mut said: Vec<(Actor, EventData)> = Vec::new();
        match &entry.step {
            Step::Message {
                author,
                agent_email,
                public,
                body,
            } => {
                let agent = agent_email.as_ref().map(|e| &directory.agents[e]);
                let channel = match (author, &opening) {
                    (Author::Customer, None) => record.channel,
                    (Author::Customer, Some(_)) => reply_channel,
                    (Author::Agent, _) => Channel::Api,
                };
                let message = Message {
                    id: id_at(at, next(&mut message_seq)),
                    ticket_id: ticket.id.clone(),
                    author_kind: match author {
                        Author::Customer => AuthorKind::Customer,
                        Author::Agent => AuthorKind::Agent,
                    }
                    .as_str()
                    .into(),
                    author_agent_id: agent.map(|a| a.id.clone()),
                    author_customer_id: None,
                    public: *public,
                    channel: channel.as_str().into(),
                    body_text: body.clone(),
                    body_html: None,
                    email_message_id: None,
                    email_in_reply_to: None,
                    email_references: None,
                    created_at: at,
                    automatic: false,
                };
                let message_id = message.id.clone();
                messages.push(message);
                if opening.is_none() {
                    // The ticket's first message: its `created` says it all.
                    if *author == Author::Agent {
                        errors.add(
                            &format!("{}.author", entry.field),
                            "the earliest message opens the ticket and must be the customer's",
                        );
                        break;
                    }
                    opening = Some(body.clone());
                    continue;
                }
                match (author, agent) {
                    (Author::Customer, _) => {
                        said.push((
                            Actor::Customer,
                            EventData::CustomerReplied {
                                message_id,
                                channel,
                                automatic: false,
                                threaded_by: None,
                                refused_attachments: Vec::new(),
                            },
                        ));
                        if status.reopens_on_customer_reply() {
                            said.push((
                                Actor::Customer,
                                change::reopen(
                                    &mut ticket,
                                    status,
                                    StatusReason::CustomerReplied,
                                    at,
                                ),
                            ));
                            status = Status::Open;
                        }
                    }
                    (Author::Agent, Some(agent)) if *public => {
                        let actor = Actor::Agent(agent.id.clone());
                        said.push((
                            actor.clone(),
                            EventData::Replied {
                                message_id,
                                channel: Channel::Api,
                            },
                        ));
                        if status == Status::New {
                            said.push((
                                actor,
                                change::reopen(&mut ticket, status, StatusReason::FirstReply, at),
                            ));
                            status = Status::Open;
                        }
                    }
                    (Author::Agent, Some(agent)) => said.push((
                        Actor::Agent(agent.id.clone()),
                        EventData::NoteAdded { message_id },
                    )),
                    (Author::Agent, None) => {
                        return None;
                    }
                }
            }
            Step::Status(to) => {
                let to = *to;
                if to == status {
                    continue;
                }
                if !status.can_become(to) {
                    errors.add(
                        &format!("{}.status", entry.field),
                        format!("a {status} ticket cannot become {to}"),
                    );
                    break;
                }
                change::set_status(&mut ticket, to, at);
                said.push((
                    Actor::Importer,
                    EventData::StatusChanged {
                        from: status,
                        to,
                        reason: None,
                    },
                ));
                status = to;
            }
            Step::Priority(to) => {
                if *to == priority {
                    continue;
                }
                said.push((
                    Actor::Importer,
                    EventData::PriorityChanged {
                        from: priority,
                        to: *to,
                    },
                ));
                priority = *to;
            }
            Step::Queue(reference) => {
                let target = reference.as_ref().map(|r| &directory.queues[r]);
                if target.map(|q| &q.id) == queue.map(|q| &q.id) {
                    continue;
                }
                said.push((Actor::Importer, moved(queue, target, None, None)));
                queue = target;
                // A hand-off lets the old vendor's agent go, as live.
                let owner = queue.map(|q| q.vendor_id.as_str());
                if let Some(holder) = assignee {
                    if holder
                        .vendor_id
                        .as_deref()
                        .is_some_and(|v| Some(v) != owner)
                    {
                        said.push((
                            Actor::Importer,
                            EventData::Unassigned {
                                from: agent_ref(holder),
                                reason: ReleaseReason::HandedOff,
                            },
                        ));
                        assignee = None;
                    }
                }
                if assignee.is_none() {
                    waiting_since = at;
                }
            }
            Step::Assign(email) => match email.as_ref().map(|e| &directory.agents[e]) {
                Some(agent) => {
                    if assignee.is_some_and(|held| held.id == agent.id) {
                        continue;
                    }
                    let owner = queue.map(|q| q.vendor_id.as_str());
                    if agent.vendor_id.as_deref().is_some_and(|v| Some(v) != owner) {
                        errors.add(
                            &format!("{}.agent_email", entry.field),
                            "the agent works for another vendor than the one owning the ticket's queue at that time",
                        );
                        break;
                    }
                    said.push((
                        Actor::Importer,
                        EventData::Assigned {
                            from: assignee.map(agent_ref),
                            to: agent_ref(agent),
                            by: Some(AssignedBy::Person),
                        },
                    ));
                    assignee = Some(agent);
                }
                None => {
                    let Some(holder) = assignee else { continue };
                    said.push((
                        Actor::Importer,
                        EventData::Unassigned {
                            from: agent_ref(holder),
                            reason: ReleaseReason::Unassigned,
                        },
                    ));
                    assignee = None;
                    waiting_since = at;
                }
            },
        }
        ticket.version += 1;
        ticket.updated_at = at;
        for (actor, data) in said {
            events.push((id_at(at, next(&mut event_seq)), at, actor, data));
        }
    }
    if errors.0.len() > failed {
        return None;
    }
    // A deactivated agent holds no open ticket (as when an agent is
    // deactivated live): the import gives it back to its queue, now.
    if let Some(holder) = assignee.filter(|a| !a.active && OPEN_STATUSES.contains(&status)) {
        events.push((
            id_at(now, next(&mut event_seq)),
            now,
            Actor::System,
            EventData::Unassigned {
                from: agent_ref(holder),
                reason: ReleaseReason::Deactivated,
            },
        ));
        assignee = None;
        waiting_since = now;
        ticket.version += 1;
        ticket.updated_at = now;
    }
    ticket.priority = priority.as_str().into();
    ticket.queue_id = queue.map(|q| q.id.clone());
    ticket.assignee_id = assignee.map(|a| a.id.clone());
    ticket.queued_at = (queue.is_some() && assignee.is_none()).then_some(waiting_since);
    ticket.language = crate::domain::language::detect(&format!(
        "{}\n{}",
        record.subject,
        opening.as_deref().unwrap_or_default()
    ));
    Some(Walked {
        record,
        ticket,
        messages,
        events,
    })
}

/// Writes one walked record: its customer, the ticket through the seam's
/// import (which computes its clocks), the external id; returns the
/// ticket's id and number.
fn write(
    conn: &mut WriteConn<'_>,
    walked: Walked<'_>,
    importer: &str,
    now: NaiveDateTime,
) -> AppResult<(String, i64)> {
    let Walked {
        record,
        mut ticket,
        mut messages,
        events,
    } = walked;
    let customer = upsert_customer(
        conn,
        &record.customer_email,
        record.customer_name.as_deref(),
    )?
    .customer;
    ticket.customer_id = customer.id.clone();
    for message in &mut messages {
        if message.author_kind == AuthorKind::Customer.as_str() {
            message.author_customer_id = Some(customer.id.clone());
        }
    }
    let customer_actor = format!("customer:{}", customer.id);
    let rows: Vec<TicketEvent> = events
        .iter()
        .map(|(id, at, actor, data)| {
            let actor = match actor {
                Actor::Customer => customer_actor.clone(),
                Actor::Agent(id) => format!("agent:{id}"),
                Actor::Importer => importer.to_string(),
                Actor::System => SYSTEM_ACTOR.to_string(),
            };
            events::row(id.clone(), &ticket.id, &actor, data, *at)
        })
        .collect();
    change::import(conn, &mut ticket, &messages, &rows)?;
    diesel::insert_into(ticket_imports::table)
        .values(ImportRow {
            external_id: record.external_id.clone(),
            ticket_id: ticket.id.clone(),
            imported_at: now,
        })
        .execute(&mut **conn)?;
    count_reached_as_announced(conn, &ticket.id, now)?;
    Ok((ticket.id, ticket.number))
}

/// The warnings and breaches an imported history had reached before now
/// count as announced (by the help desk it came from): the scanner neither
/// announces them again nor runs their escalations (no mail about old
/// tickets), and looks at the ticket again only for what comes due later.
fn count_reached_as_announced(
    conn: &mut WriteConn<'_>,
    ticket_id: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let stored = tracking::load_stored(conn, ticket_id)?;
    if stored.summary.is_none() {
        return Ok(());
    }
    let mut given = notices::Notices::default();
    let mut gave = false;
    for clock in &stored.clocks {
        while let Some((threshold, at)) = notices::next_threshold(clock, &given) {
            if at > now {
                break;
            }
            notices::give(conn, clock, threshold, at)?;
            given.insert(clock, threshold);
            gave = true;
        }
    }
    if gave {
        diesel::update(ticket_sla::table.find(ticket_id))
            .set(ticket_sla::attention_at.eq(notices::attention_at(&stored.clocks, &given)))
            .execute(&mut **conn)?;
    }
    Ok(())
}
