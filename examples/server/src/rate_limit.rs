//! Per-client rate limits (the `governor` crate's keyed GCRA limiter),
//! keyed on the real client address: the peer address, or the address a
//! trusted proxy reports in `X-Forwarded-For`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::error::ApiError;
use crate::AppState;

/// One keyed limiter: `per_minute` requests a minute per key, in bursts of
/// at most `per_minute`.
pub struct Limiter<K: std::hash::Hash + Eq + Clone> {
    inner: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    pub fn per_minute(per_minute: u32) -> Limiter<K> {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Limiter {
            inner: RateLimiter::keyed(Quota::per_minute(n)),
            checks: AtomicU64::new(0),
        }
    }

    pub fn check(&self, key: &K) -> Result<(), ApiError> {
        // Forget keys that are back to a full bucket now and then, so memory
        // stays bounded under a flood of addresses.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.inner.retain_recent();
        }
        self.inner.check_key(key).map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests from this client; try again in a minute",
            )
        })
    }
}

/// The limits, one per group of endpoints.
pub struct Limits {
    /// Sign-in (admin and the demo host's) and user-token minting.
    pub auth: Limiter<IpAddr>,
    /// Signups and code lookups (landing, referrer name).
    pub lookups: Limiter<IpAddr>,
    /// Widget event uploads.
    pub events: Limiter<IpAddr>,
    /// The server API, per API key.
    pub api: Limiter<String>,
    /// Browser API calls per user (token subject), whatever the address.
    pub per_user: Limiter<String>,
}

#[derive(Clone, Copy, Debug)]
pub enum Group {
    Auth,
    Lookups,
    Events,
}

/// The real client address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// One `X-Forwarded-For` entry: an address, IPv6 in brackets or not, with
/// or without a port (some load balancers add one).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// The key a client is limited by: its address, or its /64 for IPv6 (one
/// subscriber usually holds a whole /64, so single addresses are free).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// The client address: the peer, unless the peer is a trusted proxy; then
/// the right-most `X-Forwarded-For` entry that is not a trusted proxy.
/// IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        let Some(ip) = forwarded_address(entry) else {
            // An unreadable hop: stop at the last address we can trust.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            // In-process calls (the demo host, tests) have no peer.
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.settings.trusted_proxies,
        )))
    }
}

/// Middleware: one request against `group`'s limit for the client.
pub async fn limit(
    State((state, group)): State<(AppState, Group)>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let ip = match ClientIp::from_request_parts(&mut parts, &state).await {
        Ok(ClientIp(ip)) => ip,
        Err(never) => match never {},
    };
    let limiter = match group {
        Group::Auth => &state.limits.auth,
        Group::Lookups => &state.limits.lookups,
        Group::Events => &state.limits.events,
    };
    if let Err(e) = limiter.check(&limit_key(ip)) {
        tracing::info!(%ip, ?group, "rate limited");
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

pub fn limits(settings: &crate::Settings) -> Arc<Limits> {
    Arc::new(Limits {
        auth: Limiter::per_minute(settings.rate_auth_per_minute),
        lookups: Limiter::per_minute(settings.rate_per_minute),
        events: Limiter::per_minute(settings.rate_events_per_minute),
        api: Limiter::per_minute(settings.rate_api_per_minute),
        per_user: Limiter::per_minute(settings.rate_events_per_minute),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        // Through the proxy: the right-most untrusted hop, not the spoofable left one.
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // A direct client cannot choose its address.
        assert_eq!(client_ip(stranger, &headers, &trusted), stranger);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn mapped_addresses_ports_and_ipv6_networks() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        // A dual-stack listener sees the proxy as ::ffff:127.0.0.1.
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        for (header, client) in [
            ("198.51.100.7", "198.51.100.7"),
            ("198.51.100.7:5123", "198.51.100.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", header.parse().unwrap());
            assert_eq!(
                client_ip(mapped, &headers, &trusted),
                client.parse::<IpAddr>().unwrap(),
                "{header}"
            );
        }
        let a: IpAddr = "2001:db8:0:1::5".parse().unwrap();
        let b: IpAddr = "2001:db8:0:1:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:0:2::5".parse().unwrap();
        assert_eq!(limit_key(a), limit_key(b));
        assert_ne!(limit_key(a), limit_key(c));
        let v4: IpAddr = "203.0.113.4".parse().unwrap();
        assert_eq!(limit_key(v4), v4);
    }
}
