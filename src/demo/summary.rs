//! The text `relay demo` prints: what was created, the tokens, and how to
//! start exploring.

use super::org::VENDORS;
use super::story::Plan;
use super::DAYS;
use crate::config::Settings;
use crate::domain::Status;
use std::fmt::Write as _;

/// A token issued for the demo, with the shell variable it is shown as.
pub(super) struct Issued {
    pub variable: String,
    pub who: String,
    pub secret: String,
}

/// What the summary reports.
pub(super) struct Outcome {
    pub customers: usize,
    pub plans: Vec<Plan>,
    pub tokens: Vec<Issued>,
}

/// `1234` -> `1,234`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What was created, the tokens, and how to start exploring.
pub(super) fn render(outcome: &Outcome, settings: &Settings) -> String {
    let base = settings.server.public_base_url.trim_end_matches('/');
    let plans = &outcome.plans;
    let messages: usize = plans.iter().map(|p| p.messages.len()).sum();
    let notes: usize = plans
        .iter()
        .flat_map(|p| &p.messages)
        .filter(|m| !m.public)
        .count();
    let events: usize = plans.iter().map(|p| p.events.len()).sum();
    let people: usize = VENDORS.iter().map(|v| v.people.len()).sum();
    let departed = VENDORS
        .iter()
        .flat_map(|v| v.people)
        .filter(|p| p.left)
        .count();
    let queues: usize = VENDORS.iter().map(|v| v.queues.len()).sum();
    let by_status: Vec<String> = Status::ALL
        .iter()
        .map(|s| {
            let n = plans
                .iter()
                .filter(|p| p.ticket.status == s.as_str())
                .count();
            format!("{n} {}", s.as_str().replace('_', " "))
        })
        .collect();
    let unrouted = plans.iter().filter(|p| p.vendor.is_none()).count();

    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "Relay demo data is ready.\n");
    let _ = writeln!(w, "Created");
    let _ = writeln!(
        w,
        "  {} vendors, {queues} queues, {people} vendor agents and leads ({departed} deactivated), 1 client manager",
        VENDORS.len()
    );
    let _ = writeln!(
        w,
        "  {} customers and {} tickets from the last {DAYS} days: {} messages ({} internal notes), {} events",
        outcome.customers,
        plans.len(),
        thousands(messages),
        thousands(notes),
        thousands(events)
    );
    let _ = writeln!(w, "  tickets now: {}", by_status.join(", "));
    let _ = writeln!(
        w,
        "\nVendors (contract: share of tickets within SLA, price per ticket)"
    );
    for (v, spec) in VENDORS.iter().enumerate() {
        let count = plans.iter().filter(|p| p.vendor == Some(v)).count();
        let slugs: Vec<&str> = spec.queues.iter().map(|q| q.slug).collect();
        let _ = writeln!(
            w,
            "  {:<22} {:<15} {:>3.0}%  {}.{:02} {}  {:>3} tickets  queues: {}",
            spec.name,
            spec.timezone,
            spec.contracted_attainment * 100.0,
            spec.price_per_ticket_cents / 100,
            spec.price_per_ticket_cents % 100,
            spec.currency,
            count,
            slugs.join(", ")
        );
    }
    let _ = writeln!(
        w,
        "  {unrouted} new tickets matched no queue: only the manager sees them (vendor isolation)."
    );

    let _ = writeln!(
        w,
        "\nAPI tokens, shown only this once (Relay stores only their hashes). Paste into your shell:"
    );
    for token in &outcome.tokens {
        let _ = writeln!(w, "  # {}", token.who);
        let _ = writeln!(w, "  export {}={}", token.variable, token.secret);
    }

    // A Manila ticket to show that another vendor cannot see it.
    let manila = plans
        .iter()
        .rev()
        .find(|p| p.vendor == Some(0) && p.ticket.status == "open")
        .or_else(|| plans.iter().rev().find(|p| p.vendor == Some(0)))
        .map_or(10001, |p| p.ticket.number);
    let _ = writeln!(w, "\nTry it: start the server with `relay serve`, then");
    let _ = writeln!(
        w,
        "  curl -s -H \"Authorization: Bearer $RELAY_MANAGER\" '{base}/api/v1/tickets?limit=5'"
    );
    let _ = writeln!(
        w,
        "  curl -s -H \"Authorization: Bearer $RELAY_LEAD_MANILA\" '{base}/api/v1/tickets?status=new,open,pending'"
    );
    let _ = writeln!(
        w,
        "  curl -s -H \"Authorization: Bearer $RELAY_LEAD_MANILA\" {base}/api/v1/tickets/{manila}/messages"
    );
    let _ = writeln!(
        w,
        "  curl -s -H \"Authorization: Bearer $RELAY_LEAD_MANILA\" {base}/api/v1/tickets/{manila}/events"
    );
    let _ = writeln!(
        w,
        "  curl -s -H \"Authorization: Bearer $RELAY_LEAD_KRAKOW\" {base}/api/v1/tickets/{manila}    # 404: another vendor's ticket"
    );
    let _ = writeln!(w, "  API documentation: {base}/api/docs/");

    let _ = writeln!(
        w,
        "\nCustomer pages (the private link each customer gets with their ticket):"
    );
    // Recent tickets of different states and languages, with a conversation.
    let mut shown: Vec<&Plan> = Vec::new();
    for (status, lang) in [("pending", "en"), ("open", "es"), ("solved", "pl")] {
        let fits = |p: &&Plan, lang: Option<&str>| {
            p.ticket.status == status
                && p.vendor.is_some()
                && lang.is_none_or(|l| p.ticket.language.as_deref() == Some(l))
        };
        let pick = plans
            .iter()
            .rev()
            .find(|p| fits(p, Some(lang)))
            .or_else(|| plans.iter().rev().find(|p| fits(p, None)))
            .or_else(|| {
                plans.iter().rev().find(|p| {
                    p.vendor.is_some() && !shown.iter().any(|s| s.ticket.id == p.ticket.id)
                })
            });
        if let Some(p) = pick.filter(|p| !shown.iter().any(|s| s.ticket.id == p.ticket.id)) {
            shown.push(p);
            let _ = writeln!(
                w,
                "  #{} {:<8} {}\n      {base}/t/{}",
                p.ticket.number, p.ticket.status, p.ticket.subject, p.access_token
            );
        }
    }
    let _ = write!(
        w,
        "\nMore tokens (now that tokens exist, `relay serve` creates no initial admin token):\n\
         \x20 relay admin create-token --role admin --name me\n\
         \x20 relay admin create-token --role agent --name angelica --agent angelica.cruz@manilasupport.example\n\
         Every demo address ends in .example, so no email can reach a real person."
    );
    out
}
