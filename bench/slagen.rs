//! Ticket histories for `bench/sla`, written straight into the database as
//! the rows Relay itself writes (tickets, customers, messages, typed events
//! serialised by `EventData`), far faster than through the API.
//!
//! ```text
//! cargo run --release --example slagen -- --format pg|sqlite --mix history|scanner \
//!     --tickets N --now UNIX_SECONDS --queues QID:VID,... --agents AID:VID,... \
//!     [--first-number 10001] [--due 0] [--days 90] [--rule-set-version 1] [--seed 1]
//! ```
//!
//! Prints a script for `psql` (COPY blocks) or `sqlite3` (INSERTs in one
//! transaction) on standard output. The directory (vendors, queues, agents,
//! calendar, policies) is made through the API first; its ids come in as
//! flags. Every time is at or before `--now`, so nothing is in the future.
//!
//! - `history`: tickets opened over the last `--days` days, each living a
//!   help-desk life: created and routed with the customer's message, claimed,
//!   internal notes, the first public reply (new → open), rounds of customer
//!   messages and replies, waiting on the customer (pending and back), a
//!   priority change on some, a hand-off to the other vendor's queue on
//!   some, solved for most (a few re-opened by the customer), closed four
//!   days after solving. Stories that reach `--now` stop there: those
//!   tickets are open.
//! - `scanner`: open tickets. The first `--due` are 8 to 12 days old and
//!   never answered (their first response long breached, nothing announced
//!   yet); the rest were opened in the last 7 days and answered, so only
//!   their resolution clock runs, due weeks ahead under bench/sla's policy.
//!
//! Ticket ids are UUID v7 at their creation time, like every id Relay makes;
//! numbers run from `--first-number`; one customer per ten tickets (by
//! number, so seeding in several steps never repeats one).

#[path = "common.rs"]
mod common;

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound};
use common::Flags;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use relay::domain::event::{
    AgentRef, AssignedBy, EventData, IntakeFacts, QueueRef, QueueSource, ReleaseReason,
    StatusReason,
};
use relay::domain::{Channel, Priority, Status};
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

const FLAGS: &[&str] = &[
    "format",
    "mix",
    "tickets",
    "now",
    "queues",
    "agents",
    "first-number",
    "due",
    "days",
    "rule-set-version",
    "seed",
];
const USAGE: &str =
    "usage: slagen --format pg|sqlite --mix history|scanner --tickets N --now UNIX_SECONDS \
--queues QID:VID,... --agents AID:VID,... [--first-number 10001] [--due 0] [--days 90] \
[--rule-set-version 1] [--seed 1]";

/// Tickets generated and written per round of COPY blocks / INSERTs.
const CHUNK: usize = 5000;
/// Rows per SQLite INSERT statement.
const ROWS_PER_INSERT: usize = 500;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Pg,
    Sqlite,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    History,
    Scanner,
}

/// One column value.
enum Val {
    Text(String),
    Int(i64),
    Bool(bool),
    At(NaiveDateTime),
    Null,
}

fn text(s: impl Into<String>) -> Val {
    Val::Text(s.into())
}

fn opt_text(s: Option<&str>) -> Val {
    s.map_or(Val::Null, text)
}

fn opt_at(at: Option<NaiveDateTime>) -> Val {
    at.map_or(Val::Null, Val::At)
}

/// As diesel writes a timestamp: `%F %T` and the fraction when there is one.
fn at_text(at: NaiveDateTime) -> String {
    at.format("%F %T%.f").to_string()
}

/// The rows of one table for one chunk.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Val>>,
}

