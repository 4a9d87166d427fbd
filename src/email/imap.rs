//! A small blocking IMAP client for the mailbox poller: connect (plain,
//! STARTTLS or TLS), log in, select a folder, list and fetch messages by UID,
//! then flag or move them. The protocol is the `imap` crate's; the transport
//! (TCP, rustls) is built here so that connecting, every read and every write
//! has a timeout and a stalled server can never hang the poller.

use crate::config::{ImapAfter, ImapMailbox, ImapTls};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Longest wait for connecting and for any single read or write.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Something went wrong talking to the IMAP server; the message says what
/// and with which server.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImapError(pub String);

type Result<T> = std::result::Result<T, ImapError>;

fn failed(what: impl std::fmt::Display) -> impl FnOnce(::imap::Error) -> ImapError {
    move |err| ImapError(format!("{what}: {err}"))
}

/// The byte stream under the IMAP session.
enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// Verifies servers against the Mozilla root store (the `webpki-roots`
/// crate) plus the mailbox's `ca_file`, with ring as the crypto provider.
fn tls_config(mailbox: &ImapMailbox) -> Result<Arc<rustls::ClientConfig>> {
    static PUBLIC_ROOTS_ONLY: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let extra = mailbox
        .ca_certificates()
        .map_err(|why| ImapError(format!("mailbox '{}': ca_file: {why}", mailbox.name)))?;
    if extra.is_empty() {
        return Ok(PUBLIC_ROOTS_ONLY
            .get_or_init(|| client_config(rustls::RootCertStore::empty()))
            .clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    for certificate in extra {
        roots
            .add(certificate)
            .map_err(|e| ImapError(format!("mailbox '{}': ca_file: {e}", mailbox.name)))?;
    }
    Ok(client_config(roots))
}

fn client_config(mut roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

fn start_tls(mailbox: &ImapMailbox, tcp: TcpStream) -> Result<Transport> {
    let host = mailbox.host.trim();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| ImapError(format!("'{host}' is not a valid TLS server name: {e}")))?;
    let mut tcp = tcp;
    let mut conn = rustls::ClientConnection::new(tls_config(mailbox)?, name)
        .map_err(|e| ImapError(format!("TLS with {host}: {e}")))?;
    // Handshake now, so a certificate problem is reported as one rather
    // than as a failed login.
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| ImapError(format!("TLS handshake with {host}: {e}")))?;
    }
    Ok(Transport::Tls(Box::new(rustls::StreamOwned::new(
        conn, tcp,
    ))))
}

fn connect_tcp(host: &str, port: u16) -> Result<TcpStream> {
    let addresses = (host, port)
        .to_socket_addrs()
        .map_err(|e| ImapError(format!("cannot resolve {host}: {e}")))?;
    let mut last = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, TIMEOUT) {
            Ok(tcp) => {
                let timeouts = tcp
                    .set_read_timeout(Some(TIMEOUT))
                    .and_then(|()| tcp.set_write_timeout(Some(TIMEOUT)));
                timeouts.map_err(|e| ImapError(format!("{host}:{port}: {e}")))?;
                return Ok(tcp);
            }
            Err(err) => last = Some(err),
        }
    }
    Err(ImapError(match last {
        Some(err) => format!("cannot connect to {host}:{port}: {err}"),
        None => format!("{host} has no address"),
    }))
}

/// One CRLF-terminated line, read a byte at a time so nothing after it is
/// consumed (the TLS handshake follows STARTTLS's answer).
fn read_line(tcp: &mut TcpStream, server: &str) -> Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 8192 {
        match tcp.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
                }
            }
            Err(err) => return Err(ImapError(format!("{server}: {err}"))),
        }
    }
    Err(ImapError(format!("{server} closed the connection")))
}

