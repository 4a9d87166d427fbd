//! Plays one ticket's life forward from its creation until now: the
//! customer's message, assignment, replies, notes, waiting, solving and
//! closing, each at a believable time. Whatever would happen after now has
//! not happened yet, so old tickets end up closed and recent ones open.

use super::content::{phrases, Flow, Lang, Template};
use super::org::{Person, QueueSpec, VendorSpec};
use crate::db::models::{Message, Ticket, TicketEvent};
use crate::domain::event::{AgentRef, AssignedBy, EventData, QueueRef, StatusReason};
use crate::domain::{Channel, Priority, Status};
use chrono::{Datelike, Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

/// A vendor person as the story needs them.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: String,
    pub vendor_id: String,
    pub name: String,
    pub works: &'static [&'static str],
    pub lead: bool,
    pub left: bool,
}

/// A ticket ready to insert (its number is taken at insert time).
pub struct Plan {
    pub ticket: Ticket,
    /// The customer's secret link; only its hash is in `ticket`.
    pub access_token: String,
    pub customer: usize,
    pub vendor: Option<usize>,
    pub messages: Vec<Message>,
    pub events: Vec<TicketEvent>,
}

/// A UUIDv7 carrying the (backdated) time it stands for, then `seq` (so rows
/// of one ticket with the same time sort in the order they happened, as
/// messages and events are listed by time, then id), then random bits from
/// the demo's generator.
pub fn id_at(rng: &mut StdRng, at: NaiveDateTime, seq: u16) -> String {
    crate::clock::historical_id(at, seq, rng.random())
}

/// Minutes between `low` and `high`, spread log-uniformly (most waits are
/// short, a few are long), scaled by a team's pace.
fn wait(rng: &mut StdRng, low: f64, high: f64, pace: f64) -> Duration {
    let x: f64 = rng.random();
    let minutes = (low.ln() + x * (high.ln() - low.ln())).exp() * pace;
    Duration::seconds((minutes * 60.0) as i64)
}

/// How long until an agent answers, by priority.
fn reply_wait(rng: &mut StdRng, priority: &str, pace: f64) -> Duration {
    let (low, high) = match priority {
        "urgent" => (5.0, 60.0),
        "high" => (10.0, 300.0),
        "normal" => (20.0, 720.0),
        _ => (45.0, 1440.0),
    };
    wait(rng, low, high, pace)
}

pub struct Setting<'a> {
    pub now: NaiveDateTime,
    /// Slows the teams down (a busy week builds a backlog).
    pub load: f64,
    pub vendor_index: usize,
    pub vendor: &'a VendorSpec,
    pub queue: &'a QueueSpec,
    pub queue_id: &'a str,
    pub staff: &'a [Staff],
    pub customer_index: usize,
    pub customer: &'a Person,
}

struct Story<'a> {
    set: &'a Setting<'a>,
    rng: StdRng,
    last: NaiveDateTime,
    seq: u16,
    ticket: Ticket,
    messages: Vec<Message>,
    events: Vec<TicketEvent>,
    words: Vec<(&'static str, String)>,
}

