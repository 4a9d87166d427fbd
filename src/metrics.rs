//! Prometheus metrics. The HTTP layer records requests; services record
//! domain counters; `/metrics` renders the registry.

use crate::db::{connection::pool_state, DbPool};
use crate::domain::Channel;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::LazyLock;

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    tickets_created: IntCounterVec,
    pool: IntGaugeVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "relay_http_requests_total",
            "HTTP requests by route pattern, method and status",
        ),
        &["method", "route", "status"],
    )
    .expect("valid metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "relay_http_request_duration_seconds",
            "HTTP request latency by route pattern",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["method", "route"],
    )
    .expect("valid metric");
    let tickets_created = IntCounterVec::new(
        Opts::new("relay_tickets_created_total", "Tickets created, by channel"),
        &["channel"],
    )
    .expect("valid metric");
    let pool = IntGaugeVec::new(
        Opts::new(
            "relay_db_pool_connections",
            "Database pool connections by state",
        ),
        &["state"],
    )
    .expect("valid metric");
    for collector in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(tickets_created.clone()),
        Box::new(pool.clone()),
    ] {
        registry
            .register(collector)
            .expect("metric registered once");
    }
    Metrics {
        registry,
        requests,
        latency,
        tickets_created,
        pool,
    }
});

/// Methods with series of their own; any other token a client sends counts
/// as `other`, so clients cannot add series (memory) at will.
const LABELLED_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn method_label(method: &str) -> &'static str {
    LABELLED_METHODS
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

/// One answered request. `route` must be a route pattern (or `unmatched`),
/// never the path a client sent.
pub fn http_request(method: &str, route: &str, status: u16, seconds: f64) {
    let m = &*METRICS;
    let method = method_label(method);
    m.requests
        .with_label_values(&[method, route, &status.to_string()])
        .inc();
    m.latency
        .with_label_values(&[method, route])
        .observe(seconds);
}

pub fn ticket_created(channel: Channel) {
    METRICS
        .tickets_created
        .with_label_values(&[channel.as_str()])
        .inc();
}

/// The whole registry in Prometheus text format, with the pool sampled now.
pub fn render(pool: &DbPool) -> String {
    let m = &*METRICS;
    let state = pool_state(pool);
    m.pool.with_label_values(&["idle"]).set(state.idle as i64);
    m.pool
        .with_label_values(&["in_use"])
        .set(state.size.saturating_sub(state.idle) as i64);
    m.pool.with_label_values(&["max"]).set(state.max as i64);
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .expect("text encoding cannot fail");
    String::from_utf8(out).expect("prometheus text is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::method_label;

    #[test]
    fn only_standard_methods_get_their_own_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("OPTIONS"), "OPTIONS");
        assert_eq!(method_label("get"), "other");
        assert_eq!(method_label("XYZZY"), "other");
        assert_eq!(method_label("PROPFIND"), "other");
    }
}
