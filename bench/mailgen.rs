//! Inbound-mail load generator for `bench/email`.
//!
//! ```text
//! cargo run --release --example mailgen -- --url http://127.0.0.1:PORT \
//!     --token TOKEN [--senders 8] [--messages 5000] [--warmup 0] [--max-seconds 600] \
//!     [--reply-percent 30] [--attachment-percent 10] [--attachment-kb 100]
//! ```
//!
//! `senders` tasks share one keep-alive connection pool and deliver
//! `messages` raw RFC 5322 messages to `POST /api/v1/inbound/email`
//! (`Content-Type: message/rfc822`), after `warmup` unmeasured ones. The mix:
//!
//! - new messages (the rest, 60% by default) from a pool of customers with
//!   different mail clients: multi-line text/plain, some multipart/alternative
//!   with HTML, quoted-printable or 8bit, RFC 2047 encoded names and subjects,
//!   some with a Cc; each with a unique Message-ID. Expected: 201 `created`.
//! - new messages with a PDF-like attachment (`--attachment-percent`, 100 KB
//!   base64 in multipart/mixed). Expected: 201 `created`.
//! - replies (`--reply-percent`): to a new message that was already delivered
//!   (any earlier one, warm-up included), from the same customer, with
//!   `In-Reply-To`/`References` naming its Message-ID and `Subject: Re: ...`
//!   (no `[#number]` token, so only Message-ID threading can place it). A
//!   reply is threaded correctly when the answer is `appended` with the
//!   ticket id the original's answer named. While no original has been
//!   delivered yet, a new message is sent instead (`reply_fallback_new`).
//!
//! Then it prints one JSON line: counts per kind, seconds, messages/s,
//! latency percentiles (overall and per kind), `threaded_ok` of `replies`,
//! errors. An HTTP error, an unexpected outcome for a new message, or a reply
//! that is not threaded correctly makes the exit status non-zero. Only
//! loopback URLs are accepted, and the run ends by itself: after the fixed
//! number of messages, or at `--max-seconds`, whichever comes first.

#[path = "common.rs"]
mod common;

