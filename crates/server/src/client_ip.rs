//! The client's IP address: one function for the allowlist, rate limits, audit and sessions
//! (identity spec §6.2).
//!
//! The TCP peer is the client unless it is a trusted proxy and `trusted_proxy_hops > 0`; then
//! the client is the hops-th `X-Forwarded-For` entry counted from the right (1 = rightmost),
//! or the leftmost when there are fewer. Values a client can forge further left are never
//! trusted. `X-Real-IP` and `Forwarded` are not read. An entry that does not parse makes the
//! client unknown; rate limits then key on the peer.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// Which proxies may speak for the client, and how many of them stand in front.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust {
    proxies: Vec<IpNet>,
    hops: usize,
}

/// A proxy configuration that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyConfigError {
    /// An entry is neither an address nor a CIDR block.
    #[error("{0:?} is not an IP address or CIDR block")]
    BadEntry(String),
    /// More than 5 hops.
    #[error("trusted_proxy_hops must be between 0 and 5")]
    TooManyHops,
    /// Hops without proxies would trust every peer.
    #[error("trusted_proxy_hops is set but trusted_proxies is empty")]
    HopsWithoutProxies,
}

/// The derived client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIp {
    /// The TCP peer (no trusted proxy in front).
    Peer(IpAddr),
    /// Taken from `X-Forwarded-For`, as vouched for by a trusted proxy.
    Forwarded(IpAddr),
    /// A trusted proxy sent an entry that does not parse.
    Unknown {
        /// The proxy that sent it.
        peer: IpAddr,
    },
}

impl ClientIp {
    /// The address to attribute the request to, if known.
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            ClientIp::Peer(ip) | ClientIp::Forwarded(ip) => Some(ip),
            ClientIp::Unknown { .. } => None,
        }
    }

    /// The key for rate limits: the client, or the peer when the client is unknown.
    pub fn rate_key(self) -> IpAddr {
        match self {
            ClientIp::Peer(ip) | ClientIp::Forwarded(ip) | ClientIp::Unknown { peer: ip } => ip,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse().ok().map(canonical);
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

impl ProxyTrust {
    /// Validates the configuration: every entry parses, hops ≤ 5, hops > 0 needs proxies.
    pub fn new(proxies: &[String], hops: usize) -> Result<Self, ProxyConfigError> {
        if hops > 5 {
            return Err(ProxyConfigError::TooManyHops);
        }
        let proxies = proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ProxyConfigError::BadEntry(p.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if hops > 0 && proxies.is_empty() {
            return Err(ProxyConfigError::HopsWithoutProxies);
        }
        Ok(Self { proxies, hops })
    }

    /// The client of a request from `peer` carrying these `X-Forwarded-For` header values.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> ClientIp {
        let peer = canonical(peer);
        if self.hops == 0 || !self.proxies.iter().any(|net| net.contains(&peer)) {
            return ClientIp::Peer(peer);
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        let Some(entry) = entries
            .len()
            .checked_sub(self.hops)
            .map_or(entries.first(), |i| entries.get(i))
        else {
            return ClientIp::Peer(peer);
        };
        parse_entry(entry).map_or(ClientIp::Unknown { peer }, ClientIp::Forwarded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trust(hops: usize) -> ProxyTrust {
        ProxyTrust::new(&["10.0.0.0/8".into(), "2001:db8:ffff::1".into()], hops).unwrap()
    }

    #[test]
    fn derives_the_client_per_the_trusted_proxy_rule() {
        let proxy = ip("10.1.2.3");
        let cases: &[(&str, usize, &str, &[&str], ClientIp)] = &[
            (
                "no proxies configured: the peer",
                0,
                "10.1.2.3",
                &["6.6.6.6"],
                ClientIp::Peer(proxy),
            ),
            (
                "untrusted peer sending the header",
                1,
                "8.8.8.8",
                &["6.6.6.6"],
                ClientIp::Peer(ip("8.8.8.8")),
            ),
            (
                "one hop: the rightmost entry",
                1,
                "10.1.2.3",
                &["6.6.6.6, 1.1.1.1"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "spoofed leftmost values are ignored",
                1,
                "10.1.2.3",
                &["9.9.9.9", "6.6.6.6, 1.1.1.1"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "two hops: second from the right",
                2,
                "10.1.2.3",
                &["6.6.6.6, 1.1.1.1, 10.9.9.9"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "headers are joined in order",
                2,
                "10.1.2.3",
                &["1.1.1.1", "10.9.9.9"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "fewer entries than hops: the leftmost",
                3,
                "10.1.2.3",
                &["1.1.1.1, 10.9.9.9"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "ports are stripped",
                1,
                "10.1.2.3",
                &["1.1.1.1:4711"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "IPv6 with brackets and port",
                1,
                "10.1.2.3",
                &["[2001:db8::7]:443"],
                ClientIp::Forwarded(ip("2001:db8::7")),
            ),
            (
                "bare IPv6",
                1,
                "10.1.2.3",
                &["2001:db8::7"],
                ClientIp::Forwarded(ip("2001:db8::7")),
            ),
            (
                "IPv6 proxy",
                1,
                "2001:db8:ffff::1",
                &["1.1.1.1"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "IPv4-mapped peer is the IPv4 proxy",
                1,
                "::ffff:10.1.2.3",
                &["1.1.1.1"],
                ClientIp::Forwarded(ip("1.1.1.1")),
            ),
            (
                "garbage makes the client unknown",
                1,
                "10.1.2.3",
                &["1.1.1.1, not-an-ip"],
                ClientIp::Unknown { peer: proxy },
            ),
            (
                "no header from a trusted proxy: the peer",
                1,
                "10.1.2.3",
                &[],
                ClientIp::Peer(proxy),
            ),
        ];
        for (name, hops, peer, headers, expected) in cases {
            assert_eq!(
                trust(*hops).client_ip(ip(peer), headers.iter().copied()),
                *expected,
                "{name}"
            );
        }
        assert_eq!(ClientIp::Unknown { peer: proxy }.rate_key(), proxy);
        assert_eq!(ClientIp::Unknown { peer: proxy }.ip(), None);
    }

    #[test]
    fn refuses_configurations_that_cannot_be_right() {
        assert_eq!(
            ProxyTrust::new(&[], 1).unwrap_err(),
            ProxyConfigError::HopsWithoutProxies
        );
        assert_eq!(
            ProxyTrust::new(&["10.0.0.0/8".into()], 6).unwrap_err(),
            ProxyConfigError::TooManyHops
        );
        assert_eq!(
            ProxyTrust::new(&["10.0.0.0/33".into()], 1).unwrap_err(),
            ProxyConfigError::BadEntry("10.0.0.0/33".into())
        );
        assert!(ProxyTrust::new(&[], 0).is_ok());
    }
}
