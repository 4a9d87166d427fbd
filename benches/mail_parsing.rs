//! Parsing and classifying inbound mail, the CPU part of every delivery.
//! Baseline in the same run: mail-parser alone on the same messages, so the
//! figure to watch is Relay's overhead over the parser, not absolute time.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::email::classify::classify;
use relay::email::parse::parse;
use relay::email::thread::{decide, subject_ticket_number, Evidence};

fn fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");
    let mut all: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    all.sort();
    all
}

fn mail_pipeline(c: &mut Criterion) {
    let messages = fixtures();
    let mut group = c.benchmark_group("inbound mail");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("baseline: mail-parser only", |b| {
        b.iter(|| {
            for raw in &messages {
                std::hint::black_box(mail_parser::MessageParser::default().parse(raw));
            }
        })
    });
    group.bench_function("relay: parse + classify + thread decision", |b| {
        b.iter(|| {
            for raw in &messages {
                let mail = parse(raw).expect("fixtures parse");
                let kind = classify(&mail.facts, "relay.localhost");
                let number = subject_ticket_number(&mail.subject);
                let decision = decide(&Evidence {
                    sender: mail.from_address.as_deref().unwrap_or_default(),
                    ..Default::default()
                });
                std::hint::black_box((kind, number, decision));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, mail_pipeline);
criterion_main!(benches);
