//! IMAP polling against a real Dovecot: a private instance per test, started
//! from a generated configuration in a temp dir on free ports (IMAP with
//! STARTTLS, and IMAPS), with a certificate for 127.0.0.1 from a test CA made
//! at start, and one user whose mail lives in a maildir under that dir.
//! Without dovecot installed the tests say so and pass (CI installs it:
//! `.ci/run`).

use crate::certs::write_certificates;
use crate::common::*;
use diesel::prelude::*;
use relay::config::{ImapAfter, ImapMailbox, ImapTls};
use relay::db::models::ImapPosition;
use relay::db::schema::{imap_positions, inbound_messages, tickets};
use relay::domain::Role;
use relay::jobs::imap_poller::{poll_once, ImapPoller, PollReport};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "relay";
const PASSWORD: &str = "imap-test-secret";

/// A Dovecot of our own; stopped when dropped.
pub struct Dovecot {
    child: Child,
    pub port: u16,
    /// IMAPS (TLS from the first byte).
    pub tls_port: u16,
    /// The test CA that signed the server's certificate.
    pub ca_file: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn find_dovecot() -> Option<PathBuf> {
    [
        "/usr/sbin/dovecot",
        "/usr/local/sbin/dovecot",
        "/sbin/dovecot",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .or_else(|| {
        let out = Command::new("sh")
            .args(["-c", "command -v dovecot"])
            .output()
            .ok()?;
        let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// (name, uid, gid) from /etc/passwd.
fn passwd_entry(matches: impl Fn(&str, u32) -> bool) -> Option<(String, u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let uid = fields.get(2)?.parse().ok()?;
        let gid = fields.get(3)?.parse().ok()?;
        matches(fields[0], uid).then(|| (fields[0].to_string(), uid, gid))
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Dovecot {
    /// Starts one, or says loudly why the test is skipped and returns None.
    pub fn start() -> Option<Dovecot> {
        Self::start_with("")
    }

    /// Starts one with more lines of configuration.
    pub fn start_with(extra_config: &str) -> Option<Dovecot> {
        let Some(binary) = find_dovecot() else {
            skip_without("dovecot (apt-get install dovecot-imapd)", "an IMAP test");
            return None;
        };
        let mut last = String::new();
        for _ in 0..3 {
            match Self::launch(&binary, free_port(), free_port(), extra_config) {
                Ok(dovecot) => return Some(dovecot),
                // Most likely the port was taken between choosing and binding.
                Err(why) => last = why,
            }
        }
        panic!("dovecot did not start: {last}");
    }

    fn launch(
        binary: &Path,
        port: u16,
        tls_port: u16,
        extra_config: &str,
    ) -> Result<Dovecot, String> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let me = std::fs::metadata(root).unwrap().uid();
        // As root, Dovecot wants its unprivileged users for the login and
        // internal processes, and a non-root owner for the mail; as anyone
        // else, everything runs as that user.
        let (login_user, internal_user, auth_user, mail_uid, mail_gid) = if me == 0 {
            let (_, uid, gid) = passwd_entry(|name, _| name == "dovecot")
                .expect("the dovecot package creates the user dovecot");
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
            (
                "dovenull".to_string(),
                "dovecot".to_string(),
                "root".to_string(),
                uid,
                gid,
            )
        } else {
            let (name, uid, gid) = passwd_entry(|_, uid| uid == me).expect("current user");
            (name.clone(), name.clone(), name, uid, gid)
        };
        for sub in ["mail", "home"] {
            let path = root.join(sub);
            std::fs::create_dir(&path).unwrap();
            std::os::unix::fs::chown(&path, Some(mail_uid), Some(mail_gid)).unwrap();
        }
        std::fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        write_certificates(root);
        // Dovecot 2.3 wants DH parameters for its default ciphers.
        let dh = ["/usr/share/dovecot/dh.pem", "/etc/dovecot/dh.pem"]
            .iter()
            .find(|p| Path::new(p).exists())
            .map(|p| format!("ssl_dh = <{p}"))
            .unwrap_or_default();
        let log = root.join("dovecot.log");
        let r = root.display();
        let config = format!(
            r#"
protocols = imap
listen = 127.0.0.1
instance_name = relay-test-{port}
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
{dh}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{r}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={r}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {auth_user}
}}
service auth-worker {{
  user = {auth_user}
}}
{extra_config}
"#
        );
        let config_path = root.join("dovecot.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let mut dovecot = Dovecot {
            child,
            port,
            tls_port,
            ca_file: root.join("ca.pem"),
            log,
            _dir: dir,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = dovecot.child.try_wait() {
                return Err(format!("dovecot exited ({status}): {}", dovecot.log_text()));
            }
            if let Ok(tcp) = TcpStream::connect(("127.0.0.1", port)) {
                let mut client = ::imap::Client::new(tcp);
                if client.read_greeting().is_ok() {
                    return Ok(dovecot);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "dovecot did not answer on {port}: {}",
            dovecot.log_text()
        ))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `[[imap.mailboxes]]` entry for this server's user (plain IMAP, INBOX,
    /// flag \Seen).
    pub fn mailbox(&self, name: &str) -> ImapMailbox {
        ImapMailbox {
            name: name.to_string(),
            host: "127.0.0.1".into(),
            port: Some(self.port),
            tls: ImapTls::None,
            ca_file: None,
            username: USER.into(),
            password: PASSWORD.into(),
            folder: "INBOX".into(),
            queue: None,
            after: ImapAfter::Flag,
            flag: "\\Seen".into(),
            move_to: None,
        }
    }

    /// The same mailbox over IMAPS, trusting only the public CAs (set
    /// `ca_file` to trust this server's test CA).
    pub fn imaps_mailbox(&self, name: &str) -> ImapMailbox {
        ImapMailbox {
            tls: ImapTls::Tls,
            port: Some(self.tls_port),
            ..self.mailbox(name)
        }
    }

    /// A session of the test's own, as a mail client would have.
    pub fn session(&self) -> ::imap::Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut client = ::imap::Client::new(tcp);
        client.read_greeting().unwrap();
        client.login(USER, PASSWORD).map_err(|(e, _)| e).unwrap()
    }

    /// APPENDs a message, as mail arriving would put it there.
    pub fn append(&self, folder: &str, raw: &[u8]) {
        let mut session = self.session();
        session.append(folder, raw).finish().unwrap();
        session.logout().unwrap();
    }

    /// Each message's UID and flags, in UID order.
    pub fn messages(&self, folder: &str) -> Vec<(u32, Vec<String>)> {
        let mut session = self.session();
        let selected = session.examine(folder).unwrap();
        let mut list = Vec::new();
        if selected.exists > 0 {
            let fetches = session.uid_fetch("1:*", "(UID FLAGS)").unwrap();
            for fetch in fetches.iter() {
                let flags = fetch.flags().iter().map(|f| f.to_string()).collect();
                list.push((fetch.uid.unwrap(), flags));
            }
        }
        session.logout().unwrap();
        list.sort_by_key(|(uid, _)| *uid);
        list
    }

    /// Removes `flag` from every message, as a person marking mail unread.
    pub fn remove_flag(&self, folder: &str, flag: &str) {
        let mut session = self.session();
        session.select(folder).unwrap();
        session
            .uid_store("1:*", format!("-FLAGS.SILENT ({flag})"))
            .unwrap();
        session.logout().unwrap();
    }

    pub fn create_folder(&self, folder: &str) {
        let mut session = self.session();
        session.create(folder).unwrap();
        session.logout().unwrap();
    }

    /// Deletes and creates the folder again: a new UIDVALIDITY, UIDs from 1.
    pub fn recreate_folder(&self, folder: &str) {
        let mut session = self.session();
        session.delete(folder).unwrap();
        session.create(folder).unwrap();
        session.logout().unwrap();
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; SIGKILL if it hangs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain customer message with its own Message-ID.
fn mail(tag: &str, n: usize) -> Vec<u8> {
    format!(
        "From: Customer {n} <customer{n}.{tag}@example.net>\r\n\
         To: support@relay.localhost\r\n\
         Subject: {tag} problem number {n}\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <{tag}-{n}@example.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         My order {n} has not arrived.\r\n"
    )
    .into_bytes()
}

/// (source, ticket id) of every stored inbound message.
fn inbound(app: &TestApp) -> Vec<(String, Option<String>)> {
    let mut conn = app.db.get().unwrap();
    inbound_messages::table
        .select((inbound_messages::source, inbound_messages::ticket_id))
        .load(&mut *conn)
        .unwrap()
}

fn position(app: &TestApp, mailbox: &str) -> ImapPosition {
    let mut conn = app.db.get().unwrap();
    imap_positions::table
        .find(mailbox)
        .first(&mut *conn)
        .unwrap()
}

fn assert_clean(report: &PollReport) {
    assert!(report.errors().is_empty(), "{:?}", report.errors());
}

fn all_flagged(messages: &[(u32, Vec<String>)], flag: &str) -> bool {
    messages
        .iter()
        .all(|(_, flags)| flags.iter().any(|f| f == flag))
}

#[actix_web::test]
async fn imap_messages_become_tickets_and_are_flagged_once() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mailbox = dovecot.mailbox("support");
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;
    for n in 0..3 {
        dovecot.append("INBOX", &mail("first", n));
    }

    let report = app.poll_imap();
    assert_clean(&report);
    assert_eq!((report.fetched(), report.created()), (3, 3), "{report:?}");
    assert_eq!(app.ticket_count(), 3);
    let stored = inbound(&app);
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|(source, ticket)| source == "imap:support" && ticket.is_some()),
        "{stored:?}"
    );
    let messages = dovecot.messages("INBOX");
    assert_eq!(messages.len(), 3);
    assert!(all_flagged(&messages, "\\Seen"), "{messages:?}");
    let saved = position(&app, "support");
    assert_eq!(saved.last_uid, 3);
    assert!(saved.uid_validity > 0);
    assert_eq!(saved.lease_owner, None, "poll_once lets its lease go");

    // Nothing new: nothing fetched.
    let again = app.poll_imap();
    assert_clean(&again);
    assert_eq!(again.fetched(), 0, "{again:?}");

    // One new message: only that one.
    dovecot.append("INBOX", &mail("first", 3));
    let third = app.poll_imap();
    assert_clean(&third);
    assert_eq!((third.fetched(), third.created()), (1, 1), "{third:?}");
    assert_eq!(app.ticket_count(), 4);
    let report = third.mailbox("support").unwrap();
    assert_eq!(report.last_uid, 4);
}

#[actix_web::test]
async fn imap_messages_can_be_moved_to_a_folder_and_routed_to_a_queue() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut app = TestApp::spawn().await;
    let vendor = app.vendor_with_agent("Imap Vendor", Role::Agent).await;
    let mut mailbox = dovecot.mailbox("billing");
    mailbox.after = ImapAfter::Move;
    mailbox.move_to = Some("Processed".into());
    mailbox.queue = Some(vendor.queue_slug.clone());
    app.settings.imap.mailboxes = vec![mailbox];
    for n in 0..2 {
        dovecot.append("INBOX", &mail("moved", n));
    }

    let report = app.poll_imap();
    assert_clean(&report);
    assert_eq!(report.created(), 2, "{report:?}");
    assert!(dovecot.messages("INBOX").is_empty(), "moved out of INBOX");
    assert_eq!(dovecot.messages("Processed").len(), 2, "into Processed");
    let mut conn = app.db.get().unwrap();
    let queues: Vec<Option<String>> = tickets::table
        .select(tickets::queue_id)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(queues, vec![Some(vendor.queue_id.clone()); 2]);
    drop(conn);

    let again = app.poll_imap();
    assert_clean(&again);
    assert_eq!(again.fetched(), 0);
}

#[actix_web::test]
async fn an_imap_restart_never_doubles_a_ticket() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut mailbox = dovecot.mailbox("support");
    mailbox.flag = "relay-done".into();
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;
    for n in 0..3 {
        dovecot.append("INBOX", &mail("restart", n));
    }
    let first = app.poll_imap();
    assert_clean(&first);
    assert_eq!(first.created(), 3);
    let messages = dovecot.messages("INBOX");
    assert!(all_flagged(&messages, "relay-done"), "{messages:?}");
    assert!(
        messages
            .iter()
            .all(|(_, f)| !f.iter().any(|f| f == "\\Seen")),
        "BODY.PEEK leaves \\Seen alone: {messages:?}"
    );

    // The crash window: ingest committed but last_uid never moved, and the
    // flags were never set. A fresh poller (a restarted process) fetches
    // them all again; ingest recognises every one.
    {
        let mut conn = app.db.get().unwrap();
        diesel::update(imap_positions::table.find("support"))
            .set(imap_positions::last_uid.eq(0i64))
            .execute(&mut *conn)
            .unwrap();
    }
    dovecot.remove_flag("INBOX", "relay-done");
    let again = app.poll_imap();
    assert_clean(&again);
    assert_eq!(
        (again.fetched(), again.duplicates(), again.created()),
        (3, 3, 0),
        "{again:?}"
    );
    assert_eq!(app.ticket_count(), 3);
    assert_eq!(inbound(&app).len(), 3, "stored once each");
    assert!(all_flagged(&dovecot.messages("INBOX"), "relay-done"));
    assert_eq!(position(&app, "support").last_uid, 3);

    // A person marking everything unread changes nothing for Relay.
    dovecot.remove_flag("INBOX", "relay-done");
    let third = app.poll_imap();
    assert_clean(&third);
    assert_eq!(third.fetched(), 0);
}

#[actix_web::test]
async fn a_changed_uidvalidity_reads_again_without_duplicates() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    dovecot.create_folder("Support");
    let mut mailbox = dovecot.mailbox("support");
    mailbox.folder = "Support".into();
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;
    for n in 0..2 {
        dovecot.append("Support", &mail("validity", n));
    }
    let first = app.poll_imap();
    assert_clean(&first);
    assert_eq!(first.created(), 2);
    let before = position(&app, "support");

