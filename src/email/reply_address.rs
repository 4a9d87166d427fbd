//! Per-ticket reply addresses: `support+t10042-<signature>@domain`.
//!
//! They survive mail clients and other ticket systems that strip
//! In-Reply-To/References. The signature is an HMAC of the ticket number
//! under an installation secret, so nobody can write into a ticket by
//! guessing its number.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// 12 hex characters: 48 bits, far beyond guessing by mail.
const SIGNATURE_HEX: usize = 12;

#[derive(Clone)]
pub struct ReplyAddresses {
    local: String,
    domain: String,
    secret: Vec<u8>,
}

impl ReplyAddresses {
    /// `support_address` is the public address, e.g. `support@example.com`.
    pub fn new(support_address: &str, secret: &[u8]) -> Self {
        let (local, domain) = support_address
            .rsplit_once('@')
            .unwrap_or((support_address, "localhost"));
        let local = local.split('+').next().unwrap_or(local);
        ReplyAddresses {
            local: local.to_lowercase(),
            domain: domain.to_lowercase(),
            secret: secret.to_vec(),
        }
    }

    fn signature(&self, number: i64) -> String {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(format!("t{number}").as_bytes());
        hex::encode(mac.finalize().into_bytes())[..SIGNATURE_HEX].to_string()
    }

    pub fn for_ticket(&self, number: i64) -> String {
        format!(
            "{}+t{number}-{}@{}",
            self.local,
            self.signature(number),
            self.domain
        )
    }

    /// The ticket number a reply address names, if its signature is right.
    pub fn ticket_number(&self, address: &str) -> Option<i64> {
        let (local, domain) = address.trim().rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        let (base, tag) = local.split_once('+')?;
        if !base.eq_ignore_ascii_case(&self.local) {
            return None;
        }
        let tag = tag.to_ascii_lowercase();
        let (number, signature) = tag.strip_prefix('t')?.split_once('-')?;
        let number: i64 = number.parse().ok().filter(|n| *n > 0)?;
        // Compare in constant time: the signature is a secret.
        let expected = self.signature(number);
        let given = signature.to_ascii_lowercase();
        let same = expected.len() == given.len()
            && expected
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then_some(number)
    }

    /// Whether an address is the support address or one of its reply addresses.
    pub fn is_ours(&self, address: &str) -> bool {
        let Some((local, domain)) = address.trim().rsplit_once('@') else {
            return false;
        };
        domain.eq_ignore_ascii_case(&self.domain)
            && local
                .split('+')
                .next()
                .is_some_and(|base| base.eq_ignore_ascii_case(&self.local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses() -> ReplyAddresses {
        ReplyAddresses::new("Support@Example.com", b"installation secret")
    }

    #[test]
    fn a_reply_address_names_its_ticket() {
        let a = addresses();
        let address = a.for_ticket(10042);
        assert!(
            address.starts_with("support+t10042-") && address.ends_with("@example.com"),
            "{address}"
        );
        assert_eq!(a.ticket_number(&address), Some(10042));
        assert_eq!(
            a.ticket_number(&address.to_uppercase()),
            Some(10042),
            "mail systems may change case"
        );
    }

    #[test]
    fn guessed_or_foreign_addresses_are_refused() {
        let a = addresses();
        let genuine = a.for_ticket(10042);
        let forged = genuine.replace("t10042", "t10043");
        assert_eq!(a.ticket_number(&forged), None);
        assert_eq!(
            a.ticket_number("support+t10042-000000000000@example.com"),
            None
        );
        assert_eq!(
            a.ticket_number(&genuine.replace("example.com", "other.com")),
            None
        );
        assert_eq!(a.ticket_number("support@example.com"), None);
        let other_install = ReplyAddresses::new("support@example.com", b"another secret");
        assert_eq!(other_install.ticket_number(&genuine), None);
    }

    #[test]
    fn our_own_addresses_are_recognised() {
        let a = addresses();
        assert!(a.is_ours("support@example.com"));
        assert!(a.is_ours(&a.for_ticket(1)));
        assert!(!a.is_ours("ana@example.com"));
    }
}
