//! The egress allow-list: which host names, addresses and ports a profile may reach, and the
//! addresses nobody reaches unless an entry names them (loopback, private, link-local, cloud
//! metadata, ...). Pure: the proxy and the tool-argument check ask the same questions.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// Ports an entry without one allows.
pub const WEB_PORTS: &[u16] = &[80, 443];

/// One allow-list entry: `example.com`, `*.example.com`, `10.0.0.0/8`, `127.0.0.1`, each with
/// an optional `:port` (or `:*` for any; web ports when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    host: Host,
    ports: Ports,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A DNS name, lower-case, without a trailing dot.
    Name(String),
    /// `*.suffix`: any name below `suffix` (not `suffix` itself).
    Below(String),
    /// Addresses (an IP is a one-address network).
    Net(IpNet),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ports {
    Web,
    Any,
    One(u16),
}

/// Why an entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("egress entry `{entry}`: {why}")]
pub struct EntryError {
    entry: String,
    why: &'static str,
}

impl FromStr for Entry {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| EntryError {
            entry: s.to_owned(),
            why,
        };
        let (host, ports) = split_port(s).ok_or_else(|| err("bad port"))?;
        let ports = match ports {
            None => Ports::Web,
            Some("*") => Ports::Any,
            Some(p) => Ports::One(p.parse().map_err(|_| err("bad port"))?),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(err("empty host"));
        }
        let host = if let Ok(net) = host.parse::<IpNet>() {
            Host::Net(net)
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            Host::Net(IpNet::from(ip))
        } else if let Some(suffix) = host.strip_prefix("*.") {
            Host::Below(normalize(suffix).ok_or_else(|| err("not a host name"))?)
        } else {
            Host::Name(normalize(host).ok_or_else(|| err("not a host name"))?)
        };
        Ok(Self { host, ports })
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracket = matches!(&self.host, Host::Net(IpNet::V6(_))) && self.ports != Ports::Web;
        match &self.host {
            Host::Name(n) => write!(f, "{n}")?,
            Host::Below(n) => write!(f, "*.{n}")?,
            Host::Net(n) if n.prefix_len() == n.max_prefix_len() && bracket => {
                write!(f, "[{}]", n.addr())?;
            }
            Host::Net(n) if n.prefix_len() == n.max_prefix_len() => write!(f, "{}", n.addr())?,
            Host::Net(n) if bracket => write!(f, "[{n}]")?,
            Host::Net(n) => write!(f, "{n}")?,
        }
        match self.ports {
            Ports::Web => Ok(()),
            Ports::Any => write!(f, ":*"),
            Ports::One(p) => write!(f, ":{p}"),
        }
    }
}

/// `host[:port]`, with `[v6]:port` and bare IPv6 (no port) understood.
fn split_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    if s.matches(':').count() > 1 {
        // A bare IPv6 address or network.
        return Some((s, None));
    }
    Some(match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    })
}

/// A host name as compared: IDNA (punycode) ASCII, lower case, no trailing dot. `None` when it
/// is not a valid name.
pub fn normalize(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let ascii = url::Host::parse(host).ok()?;
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match ascii {
        url::Host::Domain(d) if d.split('.').all(label_ok) => Some(d),
        _ => None,
    }
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No entry names the host and port.
    NotAllowed { host: String, port: u16 },
    /// The name resolved to an address only an explicit entry may reach.
    Blocked {
        host: String,
        addr: IpAddr,
        class: &'static str,
    },
    /// The name did not resolve.
    Unresolved { host: String, why: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAllowed { host, port } => {
                write!(f, "`{host}:{port}` is not on the egress allow-list")
            }
            Self::Blocked { host, addr, class } => write!(
                f,
                "`{host}` resolves to {addr}, a {class} address, which only an entry naming it may reach"
            ),
            Self::Unresolved { host, why } => write!(f, "`{host}` does not resolve: {why}"),
        }
    }
}

/// A profile's allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    entries: Vec<Entry>,
}

/// The class of an address nobody reaches unless an entry names it, if it is one.
pub fn special(addr: IpAddr) -> Option<&'static str> {
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    const TABLE: &[(&str, &str)] = &[
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("169.254.0.0/16", "link-local (cloud metadata)"),
        ("192.0.0.0/24", "IETF protocol"),
        ("198.18.0.0/15", "benchmarking"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fd00:ec2::254/128", "cloud metadata"),
        ("ff00::/8", "multicast"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "NAT64"),
        ("::/96", "IPv4-compatible"),
        ("2002::/16", "6to4"),
    ];
    TABLE.iter().find_map(|(net, class)| {
        net.parse::<IpNet>()
            .ok()
            .filter(|n| n.contains(&addr))
            .map(|_| *class)
    })
}

impl Rules {
    /// Parses every entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, EntryError> {
        Ok(Self {
            entries: entries
                .iter()
                .map(|e| e.as_ref().parse())
                .collect::<Result<_, _>>()?,
        })
    }

    /// The entries, as written back.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn port_ok(ports: &Ports, port: u16) -> bool {
        match ports {
            Ports::Web => WEB_PORTS.contains(&port),
            Ports::Any => true,
            Ports::One(p) => *p == port,
        }
    }

    /// First question, before any DNS: may `host:port` be reached at all? `host` is a name or
    /// an IP literal.
    pub fn allows_name(&self, host: &str, port: u16) -> Result<(), Refusal> {
        let refused = || Refusal::NotAllowed {
            host: host.to_owned(),
            port,
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.allows_addr(host, ip, port).map_err(|_| refused());
        }
        let name = normalize(host).ok_or_else(refused)?;
        let named = self.entries.iter().any(|e| {
            Self::port_ok(&e.ports, port)
                && match &e.host {
                    Host::Name(n) => *n == name,
                    Host::Below(s) => {
                        name.len() > s.len() + 1
                            && name.ends_with(s.as_str())
                            && name.as_bytes().get(name.len() - s.len() - 1) == Some(&b'.')
                    }
                    Host::Net(_) => false,
                }
        });
        if named { Ok(()) } else { Err(refused()) }
    }

    /// Second question, after Warden resolved `host`: may this address be connected to? A
    /// special address (loopback, private, metadata...) needs an entry whose network holds it;
    /// any other address is fine for an allowed name.
    pub fn allows_addr(&self, host: &str, addr: IpAddr, port: u16) -> Result<(), Refusal> {
        let unmapped = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        let by_net = self.entries.iter().any(|e| {
            Self::port_ok(&e.ports, port)
                && matches!(&e.host, Host::Net(n) if n.contains(&unmapped))
        });
        if by_net {
            return Ok(());
        }
        let is_literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok();
        match special(addr) {
            Some(class) => Err(Refusal::Blocked {
                host: host.to_owned(),
                addr,
                class,
            }),
            None if is_literal => Err(Refusal::NotAllowed {
                host: host.to_owned(),
                port,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