use base64::Engine as _;
use common::{error_kind, http_client, latency_summary, round, run_id, Flags, Rng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: mailgen --url http://127.0.0.1:PORT --token TOKEN \
[--senders 8] [--messages 5000] [--warmup 0] [--max-seconds 600] \
[--reply-percent 30] [--attachment-percent 10] [--attachment-kb 100]";

const FLAGS: &[&str] = &[
    "url",
    "token",
    "senders",
    "messages",
    "warmup",
    "max-seconds",
    "reply-percent",
    "attachment-percent",
    "attachment-kb",
];

struct Args {
    url: String,
    token: String,
    senders: usize,
    messages: usize,
    warmup: usize,
    max_seconds: u64,
    reply_percent: u64,
    attachment_percent: u64,
    attachment_bytes: usize,
}

fn parse_args() -> Result<Args, String> {
    let flags = Flags::from_env(FLAGS, USAGE)?;
    let args = Args {
        url: flags.loopback_url("url")?,
        token: flags.required("token")?,
        senders: flags.number("senders", 8)?,
        messages: flags.number("messages", 5_000)?,
        warmup: flags.number("warmup", 0)?,
        max_seconds: flags.number("max-seconds", 600)? as u64,
        reply_percent: flags.number("reply-percent", 30)? as u64,
        attachment_percent: flags.number("attachment-percent", 10)? as u64,
        attachment_bytes: flags.number("attachment-kb", 100)? * 1024,
    };
    if args.senders == 0 || args.messages == 0 {
        return Err("--senders and --messages must be at least 1".into());
    }
    if args.reply_percent + args.attachment_percent > 100 {
        return Err("--reply-percent plus --attachment-percent must be at most 100".into());
    }
    Ok(args)
}

// ---- Who writes, and how their mail client writes it ---------------------------

/// (display form, ASCII form for the address)
const FIRST_NAMES: &[(&str, &str)] = &[
    ("Ana", "ana"),
    ("Ben", "ben"),
    ("Chloé", "chloe"),
    ("Dmitri", "dmitri"),
    ("Esra", "esra"),
    ("Farid", "farid"),
    ("Grace", "grace"),
    ("Hiro", "hiro"),
    ("Inés", "ines"),
    ("Jonas", "jonas"),
    ("Marta", "marta"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("Priya", "priya"),
    ("Tomás", "tomas"),
    ("Yuki", "yuki"),
];
const LAST_NAMES: &[(&str, &str)] = &[
    ("García", "garcia"),
    ("Okafor", "okafor"),
    ("Nguyen", "nguyen"),
    ("Schmidt", "schmidt"),
    ("Rossi", "rossi"),
    ("Kowalska", "kowalska"),
    ("Silva", "silva"),
    ("Tanaka", "tanaka"),
    ("Müller", "mueller"),
    ("O'Brien", "obrien"),
    ("Johansson", "johansson"),
    ("Dubois", "dubois"),
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "contoso.example",
    "fabrikam.example",
    "northwind.example",
    "mail.example.co",
    "customers.example.com",
];
const COMPANIES: &[&str] = &[
    "Contoso Ltd.",
    "Fabrikam GmbH",
    "Northwind Traders",
    "Tailspin Toys",
    "Wide World Importers",
    "",
    "",
];

/// Distinct customers; new messages pick one at random, so some write more
/// than once in a run.
const CUSTOMERS: u64 = 2_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Gmail,
    Outlook,
    Thunderbird,
    AppleMail,
}

#[derive(Clone)]
struct Customer {
    name: String,
    email: String,
    domain: &'static str,
    company: &'static str,
    client: Client,
}

fn customer(k: u64) -> Customer {
    let mut rng = Rng(k.wrapping_mul(0xA24B_AED4_963E_E407) ^ 0x5EED);
    let (first, first_ascii) = rng.pick(FIRST_NAMES);
    let (last, last_ascii) = rng.pick(LAST_NAMES);
    let domain = rng.pick(DOMAINS);
    let client = rng.pick(&[
        Client::Gmail,
        Client::Gmail,
        Client::Outlook,
        Client::Outlook,
        Client::Thunderbird,
        Client::AppleMail,
    ]);
    Customer {
        name: format!("{first} {last}"),
        email: format!("{first_ascii}.{last_ascii}.{k}@{domain}"),
        domain,
        company: rng.pick(COMPANIES),
        client,
    }
}

// ---- What they write -------------------------------------------------------------

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
    "Factura con datos incorrectos",
    "Lieferung unvollständig – bitte prüfen",
    "Problème de connexion depuis la mise à jour",
    "Faktura za listopad – błędna liczba licencji",
];
const OPENINGS: &[&str] = &[
    "Hello,",
    "Hi support team,",
    "Good morning,",
    "Hola, I hope you can help.",
    "Dear Sir or Madam,",
    "Hi there,",
];
const SENTENCES: &[&str] = &[
    "I tried the steps from the help centre article but nothing changed.",
    "This started yesterday afternoon and it is still happening this morning.",
    "My colleague on the same account does not have the problem.",
    "The order number is ORD-2291-PL, placed on the 14th.",
    "Could you please look into it as soon as possible? We are blocked.",
    "I already cleared the cache and tried another browser (Firefox and Edge).",
    "The error message says: \"Something went wrong, please try again later.\"",
    "We are a team of twelve people and everyone depends on this.",
    "Please call me back if that is easier; I am available until 18:00 CET.",
    "The invoice lists 40 seats, but our contract is for 32 seats at 12,50 € each.",
    "Our accountant needs the corrected document before the end of the month.",
    "I have been a customer for five years and this never happened before.",
    "Screenshots are available if you need them — just tell me where to send them.",
    "The tracking page has shown \"in transit\" for nine days now.",
];
const REPLY_SENTENCES: &[&str] = &[
    "Thanks for the quick answer.",
    "Unfortunately it still does not work.",
    "Here is the additional information you asked for.",
    "I just tried again and got the same error.",
    "The contract number is PL-2291, in case that helps.",
    "Never mind the last part, my colleague found the invoice.",
    "Any news on this? We are still waiting.",
    "That fixed it, thank you! You can close this.",
];
const ATTACHMENT_NAMES: &[&str] = &[
    "invoice",
    "factura",
    "Rechnung",
    "contract",
    "delivery-note",
    "statement",
];

