//! The one pipeline every inbound message goes through, whichever door it
//! came in by (HTTP endpoint, MTA pipe, IMAP). One transaction per message:
//! the raw message, its ticket change and any acknowledgement commit together,
//! and the unique dedupe key makes a second delivery of the same message,
//! even a concurrent one, a no-op. The raw message is written last, with its
//! outcome: a second delivery fails on the key and rolls back everything it
//! did (rare, so cheaper than writing the row first and updating it after).

use super::acknowledgement::{self, New};
use super::classify::{classify, InboundKind};
use super::compose;
use super::parse::{parse, ParsedMail};
use super::reply_address::ReplyAddresses;
use super::thread::{self, subject_ticket_number, Candidate, Decision, Evidence, Rule};
use crate::attachments::{self, Upload};
use crate::config::Settings;
use crate::db::models::{Agent, Customer, InboundMessage, Message, Ticket, TicketParticipant};
use crate::db::schema::outbox as outbox_table;
use crate::db::schema::{
    agents, customers, inbound_messages, messages, queues, ticket_participants, tickets,
};
use crate::db::{
    is_unique_violation, lock_and_load_ticket, write_tx, Conn, DbConnection, WriteConn,
};
use crate::domain::event::{EventData, StatusReason};
use crate::domain::{AuthorKind, Channel, Priority, Status};
use crate::error::{AppError, AppResult};
use crate::intake::{
    self, AfterCreate, Created, IntakeContext, MailDetails, RoutingHints, Submission,
};
use crate::tickets::change::{self, SYSTEM_ACTOR};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Appended,
    Duplicate,
    Ignored,
    Bounced,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Appended => "appended",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Bounced => "bounced",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketLink {
    pub id: String,
    pub number: i64,
}

/// What happened to a delivered message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IngestResult {
    pub outcome: Outcome,
    pub ticket: Option<TicketLink>,
    pub reason: Option<String>,
}

impl IngestResult {
    fn new(
        outcome: Outcome,
        ticket: Option<TicketLink>,
        reason: impl Into<Option<String>>,
    ) -> Self {
        IngestResult {
            outcome,
            ticket,
            reason: reason.into(),
        }
    }
}

/// One delivery of one raw message.
pub struct Delivery<'a> {
    pub raw: &'a [u8],
    /// `http`, `mailgate`, `imap:<mailbox>`: kept with the raw message.
    pub source: &'a str,
    /// Queue (id or slug) for new tickets from this door, if configured.
    pub queue_hint: Option<&'a str>,
}

/// Identifies a message across deliveries: its Message-ID, or a hash of the
/// raw bytes when it has none.
pub fn dedupe_key(parsed: Option<&ParsedMail>, raw: &[u8]) -> String {
    match parsed.and_then(|p| p.message_id.as_deref()) {
        Some(id) => format!("mid:{}", id.to_lowercase()),
        None => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
    }
}

pub fn reply_addresses(conn: &mut WriteConn<'_>, settings: &Settings) -> AppResult<ReplyAddresses> {
    let secret = super::secrets::cached(conn, &settings.database.url, "reply_address")?;
    Ok(ReplyAddresses::new(
        &settings.email.support_address,
        secret.as_bytes(),
    ))
}

