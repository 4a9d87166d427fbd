//! Mail about tickets that people write: an agent's public reply goes to the
//! ticket's customer and participants, threaded on the ticket's mail, through
//! the outbox (so it commits with the reply itself).

use super::ingest::reply_addresses;
use super::outbox::{self, OutgoingKind, OutgoingMail};
use super::reply_address::ReplyAddresses;
use crate::config::Settings;
use crate::db::models::{Customer, Ticket};
use crate::db::schema::{messages, outbox as outbox_table, ticket_participants};
use crate::db::{DbConnection, WriteConn};
use crate::domain::AuthorKind;
use crate::error::{AppError, AppResult};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Message-IDs kept in `References` at most (the first one and the latest).
const MAX_REFERENCES: usize = 20;

/// Queues the email for an agent's public reply; returns the Message-ID it
/// will carry (stored on the agent's message, so a reply to it threads by
/// In-Reply-To), or `None` when there is nobody to send it to.
pub fn agent_reply(
    conn: &mut WriteConn<'_>,
    settings: &Settings,
    ticket: &Ticket,
    customer: &Customer,
    body: &str,
) -> AppResult<Option<String>> {
    let replies = reply_addresses(conn, settings)?;
    let limit = settings.email.max_participants;
    let Some((to, cc)) = recipients(conn, &replies, &ticket.id, customer, limit)? else {
        return Ok(None);
    };
    let text = Reply {
        body,
        number: ticket.number,
        from_name: &settings.email.from_name,
    };
    let html = ReplyHtml { inner: &text };
    let render = |e: askama::Error| AppError::failed("the reply template", e);
    let mail = OutgoingMail {
        ticket_id: ticket.id.clone(),
        ticket_number: ticket.number,
        kind: OutgoingKind::Reply,
        to,
        cc,
        subject: ticket.subject.clone(),
        body_text: text.render().map_err(render)?,
        body_html: Some(html.render().map_err(render)?),
        thread: thread_of(conn, &ticket.id)?,
        automatic: false,
    };
    outbox::enqueue(conn, settings, &replies, mail).map(|queued| Some(queued.message_id))
}

/// To the customer, Cc the ticket's first `max_participants` participants,
/// once each, never ourselves (then the first participant stands in To).
/// `None` when nobody is left.
fn recipients(
    conn: &mut DbConnection,
    replies: &ReplyAddresses,
    ticket_id: &str,
    customer: &Customer,
    max_participants: usize,
) -> AppResult<Option<(String, Vec<String>)>> {
    let participants: Vec<String> = ticket_participants::table
        .filter(ticket_participants::ticket_id.eq(ticket_id))
        .order(ticket_participants::added_at.asc())
        .select(ticket_participants::email)
        .limit(i64::try_from(max_participants).unwrap_or(i64::MAX))
        .load(conn)?;
    let mut all: Vec<String> = Vec::new();
    for email in std::iter::once(&customer.email).chain(&participants) {
        let email = email.to_lowercase();
        if !replies.is_ours(&email) && !all.contains(&email) {
            all.push(email);
        }
    }
    if all.is_empty() {
        return Ok(None);
    }
    let to = all.remove(0);
    Ok(Some((to, all)))
}

/// The Message-IDs a reply continues: every mail of the ticket (received and
/// sent) oldest first, with the customer's latest message last, so it is the
/// one In-Reply-To names.
fn thread_of(conn: &mut DbConnection, ticket_id: &str) -> AppResult<Vec<String>> {
    let received: Vec<(NaiveDateTime, Option<String>, String)> = messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(messages::email_message_id.is_not_null())
        .select((
            messages::created_at,
            messages::email_message_id,
            messages::author_kind,
        ))
        .load(conn)?;
    let sent: Vec<(NaiveDateTime, String)> = outbox_table::table
        .filter(outbox_table::ticket_id.eq(ticket_id))
        .select((outbox_table::created_at, outbox_table::message_id))
        .load(conn)?;
    let mut mails: Vec<(NaiveDateTime, String, bool)> = received
        .into_iter()
        .filter_map(|(at, id, author)| {
            id.map(|id| (at, id, author == AuthorKind::Customer.as_str()))
        })
        .chain(sent.into_iter().map(|(at, id)| (at, id, false)))
        .collect();
    mails.sort_by_key(|m| m.0);
    Ok(order_thread(mails))
}

/// Oldest first without duplicates, the parent (the customer's latest mail,
/// else the latest of all) moved to the end, trimmed to `MAX_REFERENCES`.
fn order_thread(mails: Vec<(NaiveDateTime, String, bool)>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut parent: Option<String> = None;
    for (_, id, from_customer) in mails {
        if from_customer {
            parent = Some(id.clone());
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if let Some(parent) = parent {
        ids.retain(|id| *id != parent);
        ids.push(parent);
    }
    if ids.len() > MAX_REFERENCES {
        ids.drain(1..ids.len() - (MAX_REFERENCES - 1));
    }
    ids
}

#[derive(Template)]
#[template(path = "email/reply.txt")]
struct Reply<'a> {
    body: &'a str,
    number: i64,
    from_name: &'a str,
}

#[derive(Template)]
#[template(path = "email/reply.html")]
struct ReplyHtml<'a> {
    inner: &'a Reply<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn at(seconds: i64) -> NaiveDateTime {
        DateTime::from_timestamp(seconds, 0).unwrap().naive_utc()
    }

    #[test]
    fn the_customers_latest_mail_is_the_parent() {
        let mails = vec![
            (at(1), "first@customer".to_string(), true),
            (at(2), "ack@relay".to_string(), false),
            (at(3), "second@customer".to_string(), true),
            (at(4), "reply@relay".to_string(), false),
            (at(4), "reply@relay".to_string(), false),
        ];
        assert_eq!(
            order_thread(mails),
            [
                "first@customer",
                "ack@relay",
                "reply@relay",
                "second@customer"
            ]
        );
    }

    #[test]
    fn without_customer_mail_the_latest_is_the_parent_and_long_threads_are_trimmed() {
        let mails: Vec<_> = (0..30)
            .map(|i| (at(i), format!("{i}@relay"), false))
            .collect();
        let thread = order_thread(mails);
        assert_eq!(thread.len(), MAX_REFERENCES);
        assert_eq!(thread.first().unwrap(), "0@relay");
        assert_eq!(thread.last().unwrap(), "29@relay");
        assert_eq!(thread[1], "11@relay");
    }

    #[test]
    fn the_reply_body_is_escaped_in_html_and_kept_in_text() {
        let text = Reply {
            body: "Use <b> & reboot",
            number: 10042,
            from_name: "Support",
        };
        assert!(text.render().unwrap().starts_with("Use <b> & reboot"));
        let html = ReplyHtml { inner: &text }.render().unwrap();
        assert!(html.contains("Use &#60;b&#62; &#38; reboot") || html.contains("&lt;b&gt;"));
        assert!(html.contains("#10042"));
    }
}
