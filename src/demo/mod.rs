//! `relay demo`: fills an empty database with a realistic data set to
//! explore: three vendors in three time zones working for "Lumen" (a photo
//! backup subscription), their queues and people, the client's manager, and
//! three weeks of tickets with conversations and audit trails.
//!
//! Everything is drawn from a generator with a fixed seed, so every run
//! tells the same stories (dated relative to now). The whole data set is
//! written in one transaction: a failed run leaves nothing behind. Email
//! addresses use the reserved `.example` domain, so nothing can ever reach a
//! real person.

mod content;
mod org;
mod story;
mod summary;

use crate::auth::{self, Principal};
use crate::config::Settings;
use crate::db::models::Customer;
use crate::db::schema::{agents, customers, queues, tickets, vendors};
use crate::db::{write_tx, Conn, DbConnection, WriteConn};
use crate::directory::{
    agents as agent_service, queues as queue_service, vendors as vendor_service,
};
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::tickets::change;
use chrono::{Datelike, Duration, NaiveDateTime, TimeZone, Timelike};
use content::Lang;
use diesel::prelude::*;
use org::{CustomerPool, Person, VENDORS};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use story::{Plan, Setting, Staff};
use summary::{Issued, Outcome};

/// The fixed seed: the same demo on every run.
pub const SEED: u64 = 0x7E1A_D3E0;
/// How far back the tickets go.
pub const DAYS: i64 = 21;
/// Tickets in vendor queues (plus a few unrouted ones).
pub const TICKETS: usize = 400;

/// Customers write mostly in their daytime: relative weight per local hour.
const HOUR_WEIGHTS: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 9, 9, 8, 8, 9, 9, 8, 7, 7, 7, 6, 5, 3, 2,
];

/// A vendor as created, with its people.
struct CreatedVendor {
    queue_ids: Vec<String>,
    staff: Vec<Staff>,
}

/// Seeds the database and returns a summary for the person who ran it.
pub fn seed(conn: &mut Conn, settings: &Settings) -> AppResult<String> {
    let now = conn.now().with_nanosecond(0).expect("whole seconds");
    let outcome = write_tx(conn, |conn| {
        refuse_unless_empty(conn)?;
        let vendors = create_organisation(conn, now)?;
        let mut rng = StdRng::seed_from_u64(SEED);
        let (people, mut plans) = plan_tickets(&mut rng, &vendors, now);
        let customers = insert_tickets(conn, &people, &mut plans)?;
        let tokens = issue_tokens(conn)?;
        Ok::<_, AppError>(Outcome {
            customers,
            plans,
            tokens,
        })
    })?;
    Ok(summary::render(&outcome, settings))
}

fn refuse_unless_empty(conn: &mut DbConnection) -> AppResult<()> {
    let vendor_count: i64 = vendors::table.count().get_result(conn)?;
    let ticket_count: i64 = tickets::table.count().get_result(conn)?;
    if vendor_count + ticket_count > 0 {
        return Err(AppError::Conflict(format!(
            "this database already has {vendor_count} vendor(s) and {ticket_count} ticket(s); \
             `relay demo` only fills an empty database, so that it never mixes with real data. \
             Point it at a fresh one, e.g. DATABASE_URL=sqlite://data/demo.db relay demo"
        )));
    }
    Ok(())
}