pub fn ingest(
    conn: &mut Conn,
    settings: &Settings,
    delivery: &Delivery<'_>,
) -> AppResult<IngestResult> {
    if delivery.raw.len() > settings.email.max_message_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "the message is {} and the limit is {}",
            attachments::human_size(delivery.raw.len()),
            attachments::human_size(settings.email.max_message_bytes)
        )));
    }
    let parsed = parse(delivery.raw);
    let key = dedupe_key(parsed.as_ref(), delivery.raw);
    let attempt = write_tx(conn, |conn| {
        let now = conn.now();
        let replies = reply_addresses(conn, settings)?;
        let result = match &parsed {
            Some(mail) => Pipeline {
                conn,
                settings,
                replies: &replies,
                delivery,
                now,
            }
            .process(mail)?,
            None => IngestResult::new(
                Outcome::Ignored,
                None,
                "the message could not be parsed; it is kept for inspection".to_string(),
            ),
        };
        keep_raw(conn, delivery, &key, &result)?;
        Ok(result)
    });
    match attempt {
        Err(AppError::Database(err)) if is_unique_violation(&err) => {
            duplicate_of(conn, &key)?.ok_or(AppError::Database(err))
        }
        Ok(result) => {
            if result.outcome == Outcome::Created {
                crate::metrics::ticket_created(Channel::Email);
            }
            Ok(result)
        }
        Err(err) if is_transient(&err) => Err(err),
        Err(err) => set_aside(conn, delivery, &key, &err),
    }
}

/// Writes the raw message with its outcome: the last statement of its
/// transaction, whose unique key makes a second delivery fail.
fn keep_raw(
    conn: &mut WriteConn<'_>,
    delivery: &Delivery<'_>,
    key: &str,
    result: &IngestResult,
) -> AppResult<()> {
    let inbound = InboundMessage {
        id: conn.new_id(),
        dedupe_key: key.to_string(),
        source: delivery.source.to_string(),
        raw: delivery.raw.to_vec(),
        size: delivery.raw.len() as i64,
        outcome: result.outcome.as_str().into(),
        reason: result.reason.clone(),
        ticket_id: result.ticket.as_ref().map(|t| t.id.clone()),
        received_at: conn.now(),
    };
    diesel::insert_into(inbound_messages::table)
        .values(&inbound)
        .execute(&mut **conn)?;
    Ok(())
}

/// A message the pipeline can never take (the database refuses something
/// in it, a bug): kept raw and answered `ignored` with the reason, so the
/// door that delivered it does not offer it again and again (mailgate
/// would exit 75 forever, IMAP would stop the mailbox at it).
fn set_aside(
    conn: &mut Conn,
    delivery: &Delivery<'_>,
    key: &str,
    err: &AppError,
) -> AppResult<IngestResult> {
    tracing::error!(source = delivery.source, error = %crate::error::cause_chain(&err), "an inbound message cannot be stored; it is kept raw and ignored");
    let result = IngestResult::new(
        Outcome::Ignored,
        None,
        format!(
            "the message cannot be stored ({}); it is kept for inspection",
            failure_reason(err)
        ),
    );
    let kept = write_tx(conn, |conn| keep_raw(conn, delivery, key, &result));
    match kept {
        Ok(()) => Ok(result),
        Err(AppError::Database(err)) if is_unique_violation(&err) => {
            duplicate_of(conn, key)?.ok_or(AppError::Database(err))
        }
        Err(err) => Err(err),
    }
}

/// What the delivering door is told: field messages are meant for people;
/// database and internal details stay in the log.
fn failure_reason(err: &AppError) -> String {
    match err {
        AppError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        AppError::Database(_) => "the database refused it".into(),
        AppError::Internal(_) => "an internal error".into(),
        other => other.to_string(),
    }
}

/// Whether the same message may be taken when tried again later: the
/// database was unreachable or busy, or chose this transaction to abort in
/// a conflict. Anything else (a value the database refuses, a bug) fails
/// the same way every time.
pub fn is_transient(err: &AppError) -> bool {
    match err {
        AppError::Unavailable(_) | AppError::TooManyRequests(_) => true,
        AppError::Database(err) => crate::db::is_transient(err),
        _ => false,
    }
}

/// The answer for a message that was already stored.
fn duplicate_of(conn: &mut DbConnection, key: &str) -> AppResult<Option<IngestResult>> {
    let earlier: Option<Option<String>> = inbound_messages::table
        .filter(inbound_messages::dedupe_key.eq(key))
        .select(inbound_messages::ticket_id)
        .first(conn)
        .optional()?;
    let Some(ticket_id) = earlier else {
        return Ok(None);
    };
    let ticket = match ticket_id {
        Some(id) => Some(link(conn, &id)?),
        None => None,
    };
    Ok(Some(IngestResult::new(
        Outcome::Duplicate,
        ticket,
        "this message was already delivered".to_string(),
    )))
}