/// A message about to be sent, and what its answer must say.
enum Outgoing {
    New { html: bool },
    Attachment,
    Reply { original: Original },
    ReplyFallbackNew,
}

impl Outgoing {
    fn kind(&self) -> &'static str {
        match self {
            Outgoing::New { html: false } => "new_plain",
            Outgoing::New { html: true } => "new_html",
            Outgoing::Attachment => "new_attachment",
            Outgoing::Reply { .. } => "reply",
            Outgoing::ReplyFallbackNew => "reply_fallback_new",
        }
    }

    /// The latency class it is reported under.
    fn class(&self) -> &'static str {
        match self {
            Outgoing::New { .. } | Outgoing::ReplyFallbackNew => "new",
            Outgoing::Attachment => "attachment",
            Outgoing::Reply { .. } => "reply",
        }
    }
}

/// A delivered new message that replies can refer to.
#[derive(Clone)]
struct Original {
    message_id: String,
    subject: String,
    customer: u64,
    ticket_id: String,
    sent_at: String,
}

/// A message's identity: unique across runs (`run`) and within one (`index`).
fn message_id(client: Client, run: u64, index: usize, rng: &mut Rng, domain: &str) -> String {
    let r = rng.next();
    match client {
        Client::Gmail => format!("CA+{run:016X}{index:08x}{:06X}@mail.gmail.com", r >> 40),
        Client::Outlook => format!(
            "AM0PR08MB{:04X}{run:016X}{index:08X}@AM0PR08MB{:04X}.eurprd08.prod.outlook.com",
            r & 0xFFFF,
            (r >> 16) & 0xFFFF
        ),
        Client::Thunderbird => format!(
            "{:08x}-{:04x}-{:04x}-{run:016x}-{index:08x}@{domain}",
            r >> 32,
            (r >> 16) & 0xFFFF,
            r & 0xFFFF
        ),
        Client::AppleMail => format!(
            "{:08X}-{:04X}-{run:016X}-{index:08X}@{domain}",
            r >> 32,
            r & 0xFFFF
        ),
    }
}

/// A header value: as is when ASCII, else RFC 2047 encoded words of at most
/// 45 bytes of UTF-8 each, folded.
fn encode_words(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn mailbox(name: &str, email: &str) -> String {
    if name.is_ascii() {
        format!("\"{}\" <{email}>", name.replace('"', ""))
    } else {
        format!("{} <{email}>", encode_words(name))
    }
}

#[derive(Clone, Copy)]
enum Transfer {
    QuotedPrintable,
    EightBit,
}

impl Transfer {
    fn header(self) -> &'static str {
        match self {
            Transfer::QuotedPrintable => "quoted-printable",
            Transfer::EightBit => "8bit",
        }
    }

    /// `text` (LF line ends) in this encoding, CRLF line ends.
    fn encode(self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 8);
        for line in text.split('\n') {
            match self {
                Transfer::EightBit => out.push_str(line),
                Transfer::QuotedPrintable => quoted_printable_line(line, &mut out),
            }
            out.push_str("\r\n");
        }
        out
    }
}