/// Greeting, then `STARTTLS` in the clear (the `imap` crate offers no way to
/// send it before login).
fn plain_starttls(tcp: &mut TcpStream, server: &str) -> Result<()> {
    let greeting = read_line(tcp, server)?;
    if !greeting.to_ascii_uppercase().starts_with("* OK") {
        return Err(ImapError(format!(
            "{server} did not greet as an IMAP server: {greeting}"
        )));
    }
    tcp.write_all(b"s1 STARTTLS\r\n")
        .map_err(|e| ImapError(format!("{server}: {e}")))?;
    loop {
        let line = read_line(tcp, server)?;
        if let Some(answer) = line.strip_prefix("s1 ") {
            if answer.to_ascii_uppercase().starts_with("OK") {
                return Ok(());
            }
            return Err(ImapError(format!(
                "{server} refused STARTTLS (setting `tls`): {answer}"
            )));
        }
    }
}

/// The selected folder's identity.
#[derive(Debug, Clone, Copy)]
pub struct Folder {
    /// UIDVALIDITY: UIDs are only comparable while it stays the same.
    pub uid_validity: u32,
    pub exists: u32,
}

/// A message waiting in the folder.
#[derive(Debug, Clone, Copy)]
pub struct Listed {
    pub uid: u32,
    /// RFC822.SIZE, when the server told.
    pub size: Option<u32>,
}

/// A folder name as IMAP spells it: modified UTF-7 (RFC 3501 5.1.3), so
/// folders such as `Entwürfe` or `Входящие` can be named in the settings as
/// people see them. Printable ASCII stands for itself (`&` as `&-`); runs of
/// anything else are UTF-16, base64 with `,` for `/`, between `&` and `-`.
fn wire_name(folder: &str) -> String {
    fn flush(out: &mut String, run: &mut Vec<u16>) {
        if run.is_empty() {
            return;
        }
        let bytes: Vec<u8> = run.iter().flat_map(|unit| unit.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&STANDARD_NO_PAD.encode(bytes).replace('/', ","));
        out.push('-');
        run.clear();
    }
    let mut out = String::with_capacity(folder.len());
    let mut run = Vec::new();
    for c in folder.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut run);
            match c {
                '&' => out.push_str("&-"),
                _ => out.push(c),
            }
        } else {
            run.extend_from_slice(c.encode_utf16(&mut [0; 2]));
        }
    }
    flush(&mut out, &mut run);
    out
}

/// A logged-in IMAP session.
pub struct ImapClient {
    session: ::imap::Session<Transport>,
    server: String,
    can_move: bool,
    can_uid_expunge: bool,
}

impl ImapClient {
    /// Connects and logs in as the mailbox's user.
    pub fn connect(mailbox: &ImapMailbox) -> Result<ImapClient> {
        let host = mailbox.host.trim();
        let port = mailbox.port();
        let server = format!("{host}:{port}");
        let tcp = connect_tcp(host, port)?;
        let client = match mailbox.tls {
            ImapTls::None => {
                let mut client = ::imap::Client::new(Transport::Plain(tcp));
                client
                    .read_greeting()
                    .map_err(failed(format!("{server} greeting")))?;
                client
            }
            ImapTls::Tls => {
                let mut client = ::imap::Client::new(start_tls(mailbox, tcp)?);
                client
                    .read_greeting()
                    .map_err(failed(format!("{server} TLS greeting")))?;
                client
            }
            ImapTls::Starttls => {
                let mut tcp = tcp;
                plain_starttls(&mut tcp, &server)?;
                let mut client = ::imap::Client::new(start_tls(mailbox, tcp)?);
                // The greeting came before STARTTLS.
                client.greeting_read = true;
                client
            }
        };
        let mut session =
            client
                .login(&mailbox.username, &mailbox.password)
                .map_err(|(err, _)| {
                    ImapError(format!(
                        "{server}: login as {} failed: {err}",
                        mailbox.username
                    ))
                })?;
        let capabilities = session
            .capabilities()
            .map_err(failed(format!("{server} CAPABILITY")))?;
        Ok(ImapClient {
            can_move: capabilities.has_str("MOVE"),
            can_uid_expunge: capabilities.has_str("UIDPLUS"),
            session,
            server,
        })
    }