fn create_organisation(
    conn: &mut WriteConn<'_>,
    now: NaiveDateTime,
) -> AppResult<Vec<CreatedVendor>> {
    let admin = Principal {
        token_id: "relay-demo".into(),
        role: Role::Admin,
        agent_id: None,
        vendor_id: None,
    };
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut created = Vec::new();
    for spec in VENDORS {
        let vendor = vendor_service::create(
            conn,
            &admin,
            &vendor_service::VendorInput {
                name: Some(spec.name.into()),
                timezone: Some(spec.timezone.into()),
                contracted_attainment: Some(spec.contracted_attainment),
                price_per_ticket_cents: Some(spec.price_per_ticket_cents),
                currency: Some(spec.currency.into()),
                mask_customer_pii: Some(false),
            },
        )?;
        let mut queue_ids = Vec::new();
        for queue in spec.queues {
            let view = queue_service::create(
                conn,
                &admin,
                &queue_service::QueueInput {
                    slug: Some(queue.slug.into()),
                    name: Some(queue.name.into()),
                    vendor_id: Some(vendor.id.clone()),
                    assignment_strategy: Some(queue.strategy.into()),
                    ..Default::default()
                },
            )?;
            queue_ids.push(view.id);
        }
        let mut staff = Vec::new();
        for person in spec.people {
            let view = agent_service::create(
                conn,
                &admin,
                &agent_service::AgentInput {
                    name: Some(person.name.into()),
                    email: Some(person.email.into()),
                    vendor_id: Some(vendor.id.clone()),
                    role: Some(if person.lead { "lead" } else { "agent" }.into()),
                    skills: Some(strings(person.skills)),
                    capacity: Some(person.capacity),
                    active: Some(!person.left),
                    ..Default::default()
                },
            )?;
            staff.push(Staff {
                id: view.id,
                vendor_id: vendor.id.clone(),
                name: person.name.into(),
                works: person.works,
                lead: person.lead,
                left: person.left,
            });
        }
        created.push(CreatedVendor { queue_ids, staff });
    }
    agent_service::create(
        conn,
        &admin,
        &agent_service::AgentInput {
            name: Some(org::MANAGER_NAME.into()),
            email: Some(org::MANAGER_EMAIL.into()),
            vendor_id: None,
            role: Some("manager".into()),
            skills: Some(strings(&["vendor-management", "reporting"])),
            capacity: Some(0),
            active: Some(true),
            ..Default::default()
        },
    )?;
    // The organisation predates the tickets; the agent who left did so ten
    // days ago.
    let founded = now - Duration::days(90);
    diesel::update(vendors::table)
        .set((
            vendors::created_at.eq(founded),
            vendors::updated_at.eq(founded),
        ))
        .execute(&mut **conn)?;
    diesel::update(queues::table)
        .set((
            queues::created_at.eq(founded),
            queues::updated_at.eq(founded),
        ))
        .execute(&mut **conn)?;
    diesel::update(agents::table)
        .set((
            agents::created_at.eq(founded),
            agents::updated_at.eq(founded),
        ))
        .execute(&mut **conn)?;
    diesel::update(agents::table.filter(agents::active.eq(false)))
        .set(agents::updated_at.eq(now - Duration::days(10)))
        .execute(&mut **conn)?;
    Ok(created)
}

/// When a customer in `person`'s time zone writes, `days_back` days ago.
fn creation_time(
    rng: &mut StdRng,
    person: &Person,
    now: NaiveDateTime,
    days_back: i64,
) -> NaiveDateTime {
    let hours: Vec<u32> = (0..24).collect();
    let hour = *hours
        .choose_weighted(rng, |h| HOUR_WEIGHTS[*h as usize])
        .expect("weights");
    let minute = rng.random_range(0..60);
    let second = rng.random_range(0..60);
    let weekend_shift: f64 = rng.random();
    let local_day = person.tz.from_utc_datetime(&now).date_naive() - Duration::days(days_back);
    let mut day = local_day;
    // Fewer people write at weekends.
    if day.weekday().number_from_monday() >= 6 && weekend_shift < 0.35 && days_back + 2 < DAYS {
        day -= Duration::days(2);
    }
    let local = day.and_hms_opt(hour, minute, second).expect("valid time");
    let utc = person
        .tz
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(local);
    // Later today has not happened yet: that customer wrote yesterday.
    if utc > now - Duration::minutes(3) {
        utc - Duration::days(1)
    } else {
        utc
    }
}