/// One line in quoted-printable, soft-broken before 76 characters.
fn quoted_printable_line(line: &str, out: &mut String) {
    let bytes = line.as_bytes();
    let mut width = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let last = i + 1 == bytes.len();
        let literal = (b == b' ' && !last) || (b.is_ascii_graphic() && b != b'=');
        let piece_len = if literal { 1 } else { 3 };
        if width + piece_len > 75 {
            out.push_str("=\r\n");
            width = 0;
        }
        if literal {
            out.push(b as char);
        } else {
            let _ = write!(out, "={b:02X}");
        }
        width += piece_len;
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Paragraphs (separated by blank lines) as the HTML part a client would send.
fn html_body(client: Client, text: &str) -> String {
    let paragraphs = text
        .split("\n\n")
        .map(|p| html_escape(p).replace('\n', "<br>\n"));
    match client {
        Client::Outlook => {
            let mut html = String::from(
                "<html><head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n\
                 <style><!-- p.MsoNormal {margin:0cm; font-family:\"Calibri\",sans-serif;} --></style>\n\
                 </head>\n<body lang=\"EN-US\" link=\"#0563C1\">\n<div class=\"WordSection1\">\n",
            );
            for p in paragraphs {
                let _ = writeln!(html, "<p class=\"MsoNormal\">{p}<o:p></o:p></p>");
            }
            html.push_str("</div>\n</body></html>");
            html
        }
        _ => {
            let mut html = String::from("<div dir=\"ltr\">");
            for p in paragraphs {
                let _ = write!(html, "<div>{p}</div><div><br></div>");
            }
            html.push_str("</div>");
            html
        }
    }
}

fn boundary(client: Client, rng: &mut Rng) -> String {
    match client {
        Client::Gmail => format!("000000000000{:012x}", rng.next() >> 16),
        Client::Outlook => format!("_000_AM0PR08MB{:08X}_", rng.next() >> 32),
        Client::Thunderbird => format!("------------{:024x}", rng.next() as u128 * 31),
        Client::AppleMail => format!(
            "Apple-Mail={:08X}-{:04X}",
            rng.next() >> 32,
            rng.below(65536)
        ),
    }
}

fn transfer_for(client: Client) -> Transfer {
    match client {
        Client::Thunderbird => Transfer::EightBit,
        _ => Transfer::QuotedPrintable,
    }
}

/// The common headers of one message.
#[allow(clippy::too_many_arguments)]
fn headers(
    out: &mut String,
    who: &Customer,
    cc: Option<&str>,
    subject: &str,
    message_id: &str,
    in_reply_to: Option<&str>,
    date: &str,
    rng: &mut Rng,
) {
    let hop = rng.below(250);
    let _ = write!(
        out,
        "Return-Path: <{email}>\r\n\
         Delivered-To: support@relay.localhost\r\n\
         Received: from mx{hop}.{domain} (mx{hop}.{domain} [198.51.100.{octet}])\r\n\
         \tby mx.relay.localhost (Postfix) with ESMTPS id {queue:X}\r\n\
         \tfor <support@relay.localhost>; {date}\r\n\
         From: {from}\r\n\
         To: Support <support@relay.localhost>\r\n",
        email = who.email,
        domain = who.domain,
        octet = hop + 1,
        queue = rng.next() >> 24,
        from = mailbox(&who.name, &who.email),
    );
    if let Some(cc) = cc {
        let _ = write!(out, "Cc: {cc}\r\n");
    }
    let _ = write!(
        out,
        "Subject: {}\r\nDate: {date}\r\nMessage-ID: <{message_id}>\r\n",
        encode_words(subject)
    );
    if let Some(parent) = in_reply_to {
        let _ = write!(out, "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n");
    }
    match who.client {
        Client::Outlook => {
            let _ = write!(
                out,
                "Thread-Topic: {}\r\nThread-Index: AdsZk1x2{:012x}\r\n\
                 Accept-Language: en-US\r\nContent-Language: en-US\r\nX-MS-Has-Attach:\r\n",
                encode_words(subject.trim_start_matches("Re: ")),
                rng.next() >> 16
            );
        }
        Client::Thunderbird => {
            out.push_str("User-Agent: Mozilla Thunderbird\r\nContent-Language: en-US\r\n")
        }
        Client::AppleMail => out.push_str("X-Mailer: Apple Mail (2.3774.300.61.1.2)\r\n"),
        Client::Gmail => {}
    }
    out.push_str("MIME-Version: 1.0\r\n");
}

/// A text body: plain, or multipart/alternative with an HTML twin. Writes
/// the Content-Type header and the body (the caller has written the rest).
fn text_entity(out: &mut String, client: Client, text: &str, html: bool, rng: &mut Rng) {
    let transfer = transfer_for(client);
    if !html {
        let _ = write!(
            out,
            "Content-Type: text/plain; charset=\"UTF-8\"; format=flowed\r\n\
             Content-Transfer-Encoding: {}\r\n\r\n{}",
            transfer.header(),
            transfer.encode(text)
        );
        return;
    }
    let b = boundary(client, rng);
    let _ = write!(
        out,
        "Content-Type: multipart/alternative; boundary=\"{b}\"\r\n\r\n\
         --{b}\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\
         Content-Transfer-Encoding: {cte}\r\n\r\n{text}\r\n\
         --{b}\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\
         Content-Transfer-Encoding: {cte}\r\n\r\n{html}\r\n--{b}--\r\n",
        cte = transfer.header(),
        text = transfer.encode(text),
        html = transfer.encode(&html_body(client, text)),
    );
}

fn signature(who: &Customer) -> String {
    if who.company.is_empty() {
        format!("Thanks,\n{}", who.name)
    } else {
        format!("Thanks,\n{}\n{}", who.name, who.company)
    }
}

fn new_text(who: &Customer, rng: &mut Rng) -> String {
    let mut text = String::from(rng.pick(OPENINGS));
    text.push_str("\n\n");
    for p in 0..1 + rng.below(3) {
        if p > 0 {
            text.push_str("\n\n");
        }
        for s in 0..1 + rng.below(3) {
            if s > 0 {
                text.push('\n');
            }
            text.push_str(rng.pick(SENTENCES));
        }
    }
    text.push_str("\n\n");
    text.push_str(&signature(who));
    text
}

/// A 100 KB-ish PDF-looking file: a header, object-like noise, a trailer.
fn pdf_bytes(size: usize, rng: &mut Rng) -> Vec<u8> {
    let head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n";
    let tail = b"\ntrailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n";
    let mut bytes = vec![0u8; size.max(head.len() + tail.len())];
    rng.fill(&mut bytes);
    bytes[..head.len()].copy_from_slice(head);
    let end = bytes.len() - tail.len();
    bytes[end..].copy_from_slice(tail);
    bytes
}

fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

struct Built {
    raw: Vec<u8>,
    /// Set for new messages: what a later reply needs.
    original: Option<(String, String, u64, String)>,
}

// A load generator is a client, not the app: it has no injected clock.
#[allow(clippy::disallowed_methods)]
fn date_now() -> String {
    chrono::Utc::now().to_rfc2822()
}

/// A new message from a random customer; `attachment` adds a PDF-like file.
fn new_message(
    run: u64,
    index: usize,
    rng: &mut Rng,
    html: bool,
    attachment: Option<usize>,
) -> Built {
    let k = rng.below(CUSTOMERS);
    let who = customer(k);
    let id = message_id(who.client, run, index, rng, who.domain);
    let mut subject = rng.pick(SUBJECTS).to_string();
    if rng.below(3) == 0 {
        let _ = write!(subject, " (order ORD-{:07})", rng.below(10_000_000));
    }
    let cc = (rng.below(10) == 0).then(|| {
        let (first, first_ascii) = rng.pick(FIRST_NAMES);
        mailbox(
            &format!("{first} {}", who.name.split(' ').nth(1).unwrap_or("")),
            &format!("{first_ascii}.colleague.{k}@{}", who.domain),
        )
    });
    let date = date_now();
    let mut raw = String::with_capacity(4096 + attachment.map_or(0, |n| n * 4 / 3 + n / 38));
    headers(
        &mut raw,
        &who,
        cc.as_deref(),
        &subject,
        &id,
        None,
        &date,
        rng,
    );
    let text = new_text(&who, rng);
    match attachment {
        None => text_entity(&mut raw, who.client, &text, html, rng),
        Some(size) => {
            let b = boundary(who.client, rng);
            let name = format!(
                "{}-{}.pdf",
                rng.pick(ATTACHMENT_NAMES),
                10_000 + rng.below(90_000)
            );
            let _ = write!(
                raw,
                "Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n--{b}\r\n"
            );
            text_entity(&mut raw, who.client, &text, html, rng);
            let _ = write!(
                raw,
                "\r\n--{b}\r\nContent-Type: application/pdf; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}--{b}--\r\n",
                base64_lines(&pdf_bytes(size, rng))
            );
        }
    }
    Built {
        raw: raw.into_bytes(),
        original: Some((id, subject, k, date)),
    }
}

/// A reply by the original's customer, threaded by In-Reply-To/References.
fn reply_message(run: u64, index: usize, rng: &mut Rng, original: &Original) -> Built {
    let who = customer(original.customer);
    let id = message_id(who.client, run, index, rng, who.domain);
    let subject = format!("Re: {}", original.subject);
    let mut text = String::new();
    for s in 0..1 + rng.below(3) {
        if s > 0 {
            text.push(' ');
        }
        text.push_str(rng.pick(REPLY_SENTENCES));
    }
    text.push_str("\n\n");
    text.push_str(&signature(&who));
    let _ = write!(
        text,
        "\n\nOn {}, {} <{}> wrote:\n",
        original.sent_at, who.name, who.email
    );
    for line in new_text(&who, rng).lines() {
        text.push_str("> ");
        text.push_str(line);
        text.push('\n');
    }
    let html = who.client != Client::Thunderbird && rng.below(2) == 0;
    let mut raw = String::with_capacity(4096);
    headers(
        &mut raw,
        &who,
        None,
        &subject,
        &id,
        Some(&original.message_id),
        &date_now(),
        rng,
    );
    text_entity(&mut raw, who.client, text.trim_end(), html, rng);
    Built {
        raw: raw.into_bytes(),
        original: None,
    }
}

// ---- Sending -------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    /// Latency of every 2xx answer, per class (`new`, `attachment`, `reply`).
    latencies_us: BTreeMap<&'static str, Vec<u64>>,
    /// Messages sent, per kind.
    sent: BTreeMap<&'static str, usize>,
    bytes: usize,
    replies: usize,
    threaded_ok: usize,
    /// Replies that were answered but not appended to their original's ticket.
    thread_failures: BTreeMap<String, usize>,
    errors: BTreeMap<String, usize>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (class, mut list) in other.latencies_us {
            self.latencies_us
                .entry(class)
                .or_default()
                .append(&mut list);
        }
        for (kind, n) in other.sent {
            *self.sent.entry(kind).or_default() += n;
        }
        self.bytes += other.bytes;
        self.replies += other.replies;
        self.threaded_ok += other.threaded_ok;
        for (kind, n) in other.thread_failures {
            *self.thread_failures.entry(kind).or_default() += n;
        }
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }

    fn delivered(&self) -> usize {
        self.latencies_us.values().map(Vec::len).sum()
    }
}

