//! The client address: the socket peer, or — only when the peer is a configured trusted proxy —
//! the rightmost forwarded address that is not itself a trusted proxy.
//!
//! Reading from the right means a client cannot spoof its address by prepending entries: every
//! hop to the right of the first untrusted one was added by our own infrastructure. Only the
//! one header the proxy sets (`server.forwarded_header`) is read; the other is ignored even
//! from a trusted proxy, so a client cannot slip a `Forwarded: for=…` past a proxy that only
//! appends to `X-Forwarded-For` (or the reverse).

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

use crate::limits::FORWARDED_HOPS_MAX;

/// The TCP peer of the connection, inserted by the listener on every request.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The resolved client address that handlers, rate limits and logs key on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .ok_or(crate::error::ApiError::INTERNAL)
    }
}

/// The one forwarding header trusted proxies set (`server.forwarded_header`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …`
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`
    Forwarded,
}

/// The networks whose forwarding header we believe (`server.trusted_proxies`) and which
/// header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ForwardedHeader) -> Self {
        TrustedProxies { networks, header }
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }
}

/// A trusted proxy sent a forwarding header we cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedForwarding(pub &'static str);

/// Resolves the client address as described in the module documentation.
pub fn resolve(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Result<IpAddr, MalformedForwarding> {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return Ok(peer);
    }
    let chain = match trusted.header {
        ForwardedHeader::XForwardedFor => x_forwarded_for_chain(headers)?,
        ForwardedHeader::Forwarded => forwarded_chain(headers)?,
    };
    if chain.len() > FORWARDED_HOPS_MAX {
        return Err(MalformedForwarding("too many forwarding hops"));
    }
    let rightmost_untrusted = chain
        .iter()
        .rev()
        .find(|address| !trusted.contains(**address));
    Ok(rightmost_untrusted
        .or(chain.first())
        .copied()
        .unwrap_or(peer))
}

fn header_values<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Vec<&'h str>, MalformedForwarding> {
    headers
        .get_all(name)
        .iter()
        .map(|value| {
            value
                .to_str()
                .map_err(|_| MalformedForwarding("non-ASCII forwarding header"))
        })
        .collect()
}

fn x_forwarded_for_chain(headers: &HeaderMap) -> Result<Vec<IpAddr>, MalformedForwarding> {
    let mut chain = Vec::new();
    for value in header_values(headers, "x-forwarded-for")? {
        for item in value.split(',') {
            if chain.len() >= FORWARDED_HOPS_MAX {
                return Err(MalformedForwarding("too many forwarding hops"));
            }
            chain.push(parse_node(item.trim())?);
        }
    }
    Ok(chain)
}

/// RFC 7239 `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`. Elements
/// without `for` are skipped; obfuscated or `unknown` nodes are refused (we cannot key on them).
fn forwarded_chain(headers: &HeaderMap) -> Result<Vec<IpAddr>, MalformedForwarding> {
    let mut chain = Vec::new();
    for value in header_values(headers, "forwarded")? {
        for element in value.split(',') {
            for pair in element.split(';') {
                let pair = pair.trim();
                if pair.is_empty() {
                    continue;
                }
                let (key, node) = pair
                    .split_once('=')
                    .ok_or(MalformedForwarding("Forwarded pair without `=`"))?;
                if !key.trim().eq_ignore_ascii_case("for") {
                    continue;
                }
                if chain.len() >= FORWARDED_HOPS_MAX {
                    return Err(MalformedForwarding("too many forwarding hops"));
                }
                let node = node.trim();
                let node = match node.strip_prefix('"') {
                    Some(quoted) => quoted
                        .strip_suffix('"')
                        .ok_or(MalformedForwarding("unterminated quoted Forwarded value"))?,
                    None => node,
                };
                chain.push(parse_node(node)?);
            }
        }
    }
    Ok(chain)
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:443`.
fn parse_node(node: &str) -> Result<IpAddr, MalformedForwarding> {
    const MALFORMED: MalformedForwarding = MalformedForwarding("unparseable forwarded address");
    if let Ok(address) = node.parse::<IpAddr>() {
        return Ok(address.to_canonical());
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Ok(socket.ip().to_canonical());
    }
    let bracketed = node
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or(MALFORMED)?;
    bracketed
        .parse::<std::net::Ipv6Addr>()
        .map(|v6| IpAddr::V6(v6).to_canonical())
        .map_err(|_| MALFORMED)
}

#[cfg(test)]
mod tests;