fn link(conn: &mut DbConnection, ticket_id: &str) -> AppResult<TicketLink> {
    let number = tickets::table
        .find(ticket_id)
        .select(tickets::number)
        .first(conn)?;
    Ok(TicketLink {
        id: ticket_id.to_string(),
        number,
    })
}

/// How a message names the ticket it may belong to.
enum TicketKey<'k> {
    /// The newest ticket with a message Relay received under one of these Message-IDs.
    Received(&'k [String]),
    /// The newest ticket Relay sent mail about under one of these Message-IDs.
    Sent(&'k [String]),
    Number(i64),
}

/// A ticket the message may belong to, with its customer (usually the one
/// writing, so appending needs no second look-up).
struct Found {
    candidate: Candidate,
    customer: Customer,
}

struct Pipeline<'a, 'c, 'w> {
    conn: &'c mut WriteConn<'w>,
    settings: &'a Settings,
    replies: &'a ReplyAddresses,
    delivery: &'a Delivery<'a>,
    now: NaiveDateTime,
}

impl Pipeline<'_, '_, '_> {
    fn process(&mut self, mail: &ParsedMail) -> AppResult<IngestResult> {
        let Some(sender) = mail
            .from_address
            .clone()
            .filter(|s| crate::domain::validate::normalize_email(s).is_some())
        else {
            return Ok(IngestResult::new(
                Outcome::Ignored,
                None,
                "the message has no usable From address".to_string(),
            ));
        };
        let kind = classify(&mail.facts, &self.settings.email.message_id_domain);
        let automatic = match &kind {
            InboundKind::OwnMail => {
                return Ok(IngestResult::new(
                    Outcome::Ignored,
                    None,
                    "mail Relay sent itself".to_string(),
                ))
            }
            InboundKind::Bounce => return self.record_bounce(mail),
            InboundKind::Automatic { .. } => true,
            InboundKind::Regular => false,
        };
        if self.is_ours(&sender) {
            return Ok(IngestResult::new(
                Outcome::Ignored,
                None,
                "sent from Relay's own address".to_string(),
            ));
        }
        let reason = match &kind {
            InboundKind::Automatic { reason } => {
                Some(format!("automatic mail ({reason}): not acknowledged"))
            }
            _ => None,
        };
        // Each kind of evidence is looked up only when the more trusted ones
        // found nothing: `decide` takes the first that names a ticket.
        let by_message_id = self.candidate_by_message_ids(&mail.referenced_ids)?;
        let by_reply_address = match mail
            .recipients()
            .find_map(|r| self.replies.ticket_number(r))
            .filter(|_| by_message_id.is_none())
        {
            Some(number) => self.candidate(TicketKey::Number(number))?,
            None => None,
        };
        let by_subject_token = match subject_ticket_number(&mail.subject)
            .filter(|_| by_message_id.is_none() && by_reply_address.is_none())
        {
            Some(number) => self.candidate(TicketKey::Number(number))?,
            None => None,
        };
        let evidence = Evidence {
            sender: &sender,
            by_message_id: by_message_id.as_ref().map(|f| &f.candidate),
            by_reply_address: by_reply_address.as_ref().map(|f| &f.candidate),
            by_subject_token: by_subject_token.as_ref().map(|f| &f.candidate),
        };
        match thread::decide(&evidence) {
            Decision::Append { ticket_id, rule } => {
                let chosen = [by_message_id, by_reply_address, by_subject_token]
                    .into_iter()
                    .flatten()
                    .find(|f| f.candidate.ticket_id == ticket_id)
                    .ok_or_else(|| {
                        AppError::Internal("threading chose a ticket it was not given".into())
                    })?;
                let link = self.append(&chosen, &sender, mail, automatic, rule)?;
                Ok(IngestResult::new(Outcome::Appended, Some(link), reason))
            }
            Decision::FollowUp {
                closed_ticket_id, ..
            } => {
                let link = self.create(&sender, mail, automatic, Some(closed_ticket_id))?;
                Ok(IngestResult::new(
                    Outcome::Created,
                    Some(link),
                    reason.or(Some(
                        "a reply to a closed ticket: opened a follow-up".into(),
                    )),
                ))
            }
            Decision::New => {
                let link = self.create(&sender, mail, automatic, None)?;
                Ok(IngestResult::new(Outcome::Created, Some(link), reason))
            }
        }
    }

    /// Our support address, its reply addresses, or one of the routed addresses.
    fn is_ours(&self, address: &str) -> bool {
        self.replies.is_ours(address) || self.routed_queue(address).is_some()
    }

    fn routed_queue(&self, address: &str) -> Option<&str> {
        self.settings
            .email
            .address_queues
            .iter()
            .find(|(routed, _)| routed.eq_ignore_ascii_case(address))
            .map(|(_, queue)| queue.as_str())
    }

    /// The queue for a new ticket: the first recipient address with a
    /// configured queue, else the door's hint. A queue that does not exist
    /// is logged and skipped, never a reason to lose the message.
    fn queue_for(&mut self, mail: &ParsedMail) -> AppResult<Option<String>> {
        let by_address = mail.recipients().find_map(|r| self.routed_queue(r));
        let Some(wanted) = by_address.or(self.delivery.queue_hint).map(str::to_string) else {
            return Ok(None);
        };
        let exists: i64 = queues::table
            .filter(queues::slug.eq(&wanted).or(queues::id.eq(&wanted)))
            .count()
            .get_result(&mut **self.conn)?;
        if exists == 0 {
            tracing::warn!(queue = %wanted, "mail was meant for a queue that does not exist; the ticket stays unrouted");
            return Ok(None);
        }
        Ok(Some(wanted))
    }

    fn candidate_by_message_ids(&mut self, ids: &[String]) -> AppResult<Option<Found>> {
        if ids.is_empty() {
            return Ok(None);
        }
        match self.candidate(TicketKey::Received(ids))? {
            Some(found) => Ok(Some(found)),
            None => self.candidate(TicketKey::Sent(ids)),
        }
    }

    /// A ticket with its customer and the addresses that may thread into it
    /// by subject token (the customer and the participants), in one query:
    /// one row per participant, or one row without a participant.
    fn candidate(&mut self, key: TicketKey<'_>) -> AppResult<Option<Found>> {
        let query = tickets::table
            .inner_join(customers::table)
            .left_join(ticket_participants::table)
            .select((
                tickets::id,
                tickets::number,
                tickets::status,
                Customer::as_select(),
                ticket_participants::email.nullable(),
            ))
            .into_boxed();
        let query = match key {
            TicketKey::Received(ids) => query.filter(
                tickets::id.nullable().eq(messages::table
                    .filter(messages::email_message_id.eq_any(ids))
                    .order(messages::created_at.desc())
                    .select(messages::ticket_id)
                    .limit(1)
                    .single_value()),
            ),
            TicketKey::Sent(ids) => query.filter(
                tickets::id.nullable().eq(outbox_table::table
                    .filter(outbox_table::message_id.eq_any(ids))
                    .filter(outbox_table::ticket_id.is_not_null())
                    .order(outbox_table::created_at.desc())
                    .select(outbox_table::ticket_id)
                    .limit(1)
                    .single_value()),
            ),
            TicketKey::Number(number) => query.filter(tickets::number.eq(number)),
        };
        let rows =
            query.load::<(String, i64, String, Customer, Option<String>)>(&mut **self.conn)?;
        let Some((ticket_id, number, status, customer, _)) = rows.first().cloned() else {
            return Ok(None);
        };
        let mut known_senders: Vec<String> = rows.into_iter().filter_map(|row| row.4).collect();
        known_senders.push(customer.email.clone());
        Ok(Some(Found {
            candidate: Candidate {
                ticket_id,
                number,
                closed: status == Status::Closed.as_str(),
                known_senders,
            },
            customer,
        }))
    }

    fn record_bounce(&mut self, mail: &ParsedMail) -> AppResult<IngestResult> {
        let report = mail.bounce.clone().unwrap_or_default();
        let ids: Vec<String> = report
            .original_message_id
            .iter()
            .cloned()
            .chain(mail.referenced_ids.iter().cloned())
            .collect();
        let Some(Found { candidate, .. }) = self.candidate(TicketKey::Sent(&ids))? else {
            return Ok(IngestResult::new(
                Outcome::Bounced,
                None,
                "a bounce for no message Relay sent".to_string(),
            ));
        };
        change::note(
            self.conn,
            &candidate.ticket_id,
            SYSTEM_ACTOR,
            &[EventData::DeliveryFailed {
                failed_recipients: report.failed_recipients.clone(),
                outbox_id: None,
                mail_kind: None,
                attempts: None,
                error: None,
                original_message_id: report.original_message_id.clone(),
                diagnostic: report.diagnostic.clone(),
            }],
        )?;
        Ok(IngestResult::new(
            Outcome::Bounced,
            Some(TicketLink {
                id: candidate.ticket_id,
                number: candidate.number,
            }),
            format!(
                "delivery failed for {}",
                report.failed_recipients.join(", ")
            ),
        ))
    }

    /// Attachments within the size limit, at most `intake.max_attachments`
    /// of them (the first ones), and a note of each one refused.
    fn accepted_attachments(&self, mail: &ParsedMail) -> (Vec<Upload>, Vec<String>) {
        let max_bytes = self.settings.intake.max_attachment_bytes;
        let max_count = self.settings.intake.max_attachments;
        let mut kept = Vec::new();
        let mut refused = Vec::new();
        for attachment in &mail.attachments {
            let size = attachments::human_size(attachment.bytes.len());
            if attachment.bytes.len() > max_bytes {
                refused.push(format!(
                    "{} ({size}, over the {} limit)",
                    attachment.filename,
                    attachments::human_size(max_bytes)
                ));
            } else if kept.len() >= max_count {
                refused.push(format!(
                    "{} ({size}, over the limit of {max_count} attachments)",
                    attachment.filename
                ));
            } else {
                kept.push(attachment.clone());
            }
        }
        (kept, refused)
    }

    /// The addresses a customer's mail names besides the sender and us,
    /// valid and once each, cut at `room`; and how many were cut.
    fn addressed(&self, sender: &str, mail: &ParsedMail, room: usize) -> (Vec<String>, usize) {
        let mut named: Vec<String> = Vec::new();
        // A mail may name thousands: no quadratic search for duplicates.
        let mut seen = std::collections::HashSet::new();
        for address in mail.to.iter().chain(&mail.cc) {
            let Some(address) = crate::domain::validate::normalize_email(address) else {
                continue;
            };
            if address != sender && !self.is_ours(&address) && seen.insert(address.clone()) {
                named.push(address);
            }
        }
        let cut = named.len().saturating_sub(room);
        named.truncate(room);
        (named, cut)
    }

    fn create(
        &mut self,
        sender: &str,
        mail: &ParsedMail,
        automatic: bool,
        follow_up_of: Option<String>,
    ) -> AppResult<TicketLink> {
        let (uploads, refused) = self.accepted_attachments(mail);
        let (participants, not_added) =
            self.addressed(sender, mail, self.settings.email.max_participants);
        let hint = self.queue_for(mail)?;
        let submission = Submission {
            subject: truncate(
                if mail.subject.is_empty() {
                    "(no subject)"
                } else {
                    &mail.subject
                },
                intake::MAX_SUBJECT,
            ),
            body: if mail.text.is_empty() {
                "(empty message)".into()
            } else {
                mail.text.clone()
            },
            customer_email: sender.to_string(),
            customer_name: mail.from_name.clone(),
            priority: Priority::Normal,
            tags: Vec::new(),
            custom_fields: Default::default(),
            queue: None,
            language: None,
        };
        let settings = self.settings;
        let thread: Vec<String> = mail.message_id.iter().cloned().collect();
        let wanted = !automatic
            && settings
                .intake
                .acknowledge_channels
                .contains(&Channel::Email);
        let step = move |conn: &mut WriteConn<'_>, created: &Created| {
            let new = New {
                ticket: &created.ticket,
                new_customer: created.new_customer,
                access_token: created.access_token.as_deref(),
                thread: thread.clone(),
            };
            acknowledgement::send(conn, settings, &new).map(|event| vec![event])
        };
        let acknowledge = wanted.then_some(step);
        let created = intake::create_in_transaction(
            self.conn,
            &submission,
            &uploads,
            &IntakeContext {
                channel: Channel::Email,
                caller: None,
                idempotency: None,
                follow_up_of,
                mail: Some(&MailDetails {
                    automatic,
                    ..mail_details(mail)
                }),
                more_events: vec![EventData::EmailReceived {
                    source: self.delivery.source.to_string(),
                    recipients: mail.unique_recipients().into_iter().cloned().collect(),
                    automatic,
                    refused_attachments: refused,
                    participants_not_added: not_added,
                }],
                after_create: acknowledge.as_ref().map(|step| step as &AfterCreate<'_>),
                routing: RoutingHints {
                    hint,
                    recipients: mail.unique_recipients().into_iter().cloned().collect(),
                    default_queue: settings.routing.default_queue.clone(),
                },
            },
        )?;
        let ticket = created.ticket;
        self.add_participants(&ticket.id, &participants)?;
        Ok(TicketLink {
            id: ticket.id,
            number: ticket.number,
        })
    }

    /// Adds new participants (none of them one already) in one statement.
    fn add_participants(&mut self, ticket_id: &str, emails: &[String]) -> AppResult<()> {
        if emails.is_empty() {
            return Ok(());
        }
        let rows: Vec<TicketParticipant> = emails
            .iter()
            .map(|email| TicketParticipant {
                ticket_id: ticket_id.to_string(),
                email: email.to_lowercase(),
                added_at: self.now,
            })
            .collect();
        crate::insert_rows!(self.conn, ticket_participants::table, &rows)?;
        Ok(())
    }

    /// Who this reply makes a participant: the addresses the customer's own
    /// mail names, and a sender Relay invited (one answering mail Relay
    /// sent about this ticket, or writing to its signed reply address).
    /// Anyone else, such as a stranger who learnt one of the customer's
    /// Message-IDs, may add a message but receives no replies. Never more
    /// than `email.max_participants` in all.
    fn joining(
        &mut self,
        found: &Found,
        sender: &str,
        mail: &ParsedMail,
        rule: Rule,
    ) -> AppResult<Vec<String>> {
        let candidate = &found.candidate;
        // The customer is one of the known senders; the rest are participants.
        let participants = candidate.known_senders.len().saturating_sub(1);
        let room = self
            .settings
            .email
            .max_participants
            .saturating_sub(participants);
        let mut joining = Vec::new();
        if found.customer.email.eq_ignore_ascii_case(sender) {
            let (addressed, _) = self.addressed(sender, mail, usize::MAX);
            joining = addressed;
        } else if !candidate.knows(sender) {
            let invited = match rule {
                Rule::ReplyAddress => true,
                Rule::MessageId => self.answers_relay_mail(&candidate.ticket_id, mail)?,
                Rule::SubjectToken => false,
            };
            if invited {
                joining.push(sender.to_string());
            }
        }
        joining.retain(|address| !candidate.knows(address));
        joining.truncate(room);
        Ok(joining)
    }

    /// The active agent writing from `sender`, if they work for the vendor
    /// whose queue holds the ticket (a ticket in no queue has no such agent).
    fn holding_agent(&mut self, ticket: &Ticket, sender: &str) -> AppResult<Option<Agent>> {
        let Some(queue_id) = &ticket.queue_id else {
            return Ok(None);
        };
        let holder: String = queues::table
            .find(queue_id)
            .select(queues::vendor_id)
            .first(&mut **self.conn)?;
        Ok(agents::table
            .filter(agents::email.eq(sender.to_lowercase()))
            .filter(agents::active.eq(true))
            .filter(agents::vendor_id.eq(holder))
            .select(Agent::as_select())
            .first(&mut **self.conn)
            .optional()?)
    }

    /// An agent's emailed answer: their public reply, sent on to the
    /// customer and participants through the outbox like an API reply. It
    /// takes a new ticket to `open` and never re-opens one.
    fn append_agent_reply(
        &mut self,
        mut ticket: Ticket,
        customer: &Customer,
        agent: &Agent,
        mail: &ParsedMail,
    ) -> AppResult<TicketLink> {
        let (uploads, refused) = self.accepted_attachments(mail);
        if !refused.is_empty() {
            tracing::warn!(ticket = %ticket.id, ?refused, "attachments of an agent's emailed reply were refused");
        }
        let message = Message {
            author_kind: AuthorKind::Agent.as_str().into(),
            author_agent_id: Some(agent.id.clone()),
            ..self.message_from(&ticket, mail)
        };
        compose::agent_reply(
            self.conn,
            self.settings,
            &ticket,
            customer,
            &message.body_text,
        )?;
        let mut events = vec![EventData::Replied {
            message_id: message.id.clone(),
            channel: Channel::Email,
        }];
        let status: Status = ticket.status.parse().map_err(AppError::Internal)?;
        if status == Status::New {
            events.push(change::reopen(
                &mut ticket,
                status,
                StatusReason::FirstReply,
                self.now,
            ));
        }
        let actor = format!("agent:{}", agent.id);
        self.add_mail_message(ticket, &actor, message, events, &uploads)
    }

    /// A public message of `ticket` from this mail, by its customer until
    /// the caller says otherwise.
    fn message_from(&self, ticket: &Ticket, mail: &ParsedMail) -> Message {
        let details = mail_details(mail);
        Message {
            id: self.conn.new_id(),
            ticket_id: ticket.id.clone(),
            author_kind: AuthorKind::Customer.as_str().into(),
            author_agent_id: None,
            author_customer_id: None,
            public: true,
            channel: Channel::Email.as_str().into(),
            body_text: if mail.text.is_empty() {
                "(empty message)".into()
            } else {
                mail.text.clone()
            },
            body_html: details.body_html,
            email_message_id: details.message_id,
            email_in_reply_to: details.in_reply_to,
            email_references: details.references,
            created_at: self.now,
            automatic: false,
        }
    }

    /// Records the message and its events on the (locked) ticket, then its
    /// attachments.
    fn add_mail_message(
        &mut self,
        mut ticket: Ticket,
        actor: &str,
        message: Message,
        events: Vec<EventData>,
        uploads: &[Upload],
    ) -> AppResult<TicketLink> {
        let message_id = message.id.clone();
        change::add_message(self.conn, &mut ticket, actor, message, events)?;
        attachments::store(self.conn, &message_id, uploads)?;
        Ok(TicketLink {
            id: ticket.id,
            number: ticket.number,
        })
    }

    /// Whether the mail references a message Relay sent about this ticket.
    fn answers_relay_mail(&mut self, ticket_id: &str, mail: &ParsedMail) -> AppResult<bool> {
        if mail.referenced_ids.is_empty() {
            return Ok(false);
        }
        let sent: i64 = outbox_table::table
            .filter(outbox_table::ticket_id.eq(ticket_id))
            .filter(outbox_table::message_id.eq_any(&mail.referenced_ids))
            .count()
            .get_result(&mut **self.conn)?;
        Ok(sent > 0)
    }

    fn append(
        &mut self,
        found: &Found,
        sender: &str,
        mail: &ParsedMail,
        automatic: bool,
        rule: Rule,
    ) -> AppResult<TicketLink> {
        let candidate = &found.candidate;
        // Locked so a concurrent reply or agent change cannot interleave.
        let mut ticket = lock_and_load_ticket(self.conn, &candidate.ticket_id)?;
        // An agent answering the ticket's mail from their own mailbox. A
        // From address is easy to forge, so only mail that threads by
        // evidence Relay handed out (its Message-IDs, the signed reply
        // address) counts, never a subject token alone.
        if !automatic && rule != Rule::SubjectToken {
            if let Some(agent) = self.holding_agent(&ticket, sender)? {
                return self.append_agent_reply(ticket, &found.customer, &agent, mail);
            }
        }
        let knows_name = found.customer.name.is_some() || mail.from_name.is_none();
        let author = if found.customer.email.eq_ignore_ascii_case(sender) && knows_name {
            found.customer.clone()
        } else {
            intake::upsert_customer(self.conn, sender, mail.from_name.as_deref())?.customer
        };
        let joining = self.joining(found, sender, mail, rule)?;
        self.add_participants(&ticket.id, &joining)?;
        let (uploads, refused) = self.accepted_attachments(mail);
        let message = Message {
            author_customer_id: Some(author.id.clone()),
            automatic,
            ..self.message_from(&ticket, mail)
        };
        let mut events = vec![EventData::CustomerReplied {
            message_id: message.id.clone(),
            channel: Channel::Email,
            automatic,
            threaded_by: Some(rule),
            refused_attachments: refused,
        }];
        let status: Status = ticket.status.parse().map_err(AppError::Internal)?;
        // Automatic replies (out-of-office...) never re-open a ticket.
        if status.reopens_on_customer_reply() && !automatic {
            events.push(change::reopen(
                &mut ticket,
                status,
                StatusReason::CustomerReplied,
                self.now,
            ));
        }
        let actor = format!("customer:{}", author.id);
        self.add_mail_message(ticket, &actor, message, events, &uploads)
    }
}

