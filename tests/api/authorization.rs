//! The authorization table: every route of the app, walked by every caller
//! (anonymous, intake, agent, lead, manager, admin) against an object of the
//! caller's own vendor and one of a foreign vendor.
//!
//! The test fails
//! - when a route has no row: routes are read from the OpenAPI document and
//!   from the route registrations in `src/http/*.rs` (attribute macros,
//!   `crud_handlers!`, the docs' redirect and Swagger UI), so the table
//!   stays complete as routes are added; and when a row names a route that
//!   is gone;
//! - when an answer is not what the product rules (docs/DESIGN.md) say: a
//!   caller whose role may not act gets 401 (no token) or 403; an agent or
//!   lead reaching for another vendor's object gets 404, so that its
//!   existence does not leak; managers and admins see every vendor;
//! - when an allowed answer to an agent or lead names anything of another
//!   vendor (or an unrouted ticket, which only the client's staff see).
//!
//! Every mismatch is collected and reported at the end in one list.

use crate::common::*;
use diesel::prelude::*;
use relay::db::schema::{
    agents, calendars, customers, outbox, queues, sla_policies, tickets, vendors,
};
use relay::domain::Role;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Instant;

// ------------------------------------------------------------------ callers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// No token at all.
    Anonymous,
    /// The machine role: creates tickets and delivers mail, nothing else.
    Intake,
    /// An agent of the own vendor.
    Agent,
    /// A lead of the own vendor.
    Lead,
    /// A manager of the client company (a person without a vendor).
    Manager,
    /// An admin (a person without a vendor).
    Admin,
}

use Who::{Admin, Agent, Anonymous, Intake, Lead, Manager};

const CALLERS: [Who; 6] = [Anonymous, Intake, Agent, Lead, Manager, Admin];

impl Who {
    /// Agents and leads work for one vendor and see only its work.
    fn vendor_scoped(self) -> bool {
        matches!(self, Agent | Lead)
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Anonymous => "anonymous",
            Intake => "intake",
            Agent => "agent",
            Lead => "lead",
            Manager => "manager",
            Admin => "admin",
        };
        f.write_str(name)
    }
}

/// Everyone, without a token too (the public channel).
const EVERYONE: &[Who] = &[Anonymous, Intake, Agent, Lead, Manager, Admin];
/// Who works tickets: everyone with a token but the intake machine role.
const WORKERS: &[Who] = &[Agent, Lead, Manager, Admin];
/// Leads (of their own vendor) and the client's staff.
const LEADS: &[Who] = &[Lead, Manager, Admin];
/// The client company's staff.
const STAFF: &[Who] = &[Manager, Admin];
const ADMINS: &[Who] = &[Admin];
/// Who delivers raw mail: the intake machine role, and admins.
const MAIL: &[Who] = &[Intake, Admin];

// ------------------------------------------------------------------- table

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The object belongs to the own vendor (the agent's and the lead's).
    Own,
    /// The object belongs to another vendor.
    Foreign,
    /// The request names nothing a vendor owns (lists, creates of
    /// client-wide things, pages): it runs once per caller.
    Unscoped,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Own => "own vendor",
            Scope::Foreign => "foreign vendor",
            Scope::Unscoped => "no vendor",
        })
    }
}

enum Access {
    /// No bearer token is needed, and one sent is not looked at (the public
    /// channel, the customer's pages, operations). `foreign`: what everyone
    /// gets for the foreign object, when that differs from the own one.
    Public { foreign: Option<u16> },
    /// These callers may act; a vendor-scoped one only on its own vendor's
    /// objects. Anyone else: 401 without a token, 403 with one.
    Roles(&'static [Who]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    Denied(u16),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Allowed => f.write_str("allowed"),
            Expect::Denied(status) => write!(f, "denied {status}"),
        }
    }
}

/// An object a case makes for itself, because the request uses it up
/// (deletes, deactivates, releases, claims, retries it).
#[derive(Clone, Copy, Debug)]
enum Fresh {
    /// An empty vendor (only those may be deleted).
    Vendor,
    /// An empty queue of the scope's vendor.
    Queue,
    /// An agent of the scope's vendor.
    Agent,
    /// A calendar of the scope's vendor.
    Calendar,
    /// A routing rule sending to the scope's queue.
    Rule,
    /// An SLA policy of the scope's vendor.
    Policy,
    /// A token of the scope's vendor's teammate.
    Token,
    /// A waiting ticket in the scope's queue.
    WaitingTicket,
    /// A ticket of the scope's queue, held by the scope's agent (for the
    /// own vendor: the `agent` caller).
    HeldTicket,
    /// The scope's outgoing mail, marked failed.
    FailedOutbox,
}

