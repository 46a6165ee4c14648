//! Where a redirect may lead: the kind of address a host is on (public, loopback, link-local,
//! private), and the rule that a redirect never takes govwatch from a public address to an
//! internal one.
//!
//! A public site that redirects to `http://127.0.0.1:…` or `http://10.0.0.5/…` would otherwise
//! make govwatch read (and store, and mail) pages of the machine or network it runs in. A watch
//! the operator pointed at an internal address on purpose may still redirect within that kind of
//! address, so a local test site or an intranet page keeps working.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// The kind of network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    /// Reachable from the internet (or at least not one of the kinds below).
    Public,
    /// This machine: 127.0.0.0/8, ::1, and the unspecified address (which connects here).
    Loopback,
    /// 169.254.0.0/16 and fe80::/10, where cloud metadata services live.
    LinkLocal,
    /// RFC 1918, shared address space (100.64.0.0/10) and unique local IPv6 (fc00::/7).
    Private,
}

impl std::fmt::Display for AddrClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "loopback",
            AddrClass::LinkLocal => "link-local",
            AddrClass::Private => "private",
        })
    }
}

/// The kind of network `ip` is on. IPv4 addresses written as IPv6 (`::ffff:10.0.0.1`) count as
/// the IPv4 address they carry, so the mapped form is no way around the rule.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip.to_canonical() {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() || ip.is_unspecified() || a == 0 {
        AddrClass::Loopback
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        AddrClass::Private
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let first = ip.segments()[0];
    if ip.is_loopback() || ip.is_unspecified() {
        AddrClass::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        AddrClass::LinkLocal
    } else if first & 0xfe00 == 0xfc00 {
        AddrClass::Private
    } else {
        AddrClass::Public
    }
}

/// Whether a redirect may lead to a host on `target` addresses, for a fetch that started on an
/// address of kind `start`: `Err` names the kind of address refused. Any hop may go to a public
/// address; an internal one is allowed only if the fetch started on that same kind, so a
/// loopback test site may redirect on loopback, but a public page may not lead to loopback, and
/// a loopback page may not lead into the private network either. A host with several addresses
/// is judged by the worst of them, since the connection may use any.
pub fn redirect_allowed(start: AddrClass, target: &[IpAddr]) -> Result<(), AddrClass> {
    match target
        .iter()
        .map(|ip| classify(*ip))
        .find(|c| *c != AddrClass::Public && *c != start)
    {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

/// The addresses `url`'s host stands for: the literal address, or what the resolver answers.
/// An empty list means the name did not resolve (the request itself will then fail with the
/// resolver's reason).
pub async fn addresses(url: &Url) -> Vec<IpAddr> {
    let port = url.port_or_known_default().unwrap_or(80);
    match url.host() {
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified_in_both_families() {
        for (addr, class) in [
            ("127.0.0.1", AddrClass::Loopback),
            ("127.0.0.2", AddrClass::Loopback),
            ("0.0.0.0", AddrClass::Loopback),
            ("::1", AddrClass::Loopback),
            ("::", AddrClass::Loopback),
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("169.254.169.254", AddrClass::LinkLocal),
            ("fe80::1", AddrClass::LinkLocal),
            ("febf::1", AddrClass::LinkLocal),
            ("10.1.2.3", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Private),
            ("fc00::1", AddrClass::Private),
            ("fd12:3456::1", AddrClass::Private),
            ("::ffff:192.168.0.1", AddrClass::Private),
            ("8.8.8.8", AddrClass::Public),
            ("172.32.0.1", AddrClass::Public),
            ("100.128.0.1", AddrClass::Public),
            ("2001:4860:4860::8888", AddrClass::Public),
            ("fec0::1", AddrClass::Public),
        ] {
            assert_eq!(classify(ip(addr)), class, "{addr}");
        }
    }

    #[test]
    fn a_public_start_may_not_redirect_inward() {
        use AddrClass::*;
        assert_eq!(redirect_allowed(Public, &[ip("203.0.113.7")]), Ok(()));
        assert_eq!(redirect_allowed(Public, &[ip("127.0.0.1")]), Err(Loopback));
        assert_eq!(redirect_allowed(Public, &[ip("::1")]), Err(Loopback));
        assert_eq!(redirect_allowed(Public, &[ip("169.254.169.254")]), Err(LinkLocal));
        assert_eq!(redirect_allowed(Public, &[ip("fe80::1")]), Err(LinkLocal));
        assert_eq!(redirect_allowed(Public, &[ip("10.0.0.5")]), Err(Private));
        assert_eq!(redirect_allowed(Public, &[ip("fd00::5")]), Err(Private));
        // A name that resolves to a public and an internal address is refused.
        assert_eq!(
            redirect_allowed(Public, &[ip("203.0.113.7"), ip("192.168.0.10")]),
            Err(Private)
        );
    }

    #[test]
    fn an_internal_start_may_redirect_within_its_kind_and_out() {
        use AddrClass::*;
        assert_eq!(redirect_allowed(Loopback, &[ip("127.0.0.2")]), Ok(()));
        assert_eq!(redirect_allowed(Loopback, &[ip("::1")]), Ok(()));
        assert_eq!(redirect_allowed(Loopback, &[ip("203.0.113.7")]), Ok(()));
        assert_eq!(redirect_allowed(Private, &[ip("10.9.9.9")]), Ok(()));
        assert_eq!(redirect_allowed(Loopback, &[ip("10.0.0.5")]), Err(Private));
        assert_eq!(redirect_allowed(Private, &[ip("127.0.0.1")]), Err(Loopback));
    }

    #[tokio::test]
    async fn resolved_names_are_judged_by_their_addresses() {
        let local = Url::parse("http://localhost:8080/x").unwrap();
        let addrs = addresses(&local).await;
        assert!(!addrs.is_empty(), "localhost resolves");
        assert_eq!(
            redirect_allowed(AddrClass::Public, &addrs),
            Err(AddrClass::Loopback)
        );
        let literal = Url::parse("http://[fe80::1]/x").unwrap();
        assert_eq!(addresses(&literal).await, vec![ip("fe80::1")]);
    }
}
