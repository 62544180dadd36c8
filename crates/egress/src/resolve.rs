//! Name resolution Warden does itself, so the address it checks is the address it connects to
//! (no DNS rebinding between check and connect): the system resolver (`/etc/hosts`, then the
//! configured servers), or one DNS server the configuration names.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

/// Where names are resolved.
#[derive(Clone)]
pub enum Resolver {
    /// The operating system's resolver.
    System,
    /// One DNS server (UDP, falling back to TCP).
    Server(Box<TokioResolver>),
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::System => f.write_str("System"),
            Self::Server(_) => f.write_str("Server"),
        }
    }
}

impl Resolver {
    /// A resolver asking only the DNS server at `addr`.
    pub fn server(addr: SocketAddr) -> Result<Self, String> {
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let config = ResolverConfig::from_parts(
            None,
            Vec::new(),
            vec![NameServerConfig::new(addr.ip(), true, vec![udp, tcp])],
        );
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().cache_size = 0;
        builder
            .build()
            .map(|r| Self::Server(Box::new(r)))
            .map_err(|e| e.to_string())
    }

    /// Every address `host` resolves to (an IP literal resolves to itself).
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let addrs: Vec<IpAddr> = match self {
            Self::System => tokio::net::lookup_host((host, 0))
                .await
                .map_err(|e| e.to_string())?
                .map(|a| a.ip())
                .collect(),
            Self::Server(r) => r
                .lookup_ip(host)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .collect(),
        };
        if addrs.is_empty() {
            return Err("no addresses".to_owned());
        }
        Ok(addrs)
    }
}