fn mail_details(mail: &ParsedMail) -> MailDetails {
    MailDetails {
        body_html: mail.html.clone(),
        message_id: mail.message_id.clone(),
        in_reply_to: mail.referenced_ids.first().cloned(),
        references: (!mail.referenced_ids.is_empty()).then(|| mail.referenced_ids.join(" ")),
        automatic: false,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error as DieselError};

    fn database(kind: DatabaseErrorKind, message: &str) -> AppError {
        AppError::Database(DieselError::DatabaseError(
            kind,
            Box::new(message.to_string()),
        ))
    }

    #[test]
    fn only_an_unreachable_or_busy_database_is_worth_another_try() {
        for transient in [
            AppError::Unavailable("pool timed out".into()),
            database(
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection",
            ),
            database(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize",
            ),
            database(DatabaseErrorKind::Unknown, "database is locked"),
            database(DatabaseErrorKind::Unknown, "deadlock detected"),
        ] {
            assert!(is_transient(&transient), "{transient}");
        }
        for permanent in [
            database(
                DatabaseErrorKind::Unknown,
                "invalid byte sequence for encoding \"UTF8\": 0x00",
            ),
            database(DatabaseErrorKind::CheckViolation, "check failed"),
            AppError::Internal("template".into()),
            AppError::invalid("subject", "must not be empty"),
            AppError::PayloadTooLarge("too big".into()),
        ] {
            assert!(!is_transient(&permanent), "{permanent}");
        }
    }

    #[test]
    fn the_door_learns_field_problems_but_not_database_internals() {
        assert_eq!(
            failure_reason(&AppError::invalid("subject", "must not be empty")),
            "subject: must not be empty"
        );
        assert_eq!(
            failure_reason(&database(
                DatabaseErrorKind::Unknown,
                "relation secret_table"
            )),
            "the database refused it"
        );
    }
}