/// What the senders of one phase share.
struct Job {
    http: reqwest::Client,
    endpoint: String,
    auth: String,
    run: u64,
    reply_percent: u64,
    attachment_percent: u64,
    attachment_bytes: usize,
    /// Index of the next message to send; the phase ends at `end`.
    next: AtomicUsize,
    end: usize,
    deadline: Instant,
    /// Delivered new messages, across phases.
    originals: Arc<Mutex<Vec<Original>>>,
    tally: Mutex<Tally>,
}

impl Job {
    /// Decides what message `index` is and builds it.
    fn build(&self, index: usize) -> (Outgoing, Built) {
        let mut rng = Rng(self.run ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let roll = rng.below(100);
        if roll < self.attachment_percent {
            let html = rng.below(2) == 0;
            let built = new_message(self.run, index, &mut rng, html, Some(self.attachment_bytes));
            return (Outgoing::Attachment, built);
        }
        if roll < self.attachment_percent + self.reply_percent {
            let original = {
                let originals = self.originals.lock().unwrap();
                (!originals.is_empty())
                    .then(|| originals[rng.below(originals.len() as u64) as usize].clone())
            };
            return match original {
                Some(original) => {
                    let built = reply_message(self.run, index, &mut rng, &original);
                    (Outgoing::Reply { original }, built)
                }
                None => (
                    Outgoing::ReplyFallbackNew,
                    new_message(self.run, index, &mut rng, false, None),
                ),
            };
        }
        let html = rng.below(100) < 40;
        (
            Outgoing::New { html },
            new_message(self.run, index, &mut rng, html, None),
        )
    }
}

/// Relay's answer: HTTP status, `outcome`, `ticket.id`.
struct Answer {
    status: u16,
    outcome: String,
    ticket_id: Option<String>,
}

async fn deliver(job: &Job, raw: Vec<u8>) -> Result<Answer, String> {
    let response = job
        .http
        .post(&job.endpoint)
        .header("authorization", &job.auth)
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .map_err(|e| format!("send: {}", error_kind(&e)))?;
    let status = response.status().as_u16();
    // Read the whole answer: the message is committed when the body is in.
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("body: {}", error_kind(&e)))?;
    if !(200..300).contains(&status) {
        return Err(format!("http {status}"));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| "answer: not JSON".to_string())?;
    Ok(Answer {
        status,
        outcome: value["outcome"].as_str().unwrap_or("?").to_string(),
        ticket_id: value["ticket"]["id"].as_str().map(str::to_string),
    })
}

