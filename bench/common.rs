//! What the bench load generators share (`loadgen`, `mailgen`): command-line
//! flags, the loopback-only URL check, an HTTP client for loopback load,
//! deterministic variety, latency percentiles and rounding.
//!
//! Each generator includes this file as a module:
//!
//! ```ignore
//! #[path = "common.rs"]
//! mod common;
//! ```
//!
//! so it needs nothing beyond the crate's (dev-)dependencies: `url`,
//! `reqwest`, `serde_json`.

// Every generator uses a different subset.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `--name value` (or `--name=value`) pairs from the command line.
pub struct Flags {
    values: BTreeMap<String, String>,
    usage: &'static str,
}

impl Flags {
    /// Flags from the process's own arguments.
    pub fn from_env(known: &[&str], usage: &'static str) -> Result<Flags, String> {
        Flags::parse(std::env::args().skip(1), known, usage)
    }

    /// Parses `--name value` pairs. Only the names in `known` (without the
    /// leading dashes) are accepted; `-h`/`--help` answers with `usage` as
    /// the error. A flag given twice keeps its last value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        known: &[&str],
        usage: &'static str,
    ) -> Result<Flags, String> {
        let mut values = BTreeMap::new();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            if arg == "-h" || arg == "--help" {
                return Err(usage.to_string());
            }
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument '{arg}'\n{usage}"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => {
                    let value = it
                        .next()
                        .ok_or_else(|| format!("--{flag} needs a value\n{usage}"))?;
                    (flag.to_string(), value)
                }
            };
            if !known.contains(&name.as_str()) {
                return Err(format!("unknown argument --{name}\n{usage}"));
            }
            values.insert(name, value);
        }
        Ok(Flags { values, usage })
    }

    /// The value of `--name`, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name`; an error with the usage when it is missing or empty.
    pub fn required(&self, name: &str) -> Result<String, String> {
        match self.text(name) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(format!("--{name} is required\n{}", self.usage)),
        }
    }

    /// `--name` as a whole number, `default` when absent.
    pub fn number(&self, name: &str, default: usize) -> Result<usize, String> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| format!("--{name}: '{v}' is not a number")),
        }
    }

    /// `--name` as a loopback `http://` URL without a trailing slash; see
    /// [`loopback_url`].
    pub fn loopback_url(&self, name: &str) -> Result<String, String> {
        loopback_url(&self.required(name)?).map_err(|e| format!("--{name}: {e}"))
    }
}

/// Only ever load the local machine: `url` must be `http://` on a loopback
/// IP address (127.0.0.0/8 or ::1). Returns it without a trailing slash.
pub fn loopback_url(url: &str) -> Result<String, String> {
    let url = url.trim_end_matches('/');
    let parsed = url::Url::parse(url).map_err(|e| format!("'{url}': {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if parsed.scheme() != "http" || !loopback {
        return Err(format!(
            "must be http://127.0.0.1:PORT (loopback only), not '{url}'"
        ));
    }
    Ok(url.to_string())
}

/// An HTTP client for `connections` concurrent senders on loopback: no
/// proxy, no Nagle delay, keep-alive, bounded timeouts.
pub fn http_client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// A short, countable name for a failed request.
pub fn error_kind(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    };
    kind.to_string()
}

/// A value that differs between runs (nanoseconds since the epoch), to keep
/// generated identities unique across runs against the same database.
// A load generator is a client, not the app: it has no injected clock.
#[allow(clippy::disallowed_methods)]
pub fn run_id() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// splitmix64: deterministic, dependency-free variety for request bodies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Fills `out` with pseudo-random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Nearest-rank percentile `p` (0–100) of latencies in microseconds, sorted
/// ascending, in milliseconds; 0 for no samples.
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

/// `x` rounded to `places` decimals (for readable JSON).
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Sorts `latencies_us` and summarises it: `mean_ms`, `p50_ms`, `p90_ms`,
/// `p99_ms`, `max_ms` (two decimals), ready to merge into a JSON report.
pub fn latency_summary(latencies_us: &mut [u64]) -> serde_json::Map<String, serde_json::Value> {
    latencies_us.sort_unstable();
    let n = latencies_us.len();
    let mean_ms = if n == 0 {
        0.0
    } else {
        latencies_us.iter().sum::<u64>() as f64 / n as f64 / 1000.0
    };
    let mut summary = serde_json::Map::new();
    let mut put = |key: &str, value: f64| {
        summary.insert(key.to_string(), serde_json::json!(round(value, 2)));
    };
    put("mean_ms", mean_ms);
    put("p50_ms", percentile_ms(latencies_us, 50.0));
    put("p90_ms", percentile_ms(latencies_us, 90.0));
    put("p99_ms", percentile_ms(latencies_us, 99.0));
    put(
        "max_ms",
        latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
    );
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_parse_both_spellings_and_refuse_unknown_ones() {
        let flags = Flags::parse(args(&["--a", "1", "--b=x"]), &["a", "b"], "usage").unwrap();
        assert_eq!(flags.number("a", 9).unwrap(), 1);
        assert_eq!(flags.text("b"), Some("x"));
        assert_eq!(flags.number("c", 9).unwrap(), 9);
        assert!(Flags::parse(args(&["--c", "1"]), &["a"], "usage").is_err());
        assert!(Flags::parse(args(&["--a"]), &["a"], "usage").is_err());
    }

    #[test]
    fn only_loopback_http_urls() {
        assert_eq!(
            loopback_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(loopback_url("http://[::1]:8080").is_ok());
        assert!(loopback_url("http://localhost:8080").is_err());
        assert!(loopback_url("https://127.0.0.1:8080").is_err());
        assert!(loopback_url("http://10.0.0.1:8080").is_err());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 50.0), 50.0);
        assert_eq!(percentile_ms(&sorted, 99.0), 99.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }
}