impl Story<'_> {
    /// Claims the moment `t` (never before the previous step, so the audit
    /// trail reads in order); `None` once the story reaches the present.
    fn at(&mut self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let t = t.max(self.last);
        if t > self.set.now {
            return None;
        }
        self.last = t;
        Some(t)
    }

    fn new_id(&mut self, at: NaiveDateTime) -> String {
        self.seq += 1;
        id_at(&mut self.rng, at, self.seq)
    }

    fn fill(&self, text: &str) -> String {
        self.words
            .iter()
            .fold(text.to_string(), |acc, (key, value)| {
                acc.replace(key, value)
            })
    }

    fn event(&mut self, at: NaiveDateTime, actor: &str, event: EventData) {
        let id = self.new_id(at);
        let row = crate::tickets::events::row(id, &self.ticket.id, actor, &event, at);
        self.events.push(row);
    }

    /// Every change makes a new version of the ticket (its ETag changes).
    fn bump(&mut self, at: NaiveDateTime) {
        self.ticket.version += 1;
        self.ticket.updated_at = at;
    }

    fn message(
        &mut self,
        at: NaiveDateTime,
        agent: Option<&str>,
        public: bool,
        channel: Channel,
        body: String,
    ) -> String {
        let id = self.new_id(at);
        let email_message_id = (agent.is_none() && channel == Channel::Email).then(|| {
            let domain = self
                .set
                .customer
                .email
                .rsplit('@')
                .next()
                .unwrap_or("mail.example");
            format!("<{}.{}@{domain}>", at.and_utc().timestamp(), &id[24..])
        });
        self.messages.push(Message {
            id: id.clone(),
            ticket_id: self.ticket.id.clone(),
            author_kind: if agent.is_some() { "agent" } else { "customer" }.into(),
            author_agent_id: agent.map(str::to_string),
            author_customer_id: agent.is_none().then(|| self.ticket.customer_id.clone()),
            public,
            channel: channel.as_str().into(),
            body_text: body,
            body_html: None,
            email_message_id,
            email_in_reply_to: None,
            email_references: None,
            created_at: at,
            automatic: false,
        });
        id
    }

    fn customer_actor(&self) -> String {
        format!("customer:{}", self.ticket.customer_id)
    }

    /// The channel a customer answers on: email threads stay email, the rest
    /// answer on their ticket page.
    fn reply_channel(&self) -> Channel {
        if self.ticket.channel == "email" {
            Channel::Email
        } else {
            Channel::Web
        }
    }

    fn customer_writes(&mut self, t: NaiveDateTime, text: &str) -> Option<()> {
        let t = self.at(t)?;
        let sign = match self.set.queue.lang {
            Lang::Pl => self.set.customer.name.clone(),
            _ => self.set.customer.first.clone(),
        };
        let body = format!("{}\n\n{sign}", self.fill(text));
        let channel = self.reply_channel();
        let id = self.message(t, None, true, channel, body);
        let actor = self.customer_actor();
        self.event(
            t,
            &actor,
            EventData::CustomerReplied {
                message_id: id,
                channel,
                automatic: false,
                threaded_by: None,
                refused_attachments: Vec::new(),
            },
        );
        let status: Status = self.ticket.status.parse().unwrap_or(Status::Open);
        if status.reopens_on_customer_reply() {
            self.status(t, Status::Open, &actor, Some(StatusReason::CustomerReplied));
        }
        self.bump(t);
        Some(())
    }

    fn agent_replies(&mut self, t: NaiveDateTime, agent: &Staff, text: &str) -> Option<()> {
        let t = self.at(t)?;
        let p = phrases(self.set.queue.lang);
        let body = format!(
            "{}\n\n{}\n\n{}",
            self.fill(p.agent_greeting),
            self.fill(text),
            p.agent_signoff.replace("{agent}", &agent.name)
        );
        let id = self.message(t, Some(&agent.id), true, Channel::Api, body);
        let actor = format!("agent:{}", agent.id);
        self.event(
            t,
            &actor,
            EventData::Replied {
                message_id: id,
                channel: Channel::Api,
            },
        );
        if self.ticket.status == "new" {
            self.status(t, Status::Open, &actor, Some(StatusReason::FirstReply));
        }
        self.bump(t);
        Some(())
    }

    fn agent_notes(&mut self, t: NaiveDateTime, agent: &Staff, text: &str) -> Option<()> {
        if text.is_empty() {
            return Some(());
        }
        let t = self.at(t)?;
        let body = self.fill(text);
        let id = self.message(t, Some(&agent.id), false, Channel::Api, body);
        self.event(
            t,
            &format!("agent:{}", agent.id),
            EventData::NoteAdded { message_id: id },
        );
        self.bump(t);
        Some(())
    }

    /// Records a status change (as `tickets::update::set_status` does).
    fn status(&mut self, t: NaiveDateTime, to: Status, actor: &str, reason: Option<StatusReason>) {
        let from: Status = self.ticket.status.parse().unwrap_or(Status::New);
        self.ticket.status = to.as_str().into();
        match to {
            Status::Solved => self.ticket.solved_at = Some(t),
            Status::Closed => self.ticket.closed_at = Some(t),
            _ => self.ticket.solved_at = None,
        }
        self.event(t, actor, EventData::StatusChanged { from, to, reason });
    }

    /// An agent changes the status on its own (a PATCH).
    fn agent_sets(&mut self, t: NaiveDateTime, agent: &Staff, to: Status) -> Option<()> {
        let t = self.at(t)?;
        self.status(t, to, &format!("agent:{}", agent.id), None);
        self.bump(t);
        Some(())
    }

    fn play(&mut self, template: &Template, staff: &Staff, lead: &Staff) -> Option<()> {
        let pace = self.set.vendor.pace * self.set.load;
        let vendor = self.set.vendor;
        let created = self.ticket.created_at;

        // Someone picks it up: a lead hands it out, or an agent claims it.
        let assign_wait = wait(&mut self.rng, 2.0, 50.0, pace);
        let assigner = if self.rng.random_bool(0.3) {
            lead
        } else {
            staff
        };
        let t = self.at(vendor.staffed(created + assign_wait))?;
        self.ticket.assignee_id = Some(staff.id.clone());
        self.event(
            t,
            &format!("agent:{}", assigner.id),
            EventData::Assigned {
                from: None,
                to: AgentRef {
                    agent_id: staff.id.clone(),
                    vendor_id: Some(staff.vendor_id.clone()),
                },
                by: Some(AssignedBy::Person),
            },
        );
        self.bump(t);
        let assigned = t;

        // The first reply; a customer who waits long chases it, and the
        // lead may raise the priority.
        let first_reply =
            vendor.staffed(assigned + reply_wait(&mut self.rng, &self.ticket.priority, pace));
        if first_reply - created > Duration::hours(6) && self.rng.random_bool(0.5) {
            let lang = self.set.queue.lang;
            let chaser = *phrases(lang).chaser.choose(&mut self.rng).expect("phrases");
            let mut when = created + (first_reply - created) * 3 / 5;
            if when <= self.last {
                when = self.last + (first_reply - self.last) / 2;
            }
            self.customer_writes(when, chaser)?;
            let bump_at = vendor.staffed(self.last + wait(&mut self.rng, 5.0, 40.0, pace));
            if matches!(self.ticket.priority.as_str(), "low" | "normal")
                && bump_at < first_reply
                && self.rng.random_bool(0.5)
            {
                let t = self.at(bump_at)?;
                let from = std::mem::replace(&mut self.ticket.priority, "high".into());
                self.event(
                    t,
                    &format!("agent:{}", lead.id),
                    EventData::PriorityChanged {
                        from: from.parse().unwrap_or(Priority::Normal),
                        to: Priority::High,
                    },
                );
                self.bump(t);
            }
        }
        // Some questions need looking into before they can be answered.
        let investigate = template.flow == Flow::Answer && self.rng.random_bool(0.4);
        let lang = self.set.queue.lang;
        if template.flow == Flow::Answer && !investigate {
            let checked = first_reply - wait(&mut self.rng, 2.0, 8.0, 1.0);
            self.agent_notes(checked, staff, template.note)?;
        }
        let first_text = if investigate {
            phrases(lang).looking_into_it
        } else {
            template.reply
        };
        self.agent_replies(first_reply, staff, first_text)?;
        let replied = self.last;

        match template.flow {
            Flow::Answer => {
                if investigate {
                    let answer = vendor.staffed(replied + wait(&mut self.rng, 60.0, 2880.0, pace));
                    let checked = answer - wait(&mut self.rng, 2.0, 15.0, 1.0);
                    self.agent_notes(checked, staff, template.note)?;
                    self.agent_replies(answer, staff, template.reply)?;
                }
                let t = self.last + wait(&mut self.rng, 0.5, 3.0, 1.0);
                self.agent_sets(t, staff, Status::Solved)?;
            }
            Flow::AskInfo => {
                let t = replied + wait(&mut self.rng, 0.3, 2.0, 1.0);
                self.agent_sets(t, staff, Status::Pending)?;
                let pending = self.last;
                if self.rng.random_bool(0.8) {
                    let answer = pending + wait(&mut self.rng, 20.0, 3600.0, 1.0);
                    self.customer_writes(answer, template.follow)?;
                    let back = vendor.staffed(
                        self.last + reply_wait(&mut self.rng, &self.ticket.priority, pace),
                    );
                    let noted = back - wait(&mut self.rng, 2.0, 10.0, 1.0);
                    self.agent_notes(noted, staff, template.note)?;
                    self.agent_replies(back, staff, template.resolve)?;
                } else {
                    let text = phrases(self.set.queue.lang).no_response;
                    let nudge = pending + Duration::days(3) + wait(&mut self.rng, 30.0, 600.0, 1.0);
                    self.agent_replies(vendor.staffed(nudge), staff, text)?;
                }
                let t = self.last + wait(&mut self.rng, 0.3, 2.0, 1.0);
                self.agent_sets(t, staff, Status::Solved)?;
            }
            Flow::ThirdParty => {
                let t = replied + wait(&mut self.rng, 1.0, 8.0, 1.0);
                self.agent_notes(t, staff, template.note)?;
                let t = self.last + wait(&mut self.rng, 0.3, 2.0, 1.0);
                self.agent_sets(t, staff, Status::OnHold)?;
                let held = self.last;
                let fixed = vendor.staffed(held + wait(&mut self.rng, 600.0, 6000.0, 1.0));
                if fixed - held > Duration::hours(20) && self.rng.random_bool(0.4) {
                    let lang = self.set.queue.lang;
                    let chaser = *phrases(lang).chaser.choose(&mut self.rng).expect("phrases");
                    self.customer_writes(held + (fixed - held) / 2, chaser)?;
                }
                self.agent_notes(fixed, staff, template.follow)?;
                let t = self.last + wait(&mut self.rng, 5.0, 45.0, pace);
                self.agent_replies(t, staff, template.resolve)?;
                let t = self.last + wait(&mut self.rng, 0.3, 2.0, 1.0);
                self.agent_sets(t, staff, Status::Solved)?;
            }
        }

        // Some customers say thanks, which re-opens the ticket until the
        // agent solves it again.
        if self.rng.random_bool(0.15) {
            let lang = self.set.queue.lang;
            let thanks = *phrases(lang).thanks.choose(&mut self.rng).expect("phrases");
            let t = self.last + wait(&mut self.rng, 10.0, 1200.0, 1.0);
            self.customer_writes(t, thanks)?;
            let t = vendor.staffed(self.last + wait(&mut self.rng, 10.0, 120.0, pace));
            self.agent_sets(t, staff, Status::Solved)?;
        }

        // Solved tickets close by themselves after four quiet days.
        let solved = self.ticket.solved_at.unwrap_or(self.last);
        let t = self.at(solved + Duration::days(4))?;
        self.status(t, Status::Closed, "system", Some(StatusReason::AutoClosed));
        self.bump(t);
        Some(())
    }
}