    // The folder is rebuilt (a server migration, a restore): new
    // UIDVALIDITY, UIDs from 1 again, the old messages plus a new one.
    dovecot.recreate_folder("Support");
    for n in 0..3 {
        dovecot.append("Support", &mail("validity", n));
    }
    let again = app.poll_imap();
    assert_clean(&again);
    let report = again.mailbox("support").unwrap();
    assert!(report.uid_validity_reset, "{report:?}");
    assert_eq!(
        (report.fetched, report.duplicates, report.created),
        (3, 2, 1),
        "{report:?}"
    );
    assert_eq!(app.ticket_count(), 3);
    let after = position(&app, "support");
    assert_ne!(after.uid_validity, before.uid_validity);
    assert_eq!(after.last_uid, 3);
    assert!(all_flagged(&dovecot.messages("Support"), "\\Seen"));
}

#[actix_web::test]
async fn two_pollers_at_once_take_each_message_once() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mailbox = dovecot.mailbox("support");
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;
    let mut total = 0;
    for round in 0..3 {
        for n in 0..4 {
            dovecot.append("INBOX", &mail(&format!("race{round}"), n));
        }
        total += 4;
        let start = std::sync::Barrier::new(3);
        let reports: Vec<PollReport> = std::thread::scope(|scope| {
            let pollers: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        poll_once(&app.db, &app.settings).unwrap()
                    })
                })
                .collect();
            pollers.into_iter().map(|p| p.join().unwrap()).collect()
        });
        for report in &reports {
            assert_clean(report);
        }
        let fetched: usize = reports.iter().map(PollReport::fetched).sum();
        let duplicates: usize = reports.iter().map(PollReport::duplicates).sum();
        assert_eq!((fetched, duplicates), (4, 0), "{reports:?}");
        assert_eq!(app.ticket_count(), total);
    }
    assert_eq!(inbound(&app).len(), 12);
    assert!(all_flagged(&dovecot.messages("INBOX"), "\\Seen"));
}