impl Table {
    fn new(name: &'static str, columns: &'static [&'static str]) -> Table {
        Table {
            name,
            columns,
            rows: Vec::new(),
        }
    }

    fn write(&mut self, out: &mut impl Write, format: Format) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        match format {
            Format::Pg => {
                writeln!(
                    out,
                    "COPY {} ({}) FROM stdin;",
                    self.name,
                    self.columns.join(", ")
                )?;
                for row in &self.rows {
                    let fields: Vec<String> = row.iter().map(copy_field).collect();
                    writeln!(out, "{}", fields.join("\t"))?;
                }
                writeln!(out, "\\.")?;
            }
            Format::Sqlite => {
                for chunk in self.rows.chunks(ROWS_PER_INSERT) {
                    writeln!(
                        out,
                        "INSERT INTO {} ({}) VALUES",
                        self.name,
                        self.columns.join(", ")
                    )?;
                    for (i, row) in chunk.iter().enumerate() {
                        let fields: Vec<String> = row.iter().map(sql_literal).collect();
                        let end = if i + 1 == chunk.len() { ";" } else { "," };
                        writeln!(out, "({}){end}", fields.join(", "))?;
                    }
                }
            }
        }
        self.rows.clear();
        Ok(())
    }
}

/// PostgreSQL's COPY text format.
fn copy_field(value: &Val) -> String {
    match value {
        Val::Null => "\\N".into(),
        Val::Int(n) => n.to_string(),
        Val::Bool(b) => if *b { "t" } else { "f" }.into(),
        Val::At(at) => at_text(*at),
        Val::Text(s) => {
            let mut escaped = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '\\' => escaped.push_str("\\\\"),
                    '\t' => escaped.push_str("\\t"),
                    '\n' => escaped.push_str("\\n"),
                    '\r' => escaped.push_str("\\r"),
                    c => escaped.push(c),
                }
            }
            escaped
        }
    }
}

