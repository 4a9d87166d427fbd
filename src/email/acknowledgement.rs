//! The mail that tells a customer their ticket exists: its number, their
//! private link, and a Reply-To that threads their answer onto it. Sent for
//! new tickets from every channel that `intake.acknowledge_channels` names,
//! through the outbox, in the ticket's own transaction.

use super::ingest::reply_addresses;
use super::outbox::{self, OutgoingKind, OutgoingMail};
use crate::config::Settings;
use crate::db::WriteConn;
use crate::domain::event::EventData;
use crate::error::{AppError, AppResult};
use crate::tickets::view::TicketView;
use askama::Template;

/// A ticket just opened, as the acknowledgement needs it.
pub struct New<'a> {
    pub ticket: &'a TicketView,
    /// The customer was created with this ticket (has had no mail yet).
    pub new_customer: bool,
    /// The customer's secret link token, when the ticket was just made.
    pub access_token: Option<&'a str>,
    /// Message-IDs the acknowledgement answers (the customer's mail).
    pub thread: Vec<String>,
}

/// Queues the acknowledgement, unless the customer's address has had
/// `email.acknowledgements_per_hour` already (a loop or a flood). The event
/// to record either way: the ticket's opening records it with its own.
pub fn send(conn: &mut WriteConn<'_>, settings: &Settings, new: &New<'_>) -> AppResult<EventData> {
    let ticket = new.ticket;
    let to = &ticket.customer.email;
    let limit = i64::from(settings.email.acknowledgements_per_hour);
    // Acknowledgements only ever go to a ticket's customer, so an address
    // that just became a customer has had none: no need to count.
    let sent_recently = if new.new_customer {
        0
    } else {
        let now = conn.now();
        outbox::recent_acknowledgements(conn, to, now)?
    };
    if sent_recently >= limit {
        return Ok(EventData::AcknowledgementSuppressed {
            to: to.clone(),
            reason: "hourly limit reached".into(),
        });
    }
    let base = settings.server.public_base_url.trim_end_matches('/');
    let link = new
        .access_token
        .map(|t| format!("{base}/t/{t}"))
        .unwrap_or_default();
    let content = Acknowledgement {
        customer_name: ticket.customer.name.as_deref(),
        number: ticket.number,
        subject: &ticket.subject,
        link: &link,
        from_name: &settings.email.from_name,
    };
    let html = AcknowledgementHtml { inner: &content };
    let render = |e: askama::Error| AppError::failed("the acknowledgement template", e);
    let replies = reply_addresses(conn, settings)?;
    let queued = outbox::enqueue(
        conn,
        settings,
        &replies,
        OutgoingMail {
            ticket_id: ticket.id.clone(),
            ticket_number: ticket.number,
            kind: OutgoingKind::Acknowledgement,
            to: to.clone(),
            cc: Vec::new(),
            subject: ticket.subject.clone(),
            body_text: content.render().map_err(render)?,
            body_html: Some(html.render().map_err(render)?),
            thread: new.thread.clone(),
            automatic: true,
        },
    )?;
    Ok(EventData::AcknowledgementSent {
        outbox_id: queued.outbox_id,
        to: to.clone(),
    })
}

#[derive(Template)]
#[template(path = "email/acknowledgement.txt")]
struct Acknowledgement<'a> {
    customer_name: Option<&'a str>,
    number: i64,
    subject: &'a str,
    link: &'a str,
    from_name: &'a str,
}

#[derive(Template)]
#[template(path = "email/acknowledgement.html")]
struct AcknowledgementHtml<'a> {
    inner: &'a Acknowledgement<'a>,
}