struct Row {
    method: &'static str,
    /// The path template exactly as the app registers it.
    path: &'static str,
    access: Access,
    /// Whether the request names a vendor's object (in its path or body).
    scoped: bool,
    /// What an agent or lead who may act on its own vendor's object gets
    /// on the foreign one: 404, or for a reference in a body the 422 an
    /// unknown one gets (docs/DESIGN.md, "Tokens and roles", "Tickets").
    foreign: u16,
    fresh: Option<Fresh>,
    /// Send `If-Match` with the object's current ETag.
    if_match: bool,
    /// What an allowed answer is: 2xx unless said otherwise.
    success: fn(u16) -> bool,
    build: fn(&Case<'_>) -> Req,
}

fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    build: fn(&Case<'_>) -> Req,
) -> Row {
    Row {
        method,
        path,
        access,
        scoped: true,
        foreign: 404,
        fresh: None,
        if_match: false,
        success: |s| (200..300).contains(&s),
        build,
    }
}

fn roles(
    method: &'static str,
    path: &'static str,
    who: &'static [Who],
    build: fn(&Case<'_>) -> Req,
) -> Row {
    route(method, path, Access::Roles(who), build)
}

fn public(method: &'static str, path: &'static str, build: fn(&Case<'_>) -> Req) -> Row {
    route(method, path, Access::Public { foreign: None }, build)
}

impl Row {
    fn unscoped(mut self) -> Self {
        self.scoped = false;
        self
    }

    fn foreign(mut self, status: u16) -> Self {
        self.foreign = status;
        self
    }

    fn fresh(mut self, kind: Fresh) -> Self {
        self.fresh = Some(kind);
        self
    }

    fn if_match(mut self) -> Self {
        self.if_match = true;
        self
    }

    fn success(mut self, success: fn(u16) -> bool) -> Self {
        self.success = success;
        self
    }

    fn expected(&self, who: Who, scope: Scope) -> Expect {
        match self.access {
            Access::Public { foreign } => match (scope, foreign) {
                (Scope::Foreign, Some(status)) => Expect::Denied(status),
                _ => Expect::Allowed,
            },
            Access::Roles(allowed) if !allowed.contains(&who) => {
                Expect::Denied(if who == Anonymous { 401 } else { 403 })
            }
            Access::Roles(_) if scope == Scope::Foreign && who.vendor_scoped() => {
                Expect::Denied(self.foreign)
            }
            Access::Roles(_) => Expect::Allowed,
        }
    }
}

/// One request of the walk.
struct Case<'a> {
    who: Who,
    scope: Scope,
    /// The vendor the request is about: the foreign one for `Foreign`, the
    /// own one otherwise.
    side: &'a Side,
    own: &'a Side,
    /// Unique per case, for names and addresses that must not repeat.
    n: usize,
    /// The id of the object made for this case (`Row::fresh`).
    fresh: String,
}

impl Case<'_> {
    /// An address of the scope's vendor's customers, unique to this case.
    fn email(&self, what: &str) -> String {
        format!("{what}-{}@{}.example", self.n, self.side.label)
    }
}

struct Req {
    /// Fills the path template's parameters, in order.
    params: Vec<String>,
    query: String,
    body: Body,
}

enum Body {
    Empty,
    Json(Value),
    Raw(&'static str, Vec<u8>),
    Form(Vec<(&'static str, String)>),
}

fn at(params: &[&str]) -> Req {
    Req {
        params: params.iter().map(|p| p.to_string()).collect(),
        query: String::new(),
        body: Body::Empty,
    }
}

fn nothing(_: &Case<'_>) -> Req {
    at(&[])
}

impl Req {
    fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    fn raw(mut self, content_type: &'static str, body: Vec<u8>) -> Self {
        self.body = Body::Raw(content_type, body);
        self
    }

    fn form(mut self, fields: Vec<(&'static str, String)>) -> Self {
        self.body = Body::Form(fields);
        self
    }

    fn query(mut self, query: String) -> Self {
        self.query = query;
        self
    }
}

fn fresh(c: &Case<'_>) -> Req {
    at(&[&c.fresh])
}

fn ticket(c: &Case<'_>) -> Req {
    at(&[&c.side.ticket])
}

fn queue(c: &Case<'_>) -> Req {
    at(&[&c.side.queue])
}

fn calendar(c: &Case<'_>) -> Req {
    at(&[&c.side.calendar])
}

fn is_see_other(status: u16) -> bool {
    status == 303
}

fn is_redirect(status: u16) -> bool {
    (300..400).contains(&status)
}

/// Every route of the app, with who may use it.
fn table() -> Vec<Row> {
    vec![
        // Tickets. The public channel (no token) may create but not choose a
        // queue; agents and leads must name their own vendor's queue, and
        // another vendor's answers `no queue 'x'` like an unknown one.
        roles("POST", "/api/v1/tickets", EVERYONE, |c| {
            let mut body = json!({
                "subject": "Where is my order?",
                "body": "It has not arrived yet.",
                "customer": {"email": c.email("api"), "name": "Api Customer"},
            });
            if c.who != Anonymous {
                body["queue"] = json!(c.side.queue);
            }
            at(&[]).json(body)
        })
        .foreign(422),
        roles("GET", "/api/v1/tickets", WORKERS, nothing).unscoped(),
        roles("GET", "/api/v1/tickets/{id}", WORKERS, ticket),
        roles("PATCH", "/api/v1/tickets/{id}", WORKERS, |c| {
            ticket(c).json(json!({"priority": "high"}))
        })
        .if_match(),
        roles("POST", "/api/v1/tickets/{id}/messages", WORKERS, |c| {
            ticket(c).json(json!({"body": "Asked the courier.", "public": false}))
        }),
        roles("GET", "/api/v1/tickets/{id}/messages", WORKERS, ticket),
        roles("GET", "/api/v1/tickets/{id}/events", WORKERS, ticket),
        roles("GET", "/api/v1/attachments/{id}", WORKERS, |c| {
            at(&[&c.side.attachment])
        }),
        // The agent's work.
        roles("POST", "/api/v1/queues/{id}/claim", WORKERS, queue).fresh(Fresh::WaitingTicket),
        roles("GET", "/api/v1/queues/{id}/tickets", WORKERS, queue),
        // The holder, a lead or a manager may release.
        roles("POST", "/api/v1/tickets/{id}/release", WORKERS, |c| {
            fresh(c).json(json!({"note": "Back to the queue."}))
        })
        .fresh(Fresh::HeldTicket),
        roles("GET", "/api/v1/agents/me/tickets", WORKERS, nothing).unscoped(),
        roles("PUT", "/api/v1/agents/me/availability", WORKERS, |_| {
            at(&[]).json(json!({"available": true}))
        })
        .unscoped(),
        roles("GET", "/api/v1/events", WORKERS, nothing).unscoped(),
        // Vendors: the client's staff manage them; agents and leads read
        // their own.
        roles("POST", "/api/v1/vendors", STAFF, |c| {
            at(&[])
                .json(json!({"name": format!("New vendor {}", c.n), "timezone": "Europe/Berlin"}))
        })
        .unscoped(),
        roles("GET", "/api/v1/vendors", WORKERS, nothing).unscoped(),
        roles("GET", "/api/v1/vendors/{id}", WORKERS, |c| {
            at(&[&c.side.vendor])
        }),
        roles("PATCH", "/api/v1/vendors/{id}", STAFF, |c| {
            at(&[&c.side.vendor]).json(json!({"timezone": "Asia/Manila"}))
        }),
        // Only an empty vendor can go, so the staff delete fresh ones; an
        // agent or lead names its own vendor.
        roles("DELETE", "/api/v1/vendors/{id}", STAFF, |c| {
            if c.scope == Scope::Own && c.who.vendor_scoped() {
                at(&[&c.side.vendor])
            } else {
                fresh(c)
            }
        })
        .fresh(Fresh::Vendor),
        // Queues: the client's staff manage them; agents and leads read
        // their vendor's.
        roles("POST", "/api/v1/queues", STAFF, |c| {
            at(&[]).json(json!({
                "slug": format!("{}-new-{}", c.side.label, c.n),
                "name": "New queue",
                "vendor_id": c.side.vendor,
            }))
        }),
        roles("GET", "/api/v1/queues", WORKERS, nothing).unscoped(),
        roles("GET", "/api/v1/queues/{id}", WORKERS, queue),
        roles("PATCH", "/api/v1/queues/{id}", STAFF, |c| {
            queue(c).json(json!({"assignment_strategy": "pull"}))
        }),
        roles("DELETE", "/api/v1/queues/{id}", STAFF, fresh).fresh(Fresh::Queue),
        // Agents: leads manage their own vendor's agents and shifts only.
        // In a body, another vendor's id answers `no vendor 'x'` (422).
        roles("POST", "/api/v1/agents", LEADS, |c| {
            at(&[]).json(json!({
                "name": "New Agent",
                "email": c.email("hire"),
                "vendor_id": c.side.vendor,
                "role": "agent",
            }))
        })
        .foreign(422),
        roles("GET", "/api/v1/agents", LEADS, nothing).unscoped(),
        roles("GET", "/api/v1/agents/{id}", LEADS, |c| {
            at(&[&c.side.teammate])
        }),
        roles("PATCH", "/api/v1/agents/{id}", LEADS, |c| {
            at(&[&c.side.teammate])
                .json(json!({"capacity": 8, "shift_calendar_id": c.side.calendar}))
        }),
        roles("DELETE", "/api/v1/agents/{id}", LEADS, fresh).fresh(Fresh::Agent),
        // Calendars: the client's staff write them; leads read their vendor's.
        roles("POST", "/api/v1/calendars", STAFF, |c| {
            at(&[]).json(calendar_body(
                format!("{} shifts {}", c.side.label, c.n),
                &c.side.vendor,
            ))
        }),
        roles("GET", "/api/v1/calendars", LEADS, nothing).unscoped(),
        roles("GET", "/api/v1/calendars/{id}", LEADS, calendar),
        roles("PATCH", "/api/v1/calendars/{id}", STAFF, |c| {
            calendar(c).json(json!({"holidays": ["2026-12-25"]}))
        }),
        roles("DELETE", "/api/v1/calendars/{id}", STAFF, fresh).fresh(Fresh::Calendar),
        roles("POST", "/api/v1/calendars/{id}/holidays", STAFF, |c| {
            calendar(c).raw("text/calendar", HOLIDAYS.as_bytes().to_vec())
        }),
        roles("GET", "/api/v1/calendars/{id}/open", LEADS, calendar),
        // Routing: the client's staff only.
        roles("POST", "/api/v1/routing/rules", STAFF, |c| {
            at(&[]).json(rule_body(&c.side.queue))
        }),
        roles("GET", "/api/v1/routing/rules", STAFF, nothing).unscoped(),
        roles("GET", "/api/v1/routing/rules/{id}", STAFF, |c| {
            at(&[&c.side.rule])
        }),
        roles("PATCH", "/api/v1/routing/rules/{id}", STAFF, |c| {
            at(&[&c.side.rule]).json(json!({"position": 50}))
        }),
        roles("DELETE", "/api/v1/routing/rules/{id}", STAFF, fresh).fresh(Fresh::Rule),
        roles("POST", "/api/v1/routing/rules/test", STAFF, |c| {
            at(&[]).json(json!({"ticket": {"subject": "Refund", "from": c.email("test")}}))
        })
        .unscoped(),
        roles("POST", "/api/v1/routing/rules/simulate", STAFF, |_| {
            at(&[]).json(json!({
                "from": "2000-01-01T00:00:00Z",
                "to": "2100-01-01T00:00:00Z",
                "rules": [],
            }))
        })
        .unscoped(),
        roles("POST", "/api/v1/tickets/{id}/route", STAFF, |c| {
            ticket(c).json(json!({}))
        }),
        // SLA: the client's staff write policies; leads read their vendor's;
        // whoever may read a ticket may read why it is due.
        roles("POST", "/api/v1/sla/policies", STAFF, |c| {
            at(&[]).json(policy_body(
                format!("{} policy {}", c.side.label, c.n),
                &c.side.vendor,
                &c.side.queue,
            ))
        }),
        roles("GET", "/api/v1/sla/policies", LEADS, nothing).unscoped(),
        roles("GET", "/api/v1/sla/policies/{id}", LEADS, |c| {
            at(&[&c.side.policy])
        }),
        roles("PATCH", "/api/v1/sla/policies/{id}", STAFF, |c| {
            at(&[&c.side.policy]).json(json!({"warning_percent": 75}))
        }),
        roles("DELETE", "/api/v1/sla/policies/{id}", STAFF, fresh).fresh(Fresh::Policy),
        roles("GET", "/api/v1/tickets/{id}/sla", WORKERS, ticket),
        roles("POST", "/api/v1/sla/recompute", STAFF, nothing).unscoped(),
        // Imports: admins only (another help desk's history, any queue).
        roles("POST", "/api/v1/import/tickets", ADMINS, |c| {
            let at_the_time = "2020-01-06T10:00:00Z";
            at(&[]).json(json!({"tickets": [{
                "external_id": format!("{}-import-{}", c.side.label, c.n),
                "subject": "Imported",
                "priority": "normal",
                "created_at": at_the_time,
                "queue": c.side.queue_slug,
                "customer": {"email": c.email("imported")},
                "messages": [{"author": "customer", "public": true, "body": "Old question", "created_at": at_the_time}],
            }]}))
        })
        .unscoped(),
        // Tokens: admins only.
        roles("POST", "/api/v1/tokens", ADMINS, |c| {
            at(&[]).json(json!({"name": "laptop", "role": "agent", "agent": c.side.teammate_email}))
        }),
        // Reports: leads (their own vendor's figures) and the client's staff.
        roles("GET", "/api/v1/reports/staffing", LEADS, |_| {
            at(&[]).query("arrivals_per_hour=200&handle_seconds=180&answer_seconds=20".into())
        })
        .unscoped(),
        roles("GET", "/api/v1/reports/backlog", LEADS, |c| {
            at(&[]).query(format!("vendor_id={}", c.side.vendor))
        }),
        roles("GET", "/api/v1/reports/sla", LEADS, |c| {
            at(&[]).query(format!("group_by=queue&vendor_id={}", c.side.vendor))
        }),
        roles("GET", "/api/v1/reports/vendors", LEADS, |c| {
            at(&[]).query(format!("vendor_id={}", c.side.vendor))
        }),
        roles("GET", "/api/v1/reports/coverage", LEADS, |c| {
            at(&[]).query(format!("vendor_id={}", c.side.vendor))
        }),
        roles("GET", "/api/v1/tokens", ADMINS, nothing).unscoped(),
        roles("DELETE", "/api/v1/tokens/{id}", ADMINS, fresh).fresh(Fresh::Token),
        // Mail.
        roles("POST", "/api/v1/inbound/email", MAIL, |c| {
            at(&[])
                .query(format!("queue={}", c.side.queue_slug))
                .raw("message/rfc822", mail(&c.email("mail"), c.n))
        }),
        roles("GET", "/api/v1/outbox", ADMINS, nothing).unscoped(),
        roles("POST", "/api/v1/outbox/{id}/retry", ADMINS, fresh).fresh(Fresh::FailedOutbox),
        roles("GET", "/api/v1/intake/public-fields", STAFF, nothing).unscoped(),
        roles("PUT", "/api/v1/intake/public-fields", STAFF, |_| {
            at(&[]).json(json!({"priority": false, "tags": false, "custom_fields": []}))
        })
        .unscoped(),
        // Operations (no `metrics.token` configured).
        public("GET", "/healthz", nothing).unscoped(),
        public("GET", "/readyz", nothing).unscoped(),
        public("GET", "/metrics", nothing).unscoped(),
        // The customer's pages: the link is the credential, whatever vendor
        // works the ticket and whatever token comes along.
        public("GET", "/support", nothing).unscoped(),
        public("POST", "/support", |c| {
            at(&[]).form(vec![
                ("name", "Web Customer".into()),
                ("email", format!("web-{}@public.example", c.n)),
                ("subject", "Cracked lid".into()),
                ("description", "The lid of the box cracked.".into()),
                ("website", String::new()),
            ])
        })
        .unscoped(),
        public("GET", "/t/{access_token}", |c| at(&[&c.side.access_token])),
        public("POST", "/t/{access_token}", |c| {
            at(&[&c.side.access_token]).form(vec![("body", "Any news?".into())])
        })
        .success(is_see_other),
        // The survey link rates its own ticket, whoever comes along.
        public("GET", "/rate/{token}", |c| at(&[&c.side.survey])),
        public("POST", "/rate/{token}", |c| {
            at(&[&c.side.survey]).form(vec![("rating", "good".into())])
        }),
        // The link opens its own ticket's files only: "foreign" is the own
        // ticket's link with another vendor's ticket's file.
        route(
            "GET",
            "/t/{access_token}/attachments/{id}",
            Access::Public { foreign: Some(404) },
            |c| at(&[&c.own.access_token, &c.side.attachment]),
        ),
        // The API description.
        public("GET", "/api/v1/openapi.json", nothing).unscoped(),
        public("GET", "/api/docs", nothing)
            .unscoped()
            .success(is_redirect),
        public("GET", "/api/docs/{_:.*}", |_| at(&["index.html"])).unscoped(),
    ]
}

const HOLIDAYS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Relay//Test//EN\r\n\
    BEGIN:VEVENT\r\nUID:xmas\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
    END:VCALENDAR\r\n";

fn calendar_body(name: String, vendor: &str) -> Value {
    json!({
        "name": name,
        "timezone": "Asia/Manila",
        "weekly": [{"day": "mon", "start": "08:00", "end": "17:00"}],
        "vendor_id": vendor,
    })
}

/// A policy of the vendor's that matches only its own queue.
fn policy_body(name: String, vendor: &str, queue: &str) -> Value {
    json!({
        "name": name,
        "vendor_id": vendor,
        "conditions": {"all": [{"field": "queue", "op": "equals", "value": queue}]},
        "targets": {"normal": {"first_response": 60, "resolution": 480}},
    })
}

/// A rule that never matches, so it routes none of the tickets the walk opens.
fn rule_body(queue: &str) -> Value {
    json!({
        "name": "Never matches",
        "conditions": {
            "all": [{"field": "subject", "op": "contains", "value": "zz-no-ticket-says-this"}],
            "any": [],
        },
        "actions": [{"type": "set_queue", "queue_id": queue}],
    })
}

fn mail(from: &str, n: usize) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@relay.example\r\nSubject: Order {n}\r\n\
         Message-ID: <authz-{n}@mail.example>\r\n\r\nMy order has not arrived yet, please help.\r\n"
    )
    .into_bytes()
}

// ---------------------------------------------------------------- fixtures

/// One vendor's objects.
struct Side {
    /// `own` or `far`, in names and addresses.
    label: &'static str,
    vendor: String,
    queue: String,
    queue_slug: String,
    /// For the own vendor, the `agent` caller.
    agent: String,
    agent_email: String,
    lead_email: String,
    /// An agent the directory rows read and change.
    teammate: String,
    teammate_email: String,
    calendar: String,
    rule: String,
    policy: String,
    /// A customer's ticket in the queue, with a file and a staff reply.
    ticket: String,
    access_token: String,
    attachment: String,
    outbox: String,
    /// The rating link's token of a solved ticket of the queue.
    survey: String,
}

fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

async fn post_as_admin(app: &TestApp, path: &str, body: Value) -> Value {
    let resp = app.post(path, &app.admin).json(&body).send().await.unwrap();
    expect_json(resp, 201).await
}

async fn side(app: &TestApp, label: &'static str, vendor_name: &str) -> Side {
    let vendor = id(&app.create_vendor(vendor_name, "Asia/Manila").await);
    let queue_slug = format!("{label}-desk");
    let queue = id(&app.create_queue(&queue_slug, &vendor).await);
    let agent_email = format!("agent@{label}.example");
    let agent = id(&app.create_agent(&agent_email, "agent", Some(&vendor)).await);
    let lead_email = format!("lead@{label}.example");
    app.create_agent(&lead_email, "lead", Some(&vendor)).await;
    let teammate_email = format!("mate@{label}.example");
    let teammate = id(&app
        .create_agent(&teammate_email, "agent", Some(&vendor))
        .await);
    let calendar = id(&post_as_admin(
        app,
        "/api/v1/calendars",
        calendar_body(format!("{label} shifts"), &vendor),
    )
    .await);
    let rule = id(&post_as_admin(app, "/api/v1/routing/rules", rule_body(&queue)).await);
    let policy = id(&post_as_admin(
        app,
        "/api/v1/sla/policies",
        policy_body(format!("{label} policy"), &vendor, &queue),
    )
    .await);

    // Opened on the public channel (the only answer with the customer's
    // link), routed to the queue, with a file from the customer and a
    // reply by staff (which queues mail).
    let created = app
        .create_public_ticket(ticket_body(
            &format!("The {label} customer's parcel"),
            &format!("customer@{label}.example"),
        ))
        .await;
    let ticket = id(&created);
    let access_token = created["access_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    app.patch_ticket(&ticket, json!({"queue": queue})).await;
    let part = Part::bytes(b"%PDF-1.4 receipt".to_vec())
        .file_name("receipt.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let form = Form::new()
        .text("body", "The receipt is attached.")
        .part("attachments", part);
    let resp = app
        .client
        .post(app.url(&format!("/t/{access_token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the customer's file is taken");
    let messages = app
        .read(&format!("/api/v1/tickets/{ticket}/messages"))
        .await;
    let attachment = messages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["attachments"].as_array().unwrap().iter())
        .map(id)
        .next()
        .expect("the customer's file");
    post_as_admin(
        app,
        &format!("/api/v1/tickets/{ticket}/messages"),
        json!({"body": "A new parcel is on its way.", "public": true}),
    )
    .await;
    let mut conn = app.db.get().unwrap();
    let outbox: String = outbox::table
        .filter(outbox::ticket_id.eq(&ticket))
        .order(outbox::id.desc())
        .select(outbox::id)
        .first(&mut *conn)
        .expect("the reply's mail");
    drop(conn);
    let solved = app
        .create_public_ticket(ticket_body(
            &format!("The {label} customer's solved question"),
            &format!("customer@{label}.example"),
        ))
        .await;
    let solved = id(&solved);
    app.patch_ticket(&solved, json!({"queue": queue, "status": "solved"}))
        .await;
    assert_eq!(app.run_satisfaction(), 1, "the solved ticket is surveyed");
    let survey = app.survey_token(&solved);
    Side {
        label,
        vendor,
        queue,
        queue_slug,
        agent,
        agent_email,
        lead_email,
        teammate,
        teammate_email,
        calendar,
        rule,
        policy,
        ticket,
        access_token,
        attachment,
        outbox,
        survey,
    }
}

struct Fixtures<'a> {
    app: &'a TestApp,
    own: Side,
    far: Side,
    intake: String,
    agent: String,
    lead: String,
    manager: String,
    admin: String,
}

impl<'a> Fixtures<'a> {
    async fn new(app: &'a TestApp) -> Fixtures<'a> {
        let own = side(app, "own", "Own Vendor Alpha").await;
        let far = side(app, "far", "Far Vendor Bravo").await;
        // Room for the tickets the walk gives the agent.
        let resp = app
            .patch(&format!("/api/v1/agents/{}", own.agent), &app.admin)
            .json(&json!({"capacity": 100}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await;
        // A ticket the own agent still holds after a manager took it out of
        // every queue: unrouted, so it is for managers and admins only.
        let mut stranded = ticket_body("Stranded", "stranded@nowhere.example");
        stranded["queue"] = json!(own.queue);
        let stranded = id(&app.create_ticket(stranded).await);
        app.patch_ticket(&stranded, json!({"assignee": own.agent}))
            .await;
        app.patch_ticket(&stranded, json!({"queue": null})).await;

        app.create_agent("manager@client.example", "manager", None)
            .await;
        app.create_agent("admin@client.example", "admin", None)
            .await;
        Fixtures {
            intake: app.token(Role::Intake, None),
            agent: app.token(Role::Agent, Some(&own.agent_email)),
            lead: app.token(Role::Lead, Some(&own.lead_email)),
            manager: app.token(Role::Manager, Some("manager@client.example")),
            admin: app.token(Role::Admin, Some("admin@client.example")),
            app,
            own,
            far,
        }
    }

    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Anonymous => None,
            Intake => Some(&self.intake),
            Agent => Some(&self.agent),
            Lead => Some(&self.lead),
            Manager => Some(&self.manager),
            Admin => Some(&self.admin),
        }
    }

    /// Makes the object a case uses up; its id.
    async fn fresh(&self, kind: Fresh, side: &Side, n: usize) -> String {
        let app = self.app;
        let label = side.label;
        match kind {
            Fresh::Vendor => id(&app.create_vendor(&format!("Empty vendor {n}"), "UTC").await),
            Fresh::Queue => id(&app
                .create_queue(&format!("{label}-spare-{n}"), &side.vendor)
                .await),
            Fresh::Agent => id(&app
                .create_agent(
                    &format!("spare-{n}@{label}.example"),
                    "agent",
                    Some(&side.vendor),
                )
                .await),
            Fresh::Calendar => id(&post_as_admin(
                app,
                "/api/v1/calendars",
                calendar_body(format!("{label} shifts {n}"), &side.vendor),
            )
            .await),
            Fresh::Rule => {
                id(&post_as_admin(app, "/api/v1/routing/rules", rule_body(&side.queue)).await)
            }
            Fresh::Policy => id(&post_as_admin(
                app,
                "/api/v1/sla/policies",
                policy_body(format!("{label} policy {n}"), &side.vendor, &side.queue),
            )
            .await),
            Fresh::Token => {
                app.write(|w| {
                    relay::auth::issue_token(w, Role::Agent, "spare", Some(&side.teammate_email))
                })
                .token
                .id
            }
            Fresh::WaitingTicket | Fresh::HeldTicket => {
                let mut body = ticket_body("Waiting", &format!("wait-{n}@{label}.example"));
                body["queue"] = json!(side.queue);
                let ticket = id(&app.create_ticket(body).await);
                if matches!(kind, Fresh::HeldTicket) {
                    app.patch_ticket(&ticket, json!({"assignee": side.agent}))
                        .await;
                }
                ticket
            }
            Fresh::FailedOutbox => {
                app.write(|w| {
                    diesel::update(outbox::table.find(&side.outbox))
                        .set(outbox::status.eq("failed"))
                        .execute(&mut **w)?;
                    Ok(())
                });
                side.outbox.clone()
            }
        }
    }
}

// ---------------------------------------------------------------- the walk

#[actix_web::test]
async fn every_route_answers_every_caller_as_the_rules_say() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    let rows = table();
    let mut problems = completeness(&app, &rows).await;

    let fx = Fixtures::new(&app).await;
    let mut seen_by_vendor_staff: Vec<Seen> = Vec::new();
    let mut cases = 0;
    for row in &rows {
        let scopes: &[Scope] = if row.scoped {
            &[Scope::Own, Scope::Foreign]
        } else {
            &[Scope::Unscoped]
        };
        for &scope in scopes {
            let side = if scope == Scope::Foreign {
                &fx.far
            } else {
                &fx.own
            };
            for who in CALLERS {
                cases += 1;
                let fresh = match row.fresh {
                    Some(kind) => fx.fresh(kind, side, cases).await,
                    None => String::new(),
                };
                let case = Case {
                    who,
                    scope,
                    side,
                    own: &fx.own,
                    n: cases,
                    fresh,
                };
                let Answer { status, sent, text } = send(&app, &fx, row, &case).await;
                let label = format!("{} {} as {who}, {scope}", row.method, row.path);

                let expected = row.expected(who, scope);
                let as_expected = match expected {
                    Expect::Allowed => (row.success)(status),
                    Expect::Denied(denied) => status == denied,
                };
                if !as_expected {
                    problems.push(format!(
                        "{label}: expected {expected}, got {status}: {}",
                        excerpt(&text)
                    ));
                }
                // Public routes answer the same whoever asks.
                if matches!(row.access, Access::Roles(_)) && who.vendor_scoped() {
                    seen_by_vendor_staff.push(Seen { label, sent, text });
                }
            }
        }
    }

    // No answer to an agent or lead, allowed or refused, names another
    // vendor's things or an unrouted ticket, unless the request named it.
    let foreign = foreign_things(&app, &fx.own);
    for Seen { label, sent, text } in &seen_by_vendor_staff {
        let lower = text.to_lowercase();
        let sent = sent.to_lowercase();
        for (what, needle) in &foreign {
            if sent.contains(needle.as_str()) {
                continue;
            }
            if let Some(at) = lower.find(needle.as_str()) {
                let from = (0..=at.saturating_sub(80))
                    .rev()
                    .find(|&i| lower.is_char_boundary(i))
                    .unwrap_or(0);
                problems.push(format!(
                    "{label}: the answer names {what} {needle}: ...{}...",
                    excerpt(&lower[from..])
                ));
            }
        }
    }

    let elapsed = started.elapsed();
    eprintln!(
        "authorization: {} rows, {cases} cases, {} answers to agents and leads checked for leaks, {:.1?}",
        rows.len(),
        seen_by_vendor_staff.len(),
        elapsed
    );
    assert!(
        problems.is_empty(),
        "{} authorization problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A case's answer, and what its request said (path, query and body).
struct Answer {
    status: u16,
    sent: String,
    text: String,
}

/// Sends one case's request as its caller.
async fn send(app: &TestApp, fx: &Fixtures<'_>, row: &Row, case: &Case<'_>) -> Answer {
    let req = (row.build)(case);
    let path = fill(row.path, &req.params);
    let target = if req.query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{}", req.query)
    };
    let method = Method::from_bytes(row.method.as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(&target));
    if let Some(token) = fx.token(case.who) {
        request = request.bearer_auth(token);
    }
    if row.if_match {
        request = request.header("If-Match", etag(app, &path).await);
    }
    let sent = format!("{target} {}", req.body.text());
    request = match req.body {
        Body::Empty => request,
        Body::Json(body) => request.json(&body),
        Body::Raw(content_type, bytes) => request.header("content-type", content_type).body(bytes),
        Body::Form(fields) => request.form(&fields),
    };
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = String::from_utf8_lossy(&resp.bytes().await.unwrap()).into_owned();
    Answer { status, sent, text }
}

/// An answer to an agent or lead, and what its request said.
struct Seen {
    label: String,
    sent: String,
    text: String,
}

impl Body {
    /// The body as text, to tell what a request named itself.
    fn text(&self) -> String {
        match self {
            Body::Empty => String::new(),
            Body::Json(value) => value.to_string(),
            Body::Raw(_, bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Body::Form(fields) => fields
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("&"),
        }
    }
}

/// The template with its `{...}` parameters filled in order.
fn fill(template: &str, params: &[String]) -> String {
    let mut out = String::new();
    let mut rest = template;
    let mut given = params.iter();
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}').expect("a closing brace");
        out.push_str(&rest[..start]);
        out.push_str(
            given
                .next()
                .unwrap_or_else(|| panic!("{template}: a parameter is missing")),
        );
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    assert!(given.next().is_none(), "{template}: too many parameters");
    out
}

/// The object's current ETag, read as the bootstrap admin.
async fn etag(app: &TestApp, path: &str) -> String {
    let resp = app.get(path, &app.admin).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path} is readable by the admin");
    resp.headers()["etag"].to_str().unwrap().to_string()
}

fn excerpt(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(240)
        .collect();
    flat
}

/// What an agent or lead of `own` must never be shown, lower-cased, with
/// what it is: every other vendor's id and name, queue id and slug, agent
/// id and address, calendar id, and every ticket outside the own vendor's
/// queues (unrouted ones included) with its customer's address.
fn foreign_things(app: &TestApp, own: &Side) -> Vec<(&'static str, String)> {
    let mut conn = app.db.get().unwrap();
    let mut things = Vec::new();
    let all_vendors: Vec<(String, String)> = vendors::table
        .select((vendors::id, vendors::name))
        .load(&mut *conn)
        .unwrap();
    for (vendor, name) in all_vendors {
        if vendor != own.vendor {
            things.push(("vendor", vendor));
            things.push(("vendor name", name));
        }
    }
    let all_queues: Vec<(String, String, String)> = queues::table
        .select((queues::id, queues::slug, queues::vendor_id))
        .load(&mut *conn)
        .unwrap();
    let mut own_queues = HashSet::new();
    for (queue, slug, vendor) in all_queues {
        if vendor == own.vendor {
            own_queues.insert(queue);
        } else {
            things.push(("queue", queue));
            things.push(("queue slug", slug));
        }
    }
    let all_agents: Vec<(String, String, Option<String>)> = agents::table
        .select((agents::id, agents::email, agents::vendor_id))
        .load(&mut *conn)
        .unwrap();
    for (agent, email, vendor) in all_agents {
        // People without a vendor (managers, admins) stay named to everyone.
        if vendor.is_some_and(|v| v != own.vendor) {
            things.push(("agent", agent));
            things.push(("agent address", email));
        }
    }
    let all_calendars: Vec<(String, Option<String>)> = calendars::table
        .select((calendars::id, calendars::vendor_id))
        .load(&mut *conn)
        .unwrap();
    for (calendar, vendor) in all_calendars {
        if vendor.as_deref() != Some(own.vendor.as_str()) {
            things.push(("calendar", calendar));
        }
    }
    let all_policies: Vec<(String, Option<String>)> = sla_policies::table
        .select((sla_policies::id, sla_policies::vendor_id))
        .load(&mut *conn)
        .unwrap();
    for (policy, vendor) in all_policies {
        if vendor.as_deref() != Some(own.vendor.as_str()) {
            things.push(("SLA policy", policy));
        }
    }
    let emails: HashMap<String, String> = customers::table
        .select((customers::id, customers::email))
        .load(&mut *conn)
        .unwrap()
        .into_iter()
        .collect();
    let all_tickets: Vec<(String, Option<String>, String)> = tickets::table
        .select((tickets::id, tickets::queue_id, tickets::customer_id))
        .load(&mut *conn)
        .unwrap();
    let (own_tickets, other_tickets): (Vec<_>, Vec<_>) = all_tickets
        .into_iter()
        .partition(|(_, queue, _)| queue.as_ref().is_some_and(|q| own_queues.contains(q)));
    let own_customers: HashSet<&String> = own_tickets.iter().map(|(_, _, c)| c).collect();
    let mut other_customers = BTreeSet::new();
    for (ticket, _, customer) in &other_tickets {
        things.push(("ticket", ticket.clone()));
        if !own_customers.contains(customer) {
            other_customers.insert(emails[customer].clone());
        }
    }
    for email in other_customers {
        things.push(("customer", email));
    }
    things
        .into_iter()
        .map(|(what, needle)| (what, needle.to_lowercase()))
        .collect()
}

// ------------------------------------------------------------ completeness

/// Every route of the app that has no row, and every row whose route is
/// gone.
async fn completeness(app: &TestApp, rows: &[Row]) -> Vec<String> {
    let mut routes: BTreeMap<(String, String), String> = BTreeMap::new();
    let doc = app.read("/api/v1/openapi.json").await;
    for (path, item) in doc["paths"].as_object().expect("OpenAPI paths") {
        for method in item.as_object().expect("a path item").keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                routes.insert(
                    (method.to_uppercase(), path.clone()),
                    "the OpenAPI document".into(),
                );
            }
        }
    }
    let mut problems = Vec::new();
    for (method, path, source) in source_routes(&mut problems) {
        routes.entry((method, path)).or_insert(source);
    }

    let mut tabled = BTreeSet::new();
    for row in rows {
        let key = (row.method.to_string(), row.path.to_string());
        if !tabled.insert(key.clone()) {
            problems.push(format!("{} {} has two rows", key.0, key.1));
        }
        if !routes.contains_key(&key) {
            problems.push(format!(
                "{} {} has a row but the app has no such route",
                key.0, key.1
            ));
        }
    }
    for ((method, path), source) in &routes {
        if !tabled.contains(&(method.clone(), path.clone())) {
            problems.push(format!(
                "{method} {path} (from {source}) has no row in the authorization table"
            ));
        }
    }
    problems
}

/// The routes `src/http/*.rs` registers: route attributes
/// (`#[get("...")]`), `crud_handlers!` invocations, the docs' redirect and
/// Swagger UI. A registration this cannot read is a problem of its own.
fn source_routes(problems: &mut Vec<String>) -> Vec<(String, String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = format!("src/http/{}", file.file_name().unwrap().to_string_lossy());
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            let at = format!("{name}:{}", number + 1);
            for method in ["get", "post", "put", "patch", "delete", "head"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(")) {
                    match first_literal(rest) {
                        Some(path) if rest.starts_with('"') => {
                            found.push((method.to_uppercase(), path, at.clone()))
                        }
                        // `#[post($path)]` in the macro itself: its
                        // invocations are read below.
                        _ if rest.starts_with('$') => {}
                        _ => problems.push(format!("{at}: unreadable route attribute {line}")),
                    }
                }
            }
            // GET routes registered by services: the docs' redirect, the
            // Swagger UI and the OpenAPI document it serves (`.url(...)`,
            // taken only with a literal path).
            for (marker, required) in [
                ("web::redirect(", true),
                ("SwaggerUi::new(", true),
                (".url(", false),
            ] {
                let Some((_, rest)) = line.split_once(marker) else {
                    continue;
                };
                match first_literal(rest) {
                    Some(path) if rest.starts_with('"') && path.starts_with('/') => {
                        found.push(("GET".into(), path, at.clone()))
                    }
                    _ if required => problems.push(format!("{at}: unreadable route {line}")),
                    _ => {}
                }
            }
            for marker in ["web::resource(", "web::scope(", ".route(", "web::get()"] {
                if line.contains(marker) {
                    problems.push(format!(
                        "{at}: a route registered with {marker}, which this test cannot read; \
                         use a route attribute, or teach `source_routes` about it"
                    ));
                }
            }
        }
        // crud_handlers!("tag", "/collection", "/collection/{id}", ...)
        let mut rest = text.as_str();
        while let Some(start) = rest.find("crud_handlers!(") {
            rest = &rest[start + "crud_handlers!(".len()..];
            let args = &rest[..rest.find(')').unwrap_or(rest.len())];
            let literals: Vec<String> = args
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            let [_tag, collection, item, ..] = literals.as_slice() else {
                problems.push(format!("{name}: unreadable crud_handlers! invocation"));
                continue;
            };
            let at = format!("{name} (crud_handlers!)");
            for (method, path) in [
                ("POST", collection),
                ("GET", collection),
                ("GET", item),
                ("PATCH", item),
                ("DELETE", item),
            ] {
                found.push((method.into(), path.clone(), at.clone()));
            }
        }
    }
    found
}

/// The first string literal in `text`.
fn first_literal(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_string())
}