#[actix_web::test]
async fn a_lease_held_by_another_process_is_respected() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mailbox = dovecot.mailbox("support");
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;
    dovecot.append("INBOX", &mail("lease", 0));
    let now = app.clock.clock().now_naive();
    {
        let mut conn = app.db.get().unwrap();
        diesel::insert_into(imap_positions::table)
            .values(&ImapPosition {
                mailbox: "support".into(),
                uid_validity: 0,
                last_uid: 0,
                lease_owner: Some("another-relay".into()),
                lease_until: Some(now + chrono::Duration::seconds(60)),
                updated_at: now,
            })
            .execute(&mut *conn)
            .unwrap();
    }
    let report = app.poll_imap();
    assert_clean(&report);
    assert!(report.mailbox("support").unwrap().leased_elsewhere);
    assert_eq!(report.fetched(), 0);
    assert_eq!(app.ticket_count(), 0);
    assert!(
        !all_flagged(&dovecot.messages("INBOX"), "\\Seen"),
        "untouched"
    );
    let row = position(&app, "support");
    assert_eq!(row.lease_owner.as_deref(), Some("another-relay"));

    // The other process died: its lease runs out and this one takes over.
    {
        let mut conn = app.db.get().unwrap();
        diesel::update(imap_positions::table.find("support"))
            .set(imap_positions::lease_until.eq(Some(now - chrono::Duration::seconds(1))))
            .execute(&mut *conn)
            .unwrap();
    }
    let report = app.poll_imap();
    assert_clean(&report);
    assert_eq!(report.created(), 1, "{report:?}");

    // A long-running poller keeps its lease between polls; others keep out
    // until it lets go.
    let worker = ImapPoller::new();
    assert_clean(&worker.poll(&app.db, &app.settings).unwrap());
    assert_eq!(
        position(&app, "support").lease_owner.as_deref(),
        Some(worker.owner())
    );
    dovecot.append("INBOX", &mail("lease", 1));
    let blocked = app.poll_imap();
    assert!(blocked.mailbox("support").unwrap().leased_elsewhere);
    assert_eq!(blocked.fetched(), 0);
    let own = worker.poll(&app.db, &app.settings).unwrap();
    assert_clean(&own);
    assert_eq!(own.created(), 1, "the holder renews and carries on");
    worker.release(&app.db).unwrap();
    dovecot.append("INBOX", &mail("lease", 2));
    let free = app.poll_imap();
    assert_clean(&free);
    assert_eq!(free.created(), 1);
    assert_eq!(app.ticket_count(), 3);
}

