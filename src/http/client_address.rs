//! Which address a request came from when reverse proxies stand in between.
//!
//! Each proxy appends the address it saw to `X-Forwarded-For` (or adds a
//! `Forwarded` element), so only the right-most entries were written by
//! proxies of ours; everything to their left is whatever the client sent.
//! The client is therefore the entry `hops` places from the right.

use crate::config::ServerSettings;
use forwarded_header_value::{ForwardedStanza, Identifier};
use std::net::{IpAddr, Ipv6Addr};

/// What the operator said about the proxies in front of Relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyTrust {
    pub x_forwarded_for: bool,
    pub forwarded: bool,
    /// Proxies of ours that append to the header (at least 1).
    pub hops: usize,
}

impl ProxyTrust {
    pub fn of(server: &ServerSettings) -> ProxyTrust {
        ProxyTrust {
            x_forwarded_for: server.trust_forwarded_for,
            forwarded: server.trust_forwarded_header,
            hops: server.trusted_proxy_hops,
        }
    }
}

/// The proxy headers of one request, each line as received, in order.
#[derive(Debug, Default)]
pub struct ProxyHeaders<'a> {
    pub forwarded: Vec<&'a str>,
    pub x_forwarded_for: Vec<&'a str>,
}

/// The client's address: from the trusted header when it holds one where
/// our proxies put it, otherwise the peer (a missing or garbled header, or
/// one with fewer entries than proxies, was not written by them).
pub fn resolve(peer: IpAddr, headers: &ProxyHeaders<'_>, trust: ProxyTrust) -> IpAddr {
    let forwarded = if trust.forwarded && !headers.forwarded.is_empty() {
        entry_from_right(&headers.forwarded, trust.hops).and_then(forwarded_for)
    } else if trust.x_forwarded_for && !headers.x_forwarded_for.is_empty() {
        entry_from_right(&headers.x_forwarded_for, trust.hops).and_then(x_forwarded_for)
    } else {
        None
    };
    forwarded.unwrap_or(peer)
}

/// The `hops`-th non-empty comma-separated entry from the right of a header
/// that may span several lines (RFC 9110: lines join with commas, in order).
fn entry_from_right<'a>(lines: &[&'a str], hops: usize) -> Option<&'a str> {
    let position = hops.checked_sub(1)?;
    lines
        .iter()
        .rev()
        .flat_map(|line| line.rsplit(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .nth(position)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`) as some load balancers write.
fn x_forwarded_for(entry: &str) -> Option<IpAddr> {
    entry.parse::<Identifier>().ok()?.ip()
}

/// The `for=` address of one `Forwarded` element; none for `unknown` or an
/// obfuscated node, which name no address to key on.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.parse::<ForwardedStanza>().ok()?.forwarded_for_ip()
}

/// The key a per-client budget is kept under: IPv4 as is, IPv6 by its /64
/// (one subscriber's allocation: a host picks any of its 2^64 addresses at
/// will). IPv4-mapped IPv6 counts as the IPv4 address.
pub fn rate_limit_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            const PREFIX_64: u128 = !0 << 64;
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & PREFIX_64))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "10.0.0.2";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trust(x_forwarded_for: bool, forwarded: bool, hops: usize) -> ProxyTrust {
        ProxyTrust {
            x_forwarded_for,
            forwarded,
            hops,
        }
    }

    fn xff(lines: &[&'static str]) -> ProxyHeaders<'static> {
        ProxyHeaders {
            x_forwarded_for: lines.to_vec(),
            ..ProxyHeaders::default()
        }
    }

    fn forwarded(lines: &[&'static str]) -> ProxyHeaders<'static> {
        ProxyHeaders {
            forwarded: lines.to_vec(),
            ..ProxyHeaders::default()
        }
    }

    #[test]
    fn the_right_most_entry_is_what_the_nearest_proxy_saw() {
        let headers = xff(&["1.1.1.1, 2.2.2.2, 203.0.113.7"]);
        assert_eq!(
            resolve(ip(PEER), &headers, trust(true, false, 1)),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn more_hops_step_left_past_our_own_proxies() {
        let headers = xff(&["6.6.6.6, 203.0.113.7", "198.51.100.1"]);
        assert_eq!(
            resolve(ip(PEER), &headers, trust(true, false, 2)),
            ip("203.0.113.7")
        );
        assert_eq!(
            resolve(ip(PEER), &headers, trust(true, false, 3)),
            ip("6.6.6.6")
        );
    }

    #[test]
    fn the_client_written_left_part_never_matters() {
        for forged in ["9.9.9.9", "garbage, 8.8.8.8", "", "::1, ,"] {
            let line = format!("{forged}, 203.0.113.7");
            let headers = ProxyHeaders {
                x_forwarded_for: vec![line.as_str()],
                ..ProxyHeaders::default()
            };
            assert_eq!(
                resolve(ip(PEER), &headers, trust(true, false, 1)),
                ip("203.0.113.7"),
                "{forged}"
            );
        }
    }

    #[test]
    fn missing_short_or_garbled_headers_fall_back_to_the_peer() {
        let peer = ip(PEER);
        let on = trust(true, false, 1);
        assert_eq!(resolve(peer, &ProxyHeaders::default(), on), peer);
        assert_eq!(resolve(peer, &xff(&["1.1.1.1, not-an-ip"]), on), peer);
        assert_eq!(resolve(peer, &xff(&[" , "]), on), peer);
        assert_eq!(
            resolve(peer, &xff(&["203.0.113.7"]), trust(true, false, 2)),
            peer,
            "fewer entries than proxies: not written by them"
        );
    }

    #[test]
    fn headers_count_only_when_trusted() {
        let peer = ip(PEER);
        let both = ProxyHeaders {
            x_forwarded_for: vec!["203.0.113.7"],
            forwarded: vec!["for=198.51.100.9"],
        };
        assert_eq!(resolve(peer, &both, trust(false, false, 1)), peer);
        assert_eq!(
            resolve(peer, &both, trust(true, false, 1)),
            ip("203.0.113.7"),
            "Forwarded is ignored unless configured"
        );
        assert_eq!(
            resolve(peer, &both, trust(true, true, 1)),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn forwarded_elements_follow_the_same_rule() {
        let headers =
            forwarded(&["for=6.6.6.6;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1"]);
        let on = trust(false, true, 1);
        assert_eq!(resolve(ip(PEER), &headers, on), ip("2001:db8:cafe::17"));
        assert_eq!(
            resolve(ip(PEER), &headers, trust(false, true, 2)),
            ip("6.6.6.6")
        );
        assert_eq!(
            resolve(ip(PEER), &forwarded(&["for=1.2.3.4, for=unknown"]), on),
            ip(PEER)
        );
        assert_eq!(
            resolve(ip(PEER), &forwarded(&["for=1.2.3.4, proto=http"]), on),
            ip(PEER),
            "the nearest proxy's element names no client"
        );
    }

    #[test]
    fn entries_with_ports_are_read() {
        let on = trust(true, false, 1);
        assert_eq!(
            resolve(ip(PEER), &xff(&["203.0.113.7:4711"]), on),
            ip("203.0.113.7")
        );
        assert_eq!(
            resolve(ip(PEER), &xff(&["[2001:db8::1]:443"]), on),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2::1")),
            rate_limit_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            rate_limit_key(ip("2001:db8:1:2::1")),
            rate_limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_limit_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(rate_limit_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
    }
}
