//! Claim load generator for `bench/claim`.
//!
//! ```text
//! cargo run --release --example claimgen -- --urls http://127.0.0.1:P1[,http://127.0.0.1:P2] \
//!     --tokens FILE --queue QUEUE_ID [--max-seconds 600]
//! ```
//!
//! One task per token (one line of FILE each: an agent's token) claims from
//! the queue through `POST /api/v1/queues/{id}/claim` until it answers 204,
//! agents spread over the given Relay processes in turn. Prints one JSON
//! line: claims, seconds, claims/s, latency percentiles, tickets given more
//! than once (must be 0), errors. Loopback only; stops by itself.

#[path = "common.rs"]
mod common;

use common::{error_kind, http_client, loopback_url, percentile_ms, round, Flags};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const FLAGS: &[&str] = &["urls", "tokens", "queue", "max-seconds"];
const USAGE: &str = "usage: claimgen --urls http://127.0.0.1:PORT[,...] --tokens FILE --queue QUEUE_ID [--max-seconds 600]";

struct Outcome {
    claimed: Vec<String>,
    latencies: Vec<u64>,
    errors: HashMap<String, usize>,
}

async fn agent(client: reqwest::Client, url: String, token: String, deadline: Instant) -> Outcome {
    let mut outcome = Outcome {
        claimed: Vec::new(),
        latencies: Vec::new(),
        errors: HashMap::new(),
    };
    while Instant::now() < deadline {
        let started = Instant::now();
        match client.post(&url).bearer_auth(&token).send().await {
            Ok(resp) if resp.status().as_u16() == 200 => {
                let ticket: serde_json::Value = match resp.json().await {
                    Ok(t) => t,
                    Err(e) => {
                        *outcome.errors.entry(error_kind(&e)).or_default() += 1;
                        continue;
                    }
                };
                outcome.latencies.push(started.elapsed().as_micros() as u64);
                outcome
                    .claimed
                    .push(ticket["id"].as_str().unwrap_or_default().to_string());
            }
            Ok(resp) if resp.status().as_u16() == 204 => {
                let reason = resp.headers().get("relay-claim-reason").cloned();
                if let Some(reason) = reason {
                    *outcome
                        .errors
                        .entry(format!("204 {}", reason.to_str().unwrap_or("?")))
                        .or_default() += 1;
                }
                break;
            }
            Ok(resp) => {
                *outcome
                    .errors
                    .entry(format!("status {}", resp.status().as_u16()))
                    .or_default() += 1
            }
            Err(e) => *outcome.errors.entry(error_kind(&e)).or_default() += 1,
        }
    }
    outcome
}

async fn run() -> Result<bool, String> {
    let flags = Flags::from_env(FLAGS, USAGE)?;
    let urls: Vec<String> = flags
        .required("urls")?
        .split(',')
        .map(loopback_url)
        .collect::<Result<_, _>>()?;
    let tokens: Vec<String> = std::fs::read_to_string(flags.required("tokens")?)
        .map_err(|e| format!("--tokens: {e}"))?
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    if tokens.is_empty() {
        return Err("--tokens: no tokens in the file".into());
    }
    let queue = flags.required("queue")?;
    let deadline = Instant::now() + Duration::from_secs(flags.number("max-seconds", 600)? as u64);
    let client = http_client(tokens.len());
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(n, token)| {
            let url = format!("{}/api/v1/queues/{queue}/claim", urls[n % urls.len()]);
            tokio::spawn(agent(client.clone(), url, token, deadline))
        })
        .collect();
    let mut claimed: HashMap<String, usize> = HashMap::new();
    let mut latencies = Vec::new();
    let mut errors: HashMap<String, usize> = HashMap::new();
    for task in tasks {
        let outcome = task.await.map_err(|e| e.to_string())?;
        for id in outcome.claimed {
            *claimed.entry(id).or_default() += 1;
        }
        latencies.extend(outcome.latencies);
        for (kind, n) in outcome.errors {
            *errors.entry(kind).or_default() += n;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let claims: usize = claimed.values().sum();
    let doubles = claimed.values().filter(|n| **n > 1).count();
    latencies.sort();
    let error_count: usize = errors.values().sum();
    println!(
        "{}",
        serde_json::json!({
            "claims": claims,
            "tickets": claimed.len(),
            "doubles": doubles,
            "seconds": round(seconds, 2),
            "rate": round(claims as f64 / seconds, 1),
            "p50_ms": percentile_ms(&latencies, 50.0),
            "p99_ms": percentile_ms(&latencies, 99.0),
            "errors": error_count,
            "error_kinds": errors,
            "processes": urls.len(),
        })
    );
    Ok(doubles == 0 && error_count == 0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