/// Takes message indexes from the shared counter until the end or the deadline.
async fn sender(job: Arc<Job>) {
    let mut local = Tally::default();
    loop {
        let index = job.next.fetch_add(1, Ordering::Relaxed);
        if index >= job.end || Instant::now() >= job.deadline {
            break;
        }
        let (outgoing, built) = job.build(index);
        *local.sent.entry(outgoing.kind()).or_default() += 1;
        local.bytes += built.raw.len();
        let started = Instant::now();
        let answer = deliver(&job, built.raw).await;
        let elapsed = started.elapsed().as_micros() as u64;
        let answer = match answer {
            Ok(answer) => answer,
            Err(kind) => {
                if matches!(outgoing, Outgoing::Reply { .. }) {
                    local.replies += 1;
                    *local.thread_failures.entry("no answer".into()).or_default() += 1;
                }
                *local.errors.entry(kind).or_default() += 1;
                continue;
            }
        };
        local
            .latencies_us
            .entry(outgoing.class())
            .or_default()
            .push(elapsed);
        match outgoing {
            Outgoing::Reply { original } => {
                local.replies += 1;
                if answer.outcome == "appended"
                    && answer.ticket_id.as_deref() == Some(original.ticket_id.as_str())
                {
                    local.threaded_ok += 1;
                } else {
                    let what = if answer.ticket_id.is_none() {
                        format!("{} (no ticket)", answer.outcome)
                    } else if answer.outcome == "appended" {
                        "appended to another ticket".to_string()
                    } else {
                        answer.outcome.clone()
                    };
                    *local.thread_failures.entry(what).or_default() += 1;
                }
            }
            _ => match (answer.status, answer.outcome.as_str(), answer.ticket_id) {
                (201, "created", Some(ticket_id)) => {
                    let (message_id, subject, customer, sent_at) =
                        built.original.expect("new messages carry their identity");
                    job.originals.lock().unwrap().push(Original {
                        message_id,
                        subject,
                        customer,
                        ticket_id,
                        sent_at,
                    });
                }
                (status, outcome, _) => {
                    *local
                        .errors
                        .entry(format!("new message answered {status} {outcome}"))
                        .or_default() += 1;
                }
            },
        }
    }
    job.tally.lock().unwrap().merge(local);
}