/// An SQLite literal (booleans as 0 and 1, as diesel stores them).
fn sql_literal(value: &Val) -> String {
    match value {
        Val::Null => "NULL".into(),
        Val::Int(n) => n.to_string(),
        Val::Bool(b) => if *b { "1" } else { "0" }.into(),
        Val::At(at) => format!("'{}'", at_text(*at)),
        Val::Text(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

const CUSTOMER_COLUMNS: &[&str] = &["id", "email", "name", "organization", "created_at"];
const TICKET_COLUMNS: &[&str] = &[
    "id",
    "number",
    "subject",
    "status",
    "priority",
    "channel",
    "queue_id",
    "assignee_id",
    "customer_id",
    "tags",
    "custom_fields",
    "language",
    "access_token_hash",
    "follow_up_of",
    "version",
    "created_at",
    "updated_at",
    "solved_at",
    "closed_at",
    "sla_policy_id",
    "queued_at",
];
const MESSAGE_COLUMNS: &[&str] = &[
    "id",
    "ticket_id",
    "author_kind",
    "author_agent_id",
    "author_customer_id",
    "public",
    "channel",
    "body_text",
    "body_html",
    "email_message_id",
    "email_in_reply_to",
    "email_references",
    "created_at",
    "automatic",
];
const EVENT_COLUMNS: &[&str] = &["id", "ticket_id", "kind", "actor", "data", "created_at"];

/// A queue of the directory, with its vendor's agents.
struct Place {
    queue: QueueRef,
    agents: Vec<String>,
}

struct Setup {
    mix: Mix,
    now: NaiveDateTime,
    days: i64,
    due: u64,
    rule_set_version: i64,
    places: Vec<Place>,
}

/// A UUID v7 carrying `at` (so ids sort by time as Relay's do), then `seq`
/// (rows of one ticket at one instant keep their order), then random bits.
fn id_at(rng: &mut StdRng, at: NaiveDateTime, seq: u16) -> String {
    relay::clock::historical_id(at, seq, rng.random())
}

/// Minutes between `low` and `high`, log-uniform (most waits are short).
fn wait(rng: &mut StdRng, low: f64, high: f64) -> Duration {
    let x: f64 = rng.random();
    let minutes = (low.ln() + x * (high.ln() - low.ln())).exp();
    Duration::milliseconds((minutes * 60_000.0) as i64)
}

fn reply_wait(rng: &mut StdRng, priority: Priority) -> Duration {
    match priority {
        Priority::Urgent => wait(rng, 5.0, 90.0),
        Priority::High => wait(rng, 10.0, 480.0),
        Priority::Normal => wait(rng, 20.0, 1440.0),
        Priority::Low => wait(rng, 45.0, 2880.0),
    }
}

fn pick_priority(rng: &mut StdRng) -> Priority {
    match rng.random_range(0..100) {
        0..5 => Priority::Urgent,
        5..25 => Priority::High,
        25..85 => Priority::Normal,
        _ => Priority::Low,
    }
}

/// One ticket's life as it is played forward.
struct Story<'a> {
    setup: &'a Setup,
    rng: &'a mut StdRng,
    id: String,
    customer_id: String,
    t: NaiveDateTime,
    seq: u16,
    status: Status,
    priority: Priority,
    place: usize,
    assignee: Option<String>,
    queued_at: Option<NaiveDateTime>,
    version: i64,
    updated_at: NaiveDateTime,
    solved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    channel: Channel,
    messages: Vec<Vec<Val>>,
    events: Vec<Vec<Val>>,
}

impl Story<'_> {
    /// Moves the story on by `by`; false (and nothing moves) once that
    /// would pass now: the ticket's life stops where it is.
    fn after(&mut self, by: Duration) -> bool {
        let t = (self.t + by).trunc_subsecs(6);
        if t > self.setup.now {
            return false;
        }
        self.t = t;
        true
    }

    fn new_id(&mut self) -> String {
        self.seq = self.seq.wrapping_add(1);
        id_at(self.rng, self.t, self.seq)
    }

    fn queue(&self) -> QueueRef {
        self.setup.places[self.place].queue.clone()
    }

    fn customer_actor(&self) -> String {
        format!("customer:{}", self.customer_id)
    }

    /// Records one change: its events at the story's instant (the ticket's
    /// version moves on when it changes fields, as the seam does).
    fn change(&mut self, actor: &str, events: &[EventData], bumps: bool) {
        for event in events {
            let id = self.new_id();
            self.events.push(vec![
                text(id),
                text(self.id.clone()),
                text(event.kind()),
                text(actor),
                text(event.payload().to_string()),
                Val::At(self.t),
            ]);
        }
        if bumps {
            self.version += 1;
            self.updated_at = self.t;
        }
    }

    fn message(
        &mut self,
        agent: Option<&str>,
        public: bool,
        channel: Channel,
        body: &str,
    ) -> String {
        let id = self.new_id();
        self.messages.push(vec![
            text(id.clone()),
            text(self.id.clone()),
            text(if agent.is_some() { "agent" } else { "customer" }),
            opt_text(agent),
            if agent.is_some() {
                Val::Null
            } else {
                text(self.customer_id.clone())
            },
            Val::Bool(public),
            text(channel.as_str()),
            text(body),
            Val::Null,
            Val::Null,
            Val::Null,
            Val::Null,
            Val::At(self.t),
            Val::Bool(false),
        ]);
        id
    }

    /// The agent who works the ticket: its assignee, else one of the
    /// holding vendor's agents.
    fn worker(&mut self) -> String {
        match &self.assignee {
            Some(agent) => agent.clone(),
            None => self.setup.places[self.place]
                .agents
                .choose(self.rng)
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn agent_ref(&self, agent: &str) -> AgentRef {
        AgentRef {
            agent_id: agent.to_string(),
            vendor_id: Some(self.queue().vendor_id),
        }
    }

    fn set_status(&mut self, actor: &str, to: Status, reason: Option<StatusReason>) {
        let from = self.status;
        if from == to {
            return;
        }
        self.status = to;
        match to {
            Status::Solved => self.solved_at = Some(self.t),
            Status::Closed => self.closed_at = Some(self.t),
            _ => self.solved_at = None,
        }
        self.change(
            actor,
            &[EventData::StatusChanged { from, to, reason }],
            true,
        );
    }

    fn claim(&mut self) {
        let agents = &self.setup.places[self.place].agents;
        let Some(agent) = agents.choose(self.rng).cloned() else {
            return;
        };
        let event = EventData::Assigned {
            from: None,
            to: self.agent_ref(&agent),
            by: Some(AssignedBy::Claim),
        };
        self.assignee = Some(agent.clone());
        self.queued_at = None;
        self.change(&format!("agent:{agent}"), &[event], true);
    }

    fn note(&mut self) {
        let agent = self.worker();
        let message_id = self.message(
            Some(&agent),
            false,
            Channel::Api,
            "Checked the account; looks like the sync job again.",
        );
        self.change(
            &format!("agent:{agent}"),
            &[EventData::NoteAdded { message_id }],
            true,
        );
    }

    fn agent_replies(&mut self) {
        let agent = self.worker();
        let actor = format!("agent:{agent}");
        let message_id = self.message(
            Some(&agent),
            true,
            Channel::Api,
            "Thanks for the details. Could you try again now and tell us what you see?",
        );
        let mut events = vec![EventData::Replied {
            message_id,
            channel: Channel::Api,
        }];
        if self.status == Status::New {
            self.status = Status::Open;
            events.push(EventData::StatusChanged {
                from: Status::New,
                to: Status::Open,
                reason: Some(StatusReason::FirstReply),
            });
        }
        self.change(&actor, &events, true);
    }

    fn customer_writes(&mut self) {
        let actor = self.customer_actor();
        let channel = if self.channel == Channel::Email {
            Channel::Email
        } else {
            Channel::Web
        };
        let message_id = self.message(
            None,
            true,
            channel,
            "Still not working for me, same error as before.",
        );
        let mut events = vec![EventData::CustomerReplied {
            message_id,
            channel,
            automatic: false,
            threaded_by: None,
            refused_attachments: Vec::new(),
        }];
        let from = self.status;
        if from.reopens_on_customer_reply() {
            self.status = Status::Open;
            self.solved_at = None;
            events.push(EventData::StatusChanged {
                from,
                to: Status::Open,
                reason: Some(StatusReason::CustomerReplied),
            });
        }
        self.change(&actor, &events, true);
    }

    fn change_priority(&mut self) {
        let to = loop {
            let p = pick_priority(self.rng);
            if p != self.priority {
                break p;
            }
        };
        let from = self.priority;
        self.priority = to;
        let agent = self.worker();
        self.change(
            &format!("agent:{agent}"),
            &[EventData::PriorityChanged { from, to }],
            true,
        );
    }

    /// Hands the ticket to a queue of the other vendor.
    fn hand_off(&mut self) {
        let vendor = self.queue().vendor_id;
        let others: Vec<usize> = (0..self.setup.places.len())
            .filter(|&i| self.setup.places[i].queue.vendor_id != vendor)
            .collect();
        let Some(&to) = others.choose(self.rng) else {
            return;
        };
        let agent = self.worker();
        let from = self.queue();
        self.place = to;
        let mut events = vec![EventData::QueueChanged {
            from: Some(from),
            to: Some(self.queue()),
            handed_off: true,
            reason: None,
            note: Some("Needs tier 2: billing system access".into()),
        }];
        if let Some(holder) = self.assignee.take() {
            events.push(EventData::Unassigned {
                from: AgentRef {
                    agent_id: holder,
                    vendor_id: Some(vendor),
                },
                reason: ReleaseReason::HandedOff,
            });
        }
        self.queued_at = Some(self.t);
        self.change(&format!("agent:{agent}"), &events, true);
    }

    /// A help-desk life (`history`), until it ends or reaches now.
    fn live(&mut self) {
        let resolves = self.rng.random_bool(0.71);
        let _ = self.play(resolves);
    }

    fn play(&mut self, resolves: bool) -> Option<()> {
        let rng_bool = |s: &mut Self, p: f64| s.rng.random_bool(p);
        let step = |s: &mut Self, by: Duration| s.after(by).then_some(());
        if rng_bool(self, 0.85) {
            let by = wait(self.rng, 2.0, 240.0);
            step(self, by)?;
            self.claim();
        }
        if rng_bool(self, 0.3) {
            let by = wait(self.rng, 5.0, 120.0);
            step(self, by)?;
            self.note();
        }
        if rng_bool(self, 0.06) {
            let by = wait(self.rng, 1.0, 30.0);
            step(self, by)?;
            self.change_priority();
        }
        let by = reply_wait(self.rng, self.priority);
        step(self, by)?;
        self.agent_replies();
        let rounds = *[0u8, 0, 0, 0, 1, 1, 1, 2, 2, 3]
            .choose(self.rng)
            .unwrap_or(&0);
        let hand_off = rng_bool(self, 0.12);
        let shift = rng_bool(self, 0.06);
        for round in 0..rounds {
            let asks = rng_bool(self, 0.5);
            if asks {
                let by = Duration::seconds(self.rng.random_range(5..120));
                step(self, by)?;
                let agent = self.worker();
                self.set_status(&format!("agent:{agent}"), Status::Pending, None);
            }
            let by = wait(self.rng, 20.0, 4320.0);
            step(self, by)?;
            self.customer_writes();
            if round == 0 && shift {
                let by = wait(self.rng, 5.0, 60.0);
                step(self, by)?;
                self.change_priority();
            }
            if round == 0 && hand_off {
                let by = wait(self.rng, 10.0, 240.0);
                step(self, by)?;
                self.hand_off();
                if rng_bool(self, 0.8) {
                    let by = wait(self.rng, 5.0, 480.0);
                    step(self, by)?;
                    self.claim();
                }
            }
            if rng_bool(self, 0.2) {
                let by = wait(self.rng, 5.0, 120.0);
                step(self, by)?;
                self.note();
            }
            let by = reply_wait(self.rng, self.priority);
            step(self, by)?;
            self.agent_replies();
        }
        if !resolves {
            if rng_bool(self, 0.3) {
                let by = Duration::seconds(self.rng.random_range(5..600));
                step(self, by)?;
                let agent = self.worker();
                let hold = if rng_bool(self, 0.5) {
                    Status::Pending
                } else {
                    Status::OnHold
                };
                self.set_status(&format!("agent:{agent}"), hold, None);
            }
            return Some(());
        }
        let by = wait(self.rng, 10.0, 2880.0);
        step(self, by)?;
        let agent = self.worker();
        self.set_status(&format!("agent:{agent}"), Status::Solved, None);
        if rng_bool(self, 0.06) {
            let by = wait(self.rng, 60.0, 4320.0);
            step(self, by)?;
            self.customer_writes();
            let by = reply_wait(self.rng, self.priority);
            step(self, by)?;
            self.agent_replies();
            let by = wait(self.rng, 10.0, 1440.0);
            step(self, by)?;
            let agent = self.worker();
            self.set_status(&format!("agent:{agent}"), Status::Solved, None);
        }
        // Solved tickets close by themselves after four quiet days.
        step(self, Duration::days(4))?;
        self.set_status("system", Status::Closed, Some(StatusReason::AutoClosed));
        Some(())
    }
}

struct Chunk {
    customers: Table,
    tickets: Table,
    messages: Table,
    events: Table,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            customers: Table::new("customers", CUSTOMER_COLUMNS),
            tickets: Table::new("tickets", TICKET_COLUMNS),
            messages: Table::new("messages", MESSAGE_COLUMNS),
            events: Table::new("ticket_events", EVENT_COLUMNS),
        }
    }

    fn write(&mut self, out: &mut impl Write, format: Format) -> io::Result<()> {
        self.customers.write(out, format)?;
        self.tickets.write(out, format)?;
        self.messages.write(out, format)?;
        self.events.write(out, format)
    }
}

const FIRST_NUMBER: i64 = 10001;

fn customer_id(number: i64) -> String {
    format!("bench-customer-{}", (number - FIRST_NUMBER).max(0) / 10)
}

/// One ticket, its customer (every tenth ticket brings a new one) and its
/// history, onto `chunk`.
fn ticket(setup: &Setup, rng: &mut StdRng, number: i64, index: u64, chunk: &mut Chunk) {
    let now = setup.now;
    let due = setup.mix == Mix::Scanner && index < setup.due;
    let age = match setup.mix {
        Mix::History => Duration::seconds(rng.random_range(60..setup.days * 86_400)),
        Mix::Scanner if due => Duration::seconds(rng.random_range(8 * 86_400..12 * 86_400)),
        Mix::Scanner => Duration::seconds(rng.random_range(3_600..7 * 86_400)),
    };
    let created = (now - age).trunc_subsecs(6);
    let customer = customer_id(number);
    if (number - FIRST_NUMBER) % 10 == 0 {
        let k = (number - FIRST_NUMBER) / 10;
        chunk.customers.rows.push(vec![
            text(customer.clone()),
            text(format!("customer{k}@client{}.example", k % 997)),
            text(format!("Customer {k}")),
            Val::Null,
            Val::At(created),
        ]);
    }
    let channel = *[Channel::Email, Channel::Email, Channel::Web, Channel::Api]
        .choose(rng)
        .unwrap_or(&Channel::Email);
    let priority = pick_priority(rng);
    let place = rng.random_range(0..setup.places.len());
    let id = id_at(rng, created, 0);
    let mut token = [0u8; 32];
    rng.fill(&mut token[..]);
    let mut story = Story {
        setup,
        rng,
        id: id.clone(),
        customer_id: customer.clone(),
        t: created,
        seq: 0,
        status: Status::New,
        priority,
        place,
        assignee: None,
        queued_at: Some(created),
        version: 1,
        updated_at: created,
        solved_at: None,
        closed_at: None,
        channel,
        messages: Vec::new(),
        events: Vec::new(),
    };
    let subject = format!("Cannot sync invoices (order {number})");
    story.message(
        None,
        true,
        channel,
        "Hello, since this morning the invoice sync fails with error 502. Please help.",
    );
    let queue = story.queue();
    let actor = story.customer_actor();
    let opened = [
        EventData::Created {
            channel,
            priority,
            queue: Some(queue.clone()),
            follow_up_of: None,
        },
        EventData::Routed {
            rule_set_version: setup.rule_set_version,
            rules: Vec::new(),
            queue: Some(queue),
            queue_source: QueueSource::Default,
            sla_policy_id: None,
            intake: IntakeFacts {
                priority,
                tags: Vec::new(),
                intake_hint: None,
                recipients: Vec::new(),
            },
            notes: Vec::new(),
        },
    ];
    story.change(&actor, &opened, false);
    match setup.mix {
        Mix::History => story.live(),
        Mix::Scanner if due => {
            if story.rng.random_bool(0.3) {
                let by = wait(story.rng, 5.0, 120.0);
                if story.after(by) {
                    story.note();
                }
            }
        }
        Mix::Scanner => {
            let room = (now - created).num_seconds().max(2);
            // Answered within half an hour: inside every first-response target.
            let by = Duration::seconds(story.rng.random_range(1..room.min(1_800)));
            if story.after(by) {
                story.agent_replies();
            }
        }
    }
    let queue_id = story.queue().queue_id;
    chunk.tickets.rows.push(vec![
        text(id),
        Val::Int(number),
        text(subject),
        text(story.status.as_str()),
        text(story.priority.as_str()),
        text(channel.as_str()),
        text(queue_id),
        opt_text(story.assignee.as_deref()),
        text(customer),
        text("[]"),
        text("{}"),
        Val::Null,
        text(hex::encode(token)),
        Val::Null,
        Val::Int(story.version),
        Val::At(created),
        Val::At(story.updated_at),
        opt_at(story.solved_at),
        opt_at(story.closed_at),
        Val::Null,
        opt_at(story.queued_at),
    ]);
    chunk.messages.rows.append(&mut story.messages);
    chunk.events.rows.append(&mut story.events);
}

/// `QID:VID,...` or `AID:VID,...` pairs.
fn pairs(list: &str) -> Result<Vec<(String, String)>, String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            pair.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("'{pair}' is not ID:VENDOR_ID"))
        })
        .collect()
}