#[actix_web::test]
async fn oversized_and_unreachable_mailboxes_do_not_block_the_rest() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut down = dovecot.mailbox("down");
    down.port = Some(free_port());
    let good = dovecot.mailbox("support");
    let app = TestApp::spawn_with(|s| {
        s.email.max_message_bytes = 2048;
        s.imap.mailboxes = vec![down, good];
    })
    .await;
    let mut huge = mail("big", 0);
    huge.extend(std::iter::repeat_n(b'x', 4096));
    huge.extend_from_slice(b"\r\n");
    dovecot.append("INBOX", &huge);
    dovecot.append("INBOX", &mail("big", 1));

    let report = app.poll_imap();
    let down = report.mailbox("down").unwrap();
    assert!(
        down.error.as_deref().unwrap_or("").contains("connect"),
        "{down:?}"
    );
    let support = report.mailbox("support").unwrap();
    assert_eq!(support.error, None);
    assert_eq!(
        (support.rejected, support.created, support.last_uid),
        (1, 1, 2),
        "{support:?}"
    );
    let messages = dovecot.messages("INBOX");
    assert!(
        !messages[0].1.iter().any(|f| f == "\\Seen"),
        "the refused message stays for a person to see: {messages:?}"
    );
    assert!(messages[1].1.iter().any(|f| f == "\\Seen"));

    let again = app.poll_imap();
    let support = again.mailbox("support").unwrap();
    assert_eq!((support.fetched, support.rejected), (0, 0), "{support:?}");
}