    /// Selects `folder` (read-write) and reports its UIDVALIDITY.
    pub fn select(&mut self, folder: &str) -> Result<Folder> {
        let selected = self
            .session
            .select(wire_name(folder))
            .map_err(failed(format!("{} SELECT {folder}", self.server)))?;
        Ok(Folder {
            // A server that sends none never resets; 0 is never a real value.
            uid_validity: selected.uid_validity.unwrap_or(0),
            exists: selected.exists,
        })
    }

    /// Creates `folder` unless it exists.
    pub fn ensure_folder(&mut self, folder: &str) -> Result<()> {
        let wire = wire_name(folder);
        if self.session.status(&wire, "(UIDVALIDITY)").is_ok() {
            return Ok(());
        }
        self.session
            .create(&wire)
            .map_err(failed(format!("{} CREATE {folder}", self.server)))
    }

    /// Messages with a UID above `last_uid`, lowest first.
    pub fn list_after(&mut self, last_uid: u32) -> Result<Vec<Listed>> {
        let Some(first) = last_uid.checked_add(1) else {
            return Ok(Vec::new());
        };
        // `n:*` also names the highest message when every UID is below n
        // (RFC 3501 6.4.8), so filter again.
        let fetches = self
            .session
            .uid_fetch(format!("{first}:*"), "(UID RFC822.SIZE)")
            .map_err(failed(format!("{} UID FETCH", self.server)))?;
        let mut listed: Vec<Listed> = fetches
            .iter()
            .filter_map(|f| f.uid.map(|uid| Listed { uid, size: f.size }))
            .filter(|l| l.uid > last_uid)
            .collect();
        listed.sort_by_key(|l| l.uid);
        listed.dedup_by_key(|l| l.uid);
        Ok(listed)
    }

    /// The raw message with this UID, without setting \Seen; `None` when it
    /// was expunged meanwhile.
    pub fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>> {
        let fetches = self
            .session
            .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
            .map_err(failed(format!("{} UID FETCH {uid}", self.server)))?;
        let body = fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body())
            .map(<[u8]>::to_vec);
        Ok(body)
    }

    /// Marks a message as handled: sets the flag, or moves it to `move_to`
    /// (with MOVE when the server has it, else COPY, \Deleted and, with
    /// UIDPLUS, an expunge of that message alone).
    pub fn mark_done(&mut self, uid: u32, mailbox: &ImapMailbox) -> Result<()> {
        let set = uid.to_string();
        match (mailbox.after, mailbox.move_to.as_deref()) {
            (ImapAfter::Move, Some(target)) => {
                let target = wire_name(target);
                if self.can_move {
                    return self
                        .session
                        .uid_mv(&set, &target)
                        .map_err(failed(format!("{} UID MOVE {uid}", self.server)));
                }
                self.session
                    .uid_copy(&set, &target)
                    .map_err(failed(format!("{} UID COPY {uid}", self.server)))?;
                self.session
                    .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                    .map_err(failed(format!("{} UID STORE {uid}", self.server)))?;
                if self.can_uid_expunge {
                    self.session
                        .uid_expunge(&set)
                        .map_err(failed(format!("{} UID EXPUNGE {uid}", self.server)))?;
                }
                Ok(())
            }
            _ => self
                .session
                .uid_store(&set, format!("+FLAGS.SILENT ({})", mailbox.flag))
                .map(drop)
                .map_err(failed(format!("{} UID STORE {uid}", self.server))),
        }
    }

    /// Says goodbye; errors do not matter any more at this point.
    pub fn logout(mut self) {
        let _ = self.session.logout();
    }
}

#[cfg(test)]
mod tests {
    use super::wire_name;

    #[test]
    fn folder_names_are_modified_utf7() {
        // The example of RFC 3501 5.1.3.
        assert_eq!(
            wire_name("~peter/mail/日本語/台北"),
            "~peter/mail/&ZeVnLIqe-/&U,BTFw-"
        );
        assert_eq!(wire_name("INBOX"), "INBOX");
        assert_eq!(wire_name("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(wire_name("Входящие"), "&BBIERQQ+BDQETwRJBDgENQ-");
        assert_eq!(wire_name("A&B"), "A&-B");
        assert_eq!(wire_name("😀"), "&2D3eAA-");
    }
}