fn number(flags: &Flags, name: &str, default: i64) -> Result<i64, String> {
    match flags.text(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("--{name} must be a whole number\n{USAGE}")),
    }
}

fn run() -> Result<(), String> {
    let flags = Flags::from_env(FLAGS, USAGE)?;
    let format = match flags.required("format")?.as_str() {
        "pg" => Format::Pg,
        "sqlite" => Format::Sqlite,
        other => return Err(format!("--format {other}: pg or sqlite\n{USAGE}")),
    };
    let mix = match flags.required("mix")?.as_str() {
        "history" => Mix::History,
        "scanner" => Mix::Scanner,
        other => return Err(format!("--mix {other}: history or scanner\n{USAGE}")),
    };
    let tickets = u64::try_from(number(&flags, "tickets", 0)?).map_err(|e| e.to_string())?;
    let now = DateTime::from_timestamp(number(&flags, "now", 0)?, 0)
        .ok_or("--now must be unix seconds")?
        .naive_utc();
    let first = number(&flags, "first-number", FIRST_NUMBER)?;
    if first < FIRST_NUMBER || (first - FIRST_NUMBER) % 10 != 0 {
        return Err(format!(
            "--first-number must be {FIRST_NUMBER} plus a multiple of 10"
        ));
    }
    let queues = pairs(&flags.required("queues")?)?;
    let agents = pairs(&flags.required("agents")?)?;
    let places: Vec<Place> = queues
        .into_iter()
        .map(|(queue_id, vendor_id)| Place {
            agents: agents
                .iter()
                .filter(|(_, v)| *v == vendor_id)
                .map(|(a, _)| a.clone())
                .collect(),
            queue: QueueRef {
                queue_id,
                vendor_id,
            },
        })
        .collect();
    if places.is_empty() || places.iter().any(|p| p.agents.is_empty()) {
        return Err("every queue needs at least one agent of its vendor".into());
    }
    let setup = Setup {
        mix,
        now,
        days: number(&flags, "days", 90)?.max(1),
        due: u64::try_from(number(&flags, "due", 0)?).map_err(|e| e.to_string())?,
        rule_set_version: number(&flags, "rule-set-version", 1)?,
        places,
    };
    let seed = u64::try_from(number(&flags, "seed", 1)?).unwrap_or(1);
    let mut rng = StdRng::seed_from_u64(seed ^ u64::try_from(first).unwrap_or(0));
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let io = |e: io::Error| e.to_string();
    if format == Format::Sqlite {
        writeln!(out, "BEGIN;").map_err(io)?;
    }
    let mut chunk = Chunk::new();
    for index in 0..tickets {
        let n = first + i64::try_from(index).map_err(|e| e.to_string())?;
        ticket(&setup, &mut rng, n, index, &mut chunk);
        if chunk.tickets.rows.len() >= CHUNK {
            chunk.write(&mut out, format).map_err(io)?;
        }
    }
    chunk.write(&mut out, format).map_err(io)?;
    if format == Format::Sqlite {
        writeln!(out, "COMMIT;").map_err(io)?;
    }
    out.flush().map_err(io)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slagen: {e}");
            ExitCode::from(2)
        }
    }
}