fn amount(rng: &mut StdRng, lang: Lang) -> &'static str {
    let choices: &[&str] = match lang {
        Lang::En => &["$9.99", "$29.99", "$99.00", "$119.88"],
        Lang::Es => &["US$ 9,99", "US$ 29,99", "US$ 99,00"],
        Lang::Pl => &["39,99 zł", "119,99 zł", "399,00 zł"],
    };
    choices.choose(rng).expect("amounts")
}

fn date_words(lang: Lang, day: NaiveDateTime) -> String {
    let month = phrases(lang).months[day.month0() as usize];
    match lang {
        Lang::En => format!("{month} {}", day.day()),
        Lang::Es => format!("{} de {month}", day.day()),
        Lang::Pl => format!("{} {month}", day.day()),
    }
}

/// Plans one ticket of `template` created at `created`.
pub fn plan_ticket(
    set: &Setting<'_>,
    mut rng: StdRng,
    created: NaiveDateTime,
    template: &Template,
) -> Plan {
    let lang = set.queue.lang;
    let customer = set.customer;
    let ios = template.tags.contains(&"ios");
    let device = if ios {
        ["iPhone 15", "iPhone 13 mini", "iPhone 14 Pro", "iPhone 16"]
    } else {
        [
            "Pixel 8",
            "Samsung Galaxy S23",
            "Xiaomi Redmi Note 12",
            "Motorola Edge 40",
        ]
    }
    .choose(&mut rng)
    .copied()
    .expect("devices");
    let version = *["4.12.1", "4.12.0", "4.11.3"].choose(&mut rng).expect("v");
    let invoice = format!("INV-2026-{:05}", rng.random_range(1000..99999));
    let order = format!("LM-{:06}", rng.random_range(100_000..999_999));
    let case = format!("ENG-{}", rng.random_range(4400..4999));
    let charged = created - Duration::days(rng.random_range(1..6));
    let lead = set
        .staff
        .iter()
        .find(|s| s.lead)
        .expect("every vendor has a lead");
    let plan = if set.queue.business {
        "Business"
    } else {
        *["Plus", "Plus", "Family", "Free"]
            .choose(&mut rng)
            .expect("plans")
    };
    let words: Vec<(&'static str, String)> = vec![
        ("{first}", customer.first.clone()),
        ("{customer}", customer.name.clone()),
        ("{amount}", amount(&mut rng, lang).to_string()),
        ("{invoice}", invoice),
        ("{order}", order.clone()),
        ("{date}", date_words(lang, charged)),
        ("{device}", device.to_string()),
        ("{version}", version.to_string()),
        ("{case}", case),
        ("{lead}", lead.name.clone()),
        (
            "{org}",
            customer
                .organization
                .clone()
                .unwrap_or_else(|| "our workspace".into()),
        ),
    ];

    let channel = if set.queue.business {
        *[Channel::Email, Channel::Email, Channel::Api]
            .choose(&mut rng)
            .expect("c")
    } else {
        let x: f64 = rng.random();
        if x < 0.6 {
            Channel::Email
        } else if x < 0.9 {
            Channel::Web
        } else {
            Channel::Api
        }
    };
    let mut tags: Vec<String> = template.tags.iter().map(|t| t.to_string()).collect();
    if customer.organization.is_some() && !set.queue.business {
        tags.push("company-account".into());
    }
    if rng.random_bool(0.05) {
        tags.push("vip".into());
    }
    let mut custom = serde_json::Map::new();
    custom.insert("plan".into(), json!(plan));
    if template.kind == "billing" {
        custom.insert("order_id".into(), json!(order));
    } else {
        let platform = if ios {
            "ios"
        } else if template.tags.contains(&"web") || set.queue.business {
            "web"
        } else {
            "android"
        };
        custom.insert("platform".into(), json!(platform));
        if platform != "web" {
            custom.insert("app_version".into(), json!(version));
        }
    }
    if let Some(org) = &customer.organization {
        custom.insert("company".into(), json!(org));
    }

    // Anyone on this queue who still worked here then; leads take fewer.
    let eligible: Vec<&Staff> = set
        .staff
        .iter()
        .filter(|s| s.works.contains(&set.queue.slug))
        .filter(|s| !s.left || set.now - created > Duration::days(12))
        .collect();
    let assignee = eligible
        .choose_weighted(&mut rng, |s| if s.lead { 1 } else { 4 })
        .copied()
        .unwrap_or(lead);

    let access_token = crate::auth::generate_secret();
    let ticket = Ticket {
        id: id_at(&mut rng, created, 0),
        number: 0,
        subject: template.subject.to_string(),
        status: Status::New.as_str().into(),
        priority: template.priority.into(),
        channel: channel.as_str().into(),
        queue_id: Some(set.queue_id.to_string()),
        assignee_id: None,
        customer_id: customer.id.clone(),
        tags: serde_json::to_string(&tags).expect("tags serialise"),
        custom_fields: Value::Object(custom).to_string(),
        language: Some(lang.code().into()),
        access_token_hash: crate::auth::hash_secret(&access_token),
        follow_up_of: None,
        version: 1,
        created_at: created,
        updated_at: created,
        solved_at: None,
        closed_at: None,
        sla_policy_id: None,
        queued_at: None,
    };
    let mut story = Story {
        set,
        rng,
        last: created,
        seq: 0,
        ticket,
        messages: Vec::new(),
        events: Vec::new(),
        words,
    };
    let p = phrases(lang);
    let body = format!(
        "{}\n\n{}\n\n{}",
        p.customer_greeting,
        story.fill(template.body),
        story.fill(p.customer_signoff)
    );
    let first = story.message(created, None, true, channel, body);
    let actor = story.customer_actor();
    let _ = first;
    story.event(
        created,
        &actor,
        EventData::Created {
            channel,
            priority: template.priority.parse().unwrap_or(Priority::Normal),
            queue: Some(QueueRef {
                queue_id: set.queue_id.to_string(),
                vendor_id: assignee.vendor_id.clone(),
            }),
            follow_up_of: None,
        },
    );
    let _ = story.play(template, assignee, lead);
    Plan {
        ticket: story.ticket,
        access_token,
        customer: set.customer_index,
        vendor: Some(set.vendor_index),
        messages: story.messages,
        events: story.events,
    }
}