#[actix_web::test]
async fn imap_over_tls_and_starttls_trusts_the_configured_ca() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut implicit = dovecot.imaps_mailbox("imaps");
    implicit.ca_file = Some(dovecot.ca_file.clone());
    let mut upgraded = dovecot.mailbox("starttls");
    upgraded.tls = ImapTls::Starttls;
    upgraded.ca_file = Some(dovecot.ca_file.clone());
    upgraded.folder = "Other".into();
    dovecot.create_folder("Other");
    dovecot.append("INBOX", &mail("tls", 0));
    dovecot.append("Other", &mail("starttls", 0));
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![implicit, upgraded]).await;

    let report = app.poll_imap();
    assert_clean(&report);
    for name in ["imaps", "starttls"] {
        let mailbox = report.mailbox(name).unwrap();
        assert_eq!((mailbox.fetched, mailbox.created), (1, 1), "{mailbox:?}");
    }
    assert_eq!(app.ticket_count(), 2);
}

#[actix_web::test]
async fn an_imap_server_that_cannot_be_verified_is_refused_and_its_mail_kept() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    // The server's certificate comes from the test CA, which only `ca_file`
    // would make trusted.
    let mailbox = dovecot.imaps_mailbox("untrusted");
    dovecot.append("INBOX", &mail("untrusted", 0));
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;

    let report = app.poll_imap();
    let untrusted = report.mailbox("untrusted").unwrap();
    let error = untrusted.error.as_deref().unwrap_or("");
    assert!(
        error.contains("TLS handshake") && error.contains("certificate"),
        "{untrusted:?}"
    );
    assert_eq!(app.ticket_count(), 0);
    let messages = dovecot.messages("INBOX");
    assert!(!messages[0].1.iter().any(|f| f == "\\Seen"), "{messages:?}");
}