/// Runs one phase of `count` messages; returns the tally and wall time.
async fn phase(
    http: &reqwest::Client,
    args: &Args,
    run: u64,
    originals: &Arc<Mutex<Vec<Original>>>,
    first: usize,
    count: usize,
    deadline: Instant,
) -> (Tally, Duration) {
    let job = Arc::new(Job {
        http: http.clone(),
        endpoint: format!("{}/api/v1/inbound/email", args.url),
        auth: format!("Bearer {}", args.token),
        run,
        reply_percent: args.reply_percent,
        attachment_percent: args.attachment_percent,
        attachment_bytes: args.attachment_bytes,
        next: AtomicUsize::new(first),
        end: first + count,
        deadline,
        originals: originals.clone(),
        tally: Mutex::new(Tally::default()),
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.senders)
        .map(|_| tokio::spawn(sender(job.clone())))
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    let tally = std::mem::take(&mut *job.tally.lock().unwrap());
    (tally, elapsed)
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round(100.0 * part as f64 / whole as f64, 2)
    }
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
    let http = http_client(args.senders);
    let run = run_id();
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let originals = Arc::new(Mutex::new(Vec::new()));

    let (warm, _) = phase(&http, &args, run, &originals, 0, args.warmup, deadline).await;
    let warmup_errors: usize = warm.errors.values().sum();
    if args.warmup > 0 && warm.delivered() == 0 {
        eprintln!("mailgen: every warm-up message failed: {:?}", warm.errors);
    }

    let (mut tally, elapsed) = phase(
        &http,
        &args,
        run,
        &originals,
        args.warmup,
        args.messages,
        deadline,
    )
    .await;
    let delivered = tally.delivered();
    let errors: usize = tally.errors.values().sum();
    let attempted: usize = tally.sent.values().sum();
    let seconds = elapsed.as_secs_f64();
    let incomplete = attempted < args.messages;

    let mut all: Vec<u64> = tally.latencies_us.values().flatten().copied().collect();
    let mut by_class = serde_json::Map::new();
    for (class, list) in tally.latencies_us.iter_mut() {
        let mut summary = latency_summary(list);
        summary.insert("count".into(), json!(list.len()));
        by_class.insert(class.to_string(), Value::Object(summary));
    }
    let count = |kind: &str| tally.sent.get(kind).copied().unwrap_or(0);
    let new_total = count("new_plain") + count("new_html") + count("reply_fallback_new");
    let mut report = serde_json::Map::new();
    report.insert("messages".into(), json!(args.messages));
    report.insert("delivered".into(), json!(delivered));
    report.insert("errors".into(), json!(errors));
    report.insert("error_kinds".into(), json!(tally.errors));
    report.insert("senders".into(), json!(args.senders));
    report.insert("seconds".into(), json!(round(seconds, 3)));
    report.insert(
        "rate".into(),
        json!(round(delivered as f64 / seconds.max(1e-9), 1)),
    );
    report.extend(latency_summary(&mut all));
    report.insert("sent".into(), json!(tally.sent));
    report.insert(
        "mix_percent".into(),
        json!({
            "new": share(new_total, attempted),
            "reply": share(count("reply"), attempted),
            "attachment": share(count("new_attachment"), attempted),
        }),
    );
    report.insert("replies".into(), json!(tally.replies));
    report.insert("threaded_ok".into(), json!(tally.threaded_ok));
    report.insert(
        "threaded_percent".into(),
        json!(if tally.replies == 0 {
            100.0
        } else {
            share(tally.threaded_ok, tally.replies)
        }),
    );
    report.insert("thread_failures".into(), json!(tally.thread_failures));
    report.insert("by_kind".into(), Value::Object(by_class));
    report.insert(
        "megabytes_sent".into(),
        json!(round(tally.bytes as f64 / 1_048_576.0, 1)),
    );
    report.insert("warmup".into(), json!(args.warmup));
    report.insert("warmup_errors".into(), json!(warmup_errors));
    report.insert("stopped_at_deadline".into(), json!(incomplete));
    println!("{}", Value::Object(report));
    if errors > 0 || incomplete || tally.threaded_ok < tally.replies {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_keeps_lines_short_and_escapes() {
        let mut out = String::new();
        quoted_printable_line(&"12,50 € = price ".repeat(10), &mut out);
        assert!(out.lines().all(|l| l.trim_end_matches('\r').len() <= 76));
        assert!(out.contains("=E2=82=AC"));
        assert!(out.contains("=3D"));
        assert!(out.ends_with("=20"));
    }

    #[test]
    fn encoded_words_only_for_non_ascii() {
        assert_eq!(encode_words("Order arrived"), "Order arrived");
        assert!(encode_words("Lieferung unvollständig").starts_with("=?UTF-8?B?"));
    }
}