/// Everyone who writes in, and every ticket's story.
fn plan_tickets(
    rng: &mut StdRng,
    vendors: &[CreatedVendor],
    now: NaiveDateTime,
) -> (Vec<Person>, Vec<Plan>) {
    let mut taken = HashSet::new();
    let mut new_id = |rng: &mut StdRng| story::id_at(rng, now - Duration::days(400), 0);
    let pools = [
        CustomerPool::generate(rng, Lang::En, false, 90, &mut taken, &mut new_id),
        CustomerPool::generate(rng, Lang::En, true, 14, &mut taken, &mut new_id),
        CustomerPool::generate(rng, Lang::Es, false, 45, &mut taken, &mut new_id),
        CustomerPool::generate(rng, Lang::Pl, false, 30, &mut taken, &mut new_id),
    ];
    let mut people: Vec<Person> = Vec::new();
    let mut offsets = Vec::new();
    for pool in &pools {
        offsets.push(people.len());
        people.extend(pool.people.iter().cloned());
    }
    let queues: Vec<(usize, usize)> = VENDORS
        .iter()
        .enumerate()
        .flat_map(|(v, spec)| (0..spec.queues.len()).map(move |q| (v, q)))
        .collect();
    let mut plans = Vec::with_capacity(TICKETS + content::UNROUTED.len());
    for index in 0..TICKETS {
        // Each ticket draws from its own generator, so changing one story
        // does not reshuffle all the others.
        let mut ticket_rng =
            StdRng::seed_from_u64(SEED ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (v, q) = *queues
            .choose_weighted(&mut ticket_rng, |(v, q)| VENDORS[*v].queues[*q].weight)
            .expect("queues");
        let spec = &VENDORS[v];
        let queue = &spec.queues[q];
        let pool_index = pools
            .iter()
            .position(|p| p.lang == queue.lang && p.business == queue.business)
            .expect("a pool per language");
        let customer_index = offsets[pool_index] + pools[pool_index].pick(&mut ticket_rng);
        let customer = &people[customer_index];
        let template = queue.templates.choose(&mut ticket_rng).expect("templates");
        // The app release three days ago brought a wave of tickets the
        // teams are still working through.
        let days_back = *(0..DAYS)
            .collect::<Vec<_>>()
            .choose_weighted(&mut ticket_rng, |d| if *d < 3 { 2 } else { 1 })
            .expect("days");
        let created = creation_time(&mut ticket_rng, customer, now, days_back);
        let setting = Setting {
            now,
            load: if now - created < Duration::days(3) {
                2.5
            } else {
                1.0
            },
            vendor_index: v,
            vendor: spec,
            queue,
            queue_id: &vendors[v].queue_ids[q],
            staff: &vendors[v].staff,
            customer_index,
            customer,
        };
        plans.push(story::plan_ticket(&setting, ticket_rng, created, template));
    }
    for (i, (subject, body)) in content::UNROUTED.iter().enumerate() {
        let customer_index = offsets[0] + pools[0].pick(rng);
        let created = now - Duration::minutes(25 + 110 * i as i64);
        plans.push(story::plan_unrouted(
            rng,
            customer_index,
            &people[customer_index],
            created,
            subject,
            body,
        ));
    }
    // Numbers grow with time, like real intake.
    plans.sort_by_key(|p| p.ticket.created_at);
    (people, plans)
}

/// Writes customers, tickets, messages and events; returns how many
/// customers wrote in.
fn insert_tickets(
    conn: &mut WriteConn<'_>,
    people: &[Person],
    plans: &mut [Plan],
) -> AppResult<usize> {
    let mut first_seen: Vec<Option<NaiveDateTime>> = vec![None; people.len()];
    for plan in plans.iter() {
        first_seen[plan.customer].get_or_insert(plan.ticket.created_at);
    }
    let rows: Vec<Customer> = people
        .iter()
        .zip(&first_seen)
        .filter_map(|(p, seen)| {
            seen.map(|at| Customer {
                id: p.id.clone(),
                email: p.email.clone(),
                name: Some(p.name.clone()),
                organization: p.organization.clone(),
                created_at: at,
            })
        })
        .collect();
    for chunk in rows.chunks(200) {
        crate::insert_rows!(conn, customers::table, chunk)?;
    }
    // Through the seam's import, like any history that is not happening now.
    for plan in plans.iter_mut() {
        change::import(conn, &mut plan.ticket, &plan.messages, &plan.events)?;
    }
    Ok(rows.len())
}

fn issue_tokens(conn: &mut WriteConn<'_>) -> AppResult<Vec<Issued>> {
    let mut issued = Vec::new();
    let manager = auth::issue_token(
        conn,
        Role::Manager,
        &format!("demo: {} (manager)", org::MANAGER_NAME),
        Some(org::MANAGER_EMAIL),
    )?;
    issued.push(Issued {
        variable: "RELAY_MANAGER".into(),
        who: format!(
            "{}, manager at Lumen (the client company): every vendor and ticket",
            org::MANAGER_NAME
        ),
        secret: manager.secret,
    });
    for spec in VENDORS {
        let lead = spec.people.iter().find(|p| p.lead).expect("a lead");
        let token = auth::issue_token(
            conn,
            Role::Lead,
            &format!("demo: {} (lead, {})", lead.name, spec.name),
            Some(lead.email),
        )?;
        issued.push(Issued {
            variable: format!("RELAY_LEAD_{}", spec.key),
            who: format!(
                "{}, lead at {}: only that vendor's queues and tickets",
                lead.name, spec.name
            ),
            secret: token.secret,
        });
    }
    Ok(issued)
}