#[actix_web::test]
async fn non_ascii_folders_work_and_servers_without_move_get_copy_and_expunge() {
    // This Dovecot announces UIDPLUS but not MOVE, as some servers do.
    let Some(dovecot) = Dovecot::start_with("imap_capability = IMAP4rev1 LITERAL+ UIDPLUS") else {
        return;
    };
    let mut session = dovecot.session();
    assert!(!session.capabilities().unwrap().has_str("MOVE"));
    session.logout().unwrap();
    // Входящие and Traité as IMAP spells them (modified UTF-7).
    let inbox = "&BBIERQQ+BDQETwRJBDgENQ-";
    let done = "Trait&AOk-";
    dovecot.create_folder(inbox);
    dovecot.append(inbox, &mail("intl", 0));
    dovecot.append(inbox, &mail("intl", 1));
    let mut mailbox = dovecot.mailbox("intl");
    mailbox.folder = "Входящие".into();
    mailbox.after = ImapAfter::Move;
    mailbox.move_to = Some("Traité".into());
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;

    let report = app.poll_imap();
    assert_clean(&report);
    assert_eq!((report.fetched(), report.created()), (2, 2), "{report:?}");
    assert!(dovecot.messages(inbox).is_empty(), "copied, then expunged");
    assert_eq!(dovecot.messages(done).len(), 2);
    assert_eq!(app.ticket_count(), 2);
}

#[actix_web::test]
async fn without_move_or_uidplus_a_moved_message_is_copied_and_marked_deleted() {
    let Some(dovecot) = Dovecot::start_with("imap_capability = IMAP4rev1 LITERAL+") else {
        return;
    };
    let mut session = dovecot.session();
    let capabilities = session.capabilities().unwrap();
    assert!(!capabilities.has_str("MOVE") && !capabilities.has_str("UIDPLUS"));
    session.logout().unwrap();
    dovecot.append("INBOX", &mail("plain", 0));
    let mut mailbox = dovecot.mailbox("plain");
    mailbox.after = ImapAfter::Move;
    mailbox.move_to = Some("Done".into());
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;

    let report = app.poll_imap();
    assert_clean(&report);
    assert_eq!(report.created(), 1, "{report:?}");
    assert_eq!(dovecot.messages("Done").len(), 1);
    // No UID EXPUNGE without UIDPLUS (a plain EXPUNGE could remove messages
    // a person deleted): the original stays, marked \Deleted, for the
    // mailbox's own expunge.
    let left = dovecot.messages("INBOX");
    assert!(all_flagged(&left, "\\Deleted"), "{left:?}");
    let again = app.poll_imap();
    assert_clean(&again);
    assert_eq!(again.fetched(), 0, "{again:?}");
    assert_eq!(app.ticket_count(), 1);
}