/// A ticket no routing rule matched: new, in no queue, for a manager to triage.
pub fn plan_unrouted(
    rng: &mut StdRng,
    customer_index: usize,
    customer: &Person,
    created: NaiveDateTime,
    subject: &str,
    body: &str,
) -> Plan {
    let access_token = crate::auth::generate_secret();
    let id = id_at(rng, created, 0);
    let message_id = id_at(rng, created, 1);
    let actor = format!("customer:{}", customer.id);
    Plan {
        ticket: Ticket {
            id: id.clone(),
            number: 0,
            subject: subject.into(),
            status: Status::New.as_str().into(),
            priority: "normal".into(),
            channel: Channel::Web.as_str().into(),
            queue_id: None,
            assignee_id: None,
            customer_id: customer.id.clone(),
            tags: "[]".into(),
            custom_fields: "{}".into(),
            language: Some("en".into()),
            access_token_hash: crate::auth::hash_secret(&access_token),
            follow_up_of: None,
            version: 1,
            created_at: created,
            updated_at: created,
            solved_at: None,
            closed_at: None,
            sla_policy_id: None,
            queued_at: None,
        },
        access_token,
        customer: customer_index,
        vendor: None,
        messages: vec![Message {
            id: message_id.clone(),
            ticket_id: id.clone(),
            author_kind: "customer".into(),
            author_agent_id: None,
            author_customer_id: Some(customer.id.clone()),
            public: true,
            channel: Channel::Web.as_str().into(),
            body_text: body.replace("{first}", &customer.first),
            body_html: None,
            email_message_id: None,
            email_in_reply_to: None,
            email_references: None,
            created_at: created,
            automatic: false,
        }],
        events: vec![crate::tickets::events::row(
            id_at(rng, created, 2),
            &id,
            &actor,
            &EventData::Created {
                channel: Channel::Web,
                priority: Priority::Normal,
                queue: None,
                follow_up_of: None,
            },
            created,
        )],
    }
}
