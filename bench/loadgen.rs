//! Intake load generator for `bench/intake`.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:PORT \
//!     --token TOKEN [--clients 16] [--tickets 20000] [--warmup 500] [--max-seconds 900]
//! ```
//!
//! `clients` tasks share one keep-alive connection pool and create `tickets`
//! tickets through `POST /api/v1/tickets` (after `warmup` unmeasured ones),
//! then print one JSON line: counts, seconds, tickets/s and latency
//! percentiles. Any answer other than 201 counts as an error. Only loopback
//! URLs are accepted, and the run ends by itself: after the fixed number of
//! requests, or at `--max-seconds`, whichever comes first.

#[path = "common.rs"]
mod common;

use common::{error_kind, http_client, loopback_url, percentile_ms, round, run_id, Rng};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    token: String,
    clients: usize,
    tickets: usize,
    warmup: usize,
    max_seconds: u64,
}

const USAGE: &str = "usage: loadgen --url http://127.0.0.1:PORT --token TOKEN \
[--clients 16] [--tickets 20000] [--warmup 500] [--max-seconds 900]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        token: String::new(),
        clients: 16,
        tickets: 20_000,
        warmup: 500,
        max_seconds: 900,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: '{v}' is not a number"))
        };
        match flag.as_str() {
            "--url" => args.url = value.trim_end_matches('/').to_string(),
            "--token" => args.token = value,
            "--clients" => args.clients = number(&value)?,
            "--tickets" => args.tickets = number(&value)?,
            "--warmup" => args.warmup = number(&value)?,
            "--max-seconds" => args.max_seconds = number(&value)? as u64,
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    if args.token.is_empty() {
        return Err(format!("--token is required\n{USAGE}"));
    }
    if args.clients == 0 || args.tickets == 0 {
        return Err("--clients and --tickets must be at least 1".into());
    }
    // Only ever load the local machine.
    args.url = loopback_url(&args.url)?;
    Ok(args)
}

const SUBJECTS: &[&str] = &[
    "Cannot log in after password reset",
    "Invoice shows the wrong VAT number",
    "Order arrived damaged",
    "Refund not received yet",
    "How do I export my data?",
    "App crashes when uploading a photo",
    "Delivery address change",
    "Charged twice for the same subscription",
    "Two-factor code never arrives",
    "Question about the enterprise plan",
];

const OPENINGS: &[&str] = &[
    "Hello,",
    "Hi support team,",
    "Good morning,",
    "Hola, I hope you can help.",
    "Dear Sir or Madam,",
];

const SENTENCES: &[&str] = &[
    "I tried the steps from the help centre article but nothing changed.",
    "This started yesterday afternoon and it is still happening this morning.",
    "My colleague on the same account does not have the problem.",
    "I have attached nothing because the upload button does not respond.",
    "The order number is in the custom fields of this request.",
    "Could you please look into it as soon as possible? We are blocked.",
    "I already cleared the cache and tried another browser.",
    "The error message says something went wrong, please try again later.",
    "We are a team of twelve people and everyone depends on this.",
    "Please call me back if that is easier; I am available until six.",
];

const FIRST_NAMES: &[&str] = &[
    "Ana", "Ben", "Chloé", "Dmitri", "Esra", "Farid", "Grace", "Hiro", "Inés", "Jonas",
];
const LAST_NAMES: &[&str] = &[
    "García", "Okafor", "Nguyen", "Schmidt", "Rossi", "Kowalski", "Silva", "Tanaka",
];
const PRIORITIES: &[&str] = &["low", "normal", "normal", "normal", "high", "urgent"];
const TAGS: &[&str] = &["billing", "login", "shipping", "mobile", "refund", "vip"];
const LANGUAGES: &[&str] = &["en", "en", "en", "es", "de", "fr", "pt-BR"];

/// Distinct customers that come back for more tickets during a run.
const REPEAT_CUSTOMERS: u64 = 1_000;
/// Percentage of tickets from a returning customer.
const REPEAT_PERCENT: u64 = 30;

/// The body of ticket `index`: ~70% from new customers, the rest from a pool
/// of returning ones. `run` keeps new customers new across runs.
fn ticket_body(run: u64, index: usize) -> String {
    let mut rng = Rng(run ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let (email, name) = if rng.below(100) < REPEAT_PERCENT {
        let k = rng.below(REPEAT_CUSTOMERS);
        let mut named = Rng(k);
        (
            format!("returning-{k}@customers.example.com"),
            format!("{} {}", named.pick(FIRST_NAMES), named.pick(LAST_NAMES)),
        )
    } else {
        (
            format!("c{run:x}-{index}@customers.example.com"),
            format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)),
        )
    };
    let mut text = String::from(rng.pick(OPENINGS));
    text.push_str("\n\n");
    for _ in 0..3 + rng.below(6) {
        text.push_str(rng.pick(SENTENCES));
        text.push(' ');
    }
    text.push_str("\n\nThanks,\n");
    text.push_str(&name);
    let mut tags = vec![rng.pick(TAGS)];
    if rng.below(3) == 0 {
        tags.push(rng.pick(TAGS));
    }
    serde_json::json!({
        "subject": format!("{} (#{})", rng.pick(SUBJECTS), index),
        "body": text,
        "customer": { "email": email, "name": name },
        "priority": rng.pick(PRIORITIES),
        "tags": tags,
        "custom_fields": { "order_id": format!("ORD-{:07}", rng.below(10_000_000)), "plan": "pro" },
        "language": rng.pick(LANGUAGES),
    })
    .to_string()
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, usize>,
}

/// What the clients of one phase share.
struct Job {
    http: reqwest::Client,
    endpoint: String,
    auth: String,
    run: u64,
    /// Index of the next ticket to send; the phase ends at `end`.
    next: AtomicUsize,
    end: usize,
    deadline: Instant,
    tally: Mutex<Tally>,
}

/// Takes ticket indexes from the shared counter until it reaches the end or
/// the deadline passes.
async fn client(job: Arc<Job>) {
    let mut local = Tally::default();
    loop {
        let index = job.next.fetch_add(1, Ordering::Relaxed);
        if index >= job.end || Instant::now() >= job.deadline {
            break;
        }
        let body = ticket_body(job.run, index);
        let started = Instant::now();
        let outcome = job
            .http
            .post(&job.endpoint)
            .header("authorization", &job.auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let outcome = match outcome {
            // Read the whole answer: the ticket is created when the body is in.
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(_) if status.as_u16() == 201 => Ok(()),
                    Ok(_) => Err(format!("http {}", status.as_u16())),
                    Err(e) => Err(format!("body: {}", error_kind(&e))),
                }
            }
            Err(e) => Err(format!("send: {}", error_kind(&e))),
        };
        let elapsed = started.elapsed().as_micros() as u64;
        match outcome {
            Ok(()) => local.latencies_us.push(elapsed),
            Err(kind) => *local.errors.entry(kind).or_default() += 1,
        }
    }
    let mut shared = job.tally.lock().unwrap();
    shared.latencies_us.append(&mut local.latencies_us);
    for (kind, n) in local.errors {
        *shared.errors.entry(kind).or_default() += n;
    }
}

/// Runs one phase of `count` requests; returns the tally and wall time.
async fn phase(
    http: &reqwest::Client,
    args: &Args,
    run: u64,
    first: usize,
    count: usize,
    deadline: Instant,
) -> (Tally, Duration) {
    let job = Arc::new(Job {
        http: http.clone(),
        endpoint: format!("{}/api/v1/tickets", args.url),
        auth: format!("Bearer {}", args.token),
        run,
        next: AtomicUsize::new(first),
        end: first + count,
        deadline,
        tally: Mutex::new(Tally::default()),
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|_| tokio::spawn(client(job.clone())))
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    let tally = std::mem::take(&mut *job.tally.lock().unwrap());
    (tally, elapsed)
}

// One thread is plenty for a few thousand requests a second and leaves the
// cores to the server and the database being measured.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let http = http_client(args.clients);
    let run = run_id();
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);

    let (warm, _) = phase(&http, &args, run, 0, args.warmup, deadline).await;
    let warmup_errors: usize = warm.errors.values().sum();
    if args.warmup > 0 && warm.latencies_us.is_empty() {
        eprintln!("loadgen: every warm-up request failed: {:?}", warm.errors);
    }

    let (mut tally, elapsed) = phase(&http, &args, run, args.warmup, args.tickets, deadline).await;
    tally.latencies_us.sort_unstable();
    let ok = tally.latencies_us.len();
    let errors: usize = tally.errors.values().sum();
    let seconds = elapsed.as_secs_f64();
    let mean_ms = if ok == 0 {
        0.0
    } else {
        tally.latencies_us.iter().sum::<u64>() as f64 / ok as f64 / 1000.0
    };
    let incomplete = ok + errors < args.tickets;
    let report = serde_json::json!({
        "tickets": args.tickets,
        "created": ok,
        "errors": errors,
        "error_kinds": tally.errors,
        "warmup": args.warmup,
        "warmup_errors": warmup_errors,
        "clients": args.clients,
        "seconds": round(seconds, 3),
        "rate": round(ok as f64 / seconds.max(1e-9), 1),
        "mean_ms": round(mean_ms, 2),
        "p50_ms": round(percentile_ms(&tally.latencies_us, 50.0), 2),
        "p90_ms": round(percentile_ms(&tally.latencies_us, 90.0), 2),
        "p99_ms": round(percentile_ms(&tally.latencies_us, 99.0), 2),
        "max_ms": round(tally.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0, 2),
        "stopped_at_deadline": incomplete,
    });
    println!("{report}");
    if errors > 0 || incomplete {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
