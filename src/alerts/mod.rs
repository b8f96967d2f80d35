//! Alertmanager (its v2 API, plain HTTP): a cluster's firing alerts, read every few seconds by
//! [`spawn`], and silences created for an operation's targets and expired when it ends.

pub mod parse;
pub mod silence;

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::backend::{BackendEvent, BackendHandle};
use crate::model::{Observation, Payload};

/// How often the alerts are read.
pub const EVERY: Duration = Duration::from_secs(5);
/// At most this much of an answer is read (10,000 alerts are about 10 MB).
const BODY_LIMIT: usize = 16 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where an Alertmanager is: `http://HOST[:PORT][/PREFIX]` taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// The path prefix (`/alertmanager` behind a proxy), without a trailing `/`.
    pub prefix: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: expected http://HOST[:PORT]"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| format!("{url}: unclosed [ in the address"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("{url}: bad port `{p}`"))?,
            None => 80,
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Endpoint { host, port, prefix: path.to_string() })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') { format!("[{}]:{}", self.host, self.port) } else { format!("{}:{}", self.host, self.port) }
    }

    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority(), self.prefix)
    }

    /// One request, bounded in time and size: the status and the body.
    async fn request(&self, method: http::Method, path: &str, body: Option<String>) -> Result<(u16, Bytes), String> {
        let url = format!("{}{path}", self.url());
        let work = async {
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| format!("connect: {e}"))?;
            let _ = tcp.set_nodelay(true);
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp)).await.map_err(|e| format!("http: {e}"))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let mut req = http::Request::builder()
                .method(method)
                .uri(format!("{}{path}", self.prefix))
                .header(http::header::HOST, self.authority())
                .header(http::header::USER_AGENT, concat!("kockpit/", env!("CARGO_PKG_VERSION")))
                .header(http::header::ACCEPT, "application/json");
            if body.is_some() {
                req = req.header(http::header::CONTENT_TYPE, "application/json");
            }
            let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).map_err(|e| e.to_string())?;
            let resp = sender.send_request(req).await.map_err(|e| format!("http: {e}"))?;
            let status = resp.status().as_u16();
            let limited = http_body_util::Limited::new(resp.into_body(), BODY_LIMIT);
            let body = limited.collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes();
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(TIMEOUT, work).await {
            Ok(r) => r.map_err(|e| format!("alertmanager {url}: {e}")),
            Err(_) => Err(format!("alertmanager {url}: no answer in {} s", TIMEOUT.as_secs())),
        }
    }

    /// The alerts matching every matcher (`label="value"`): active, silenced and inhibited ones.
    pub async fn alerts(&self, matchers: &[String]) -> Result<Vec<crate::model::fleet::FiringAlert>, String> {
        let mut path = "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true".to_string();
        for m in matchers {
            path.push_str("&filter=");
            path.push_str(&percent_encode(m));
        }
        let (status, body) = self.request(http::Method::GET, &path, None).await?;
        if status != 200 {
            return Err(format!("alertmanager {}: HTTP {status}: {}", self.url(), parse::clip(&String::from_utf8_lossy(&body), 160)));
        }
        parse::alerts(&body)
    }

    /// Create a silence of `matchers` (`(label, value, is_regex)`) from now to `ends_at`: its id.
    pub async fn silence(
        &self,
        matchers: &[(String, String, bool)],
        ends_at: DateTime<Utc>,
        by: &str,
        comment: &str,
    ) -> Result<String, String> {
        let ms: Vec<_> = matchers.iter().map(|(n, v, re)| json!({"name": n, "value": v, "isRegex": re, "isEqual": true})).collect();
        let body = json!({"matchers": ms, "startsAt": Utc::now(), "endsAt": ends_at, "createdBy": by, "comment": comment});
        let (status, answer) = self.request(http::Method::POST, "/api/v2/silences", Some(body.to_string())).await?;
        if status != 200 {
            return Err(format!("alertmanager {}: HTTP {status}: {}", self.url(), parse::clip(&String::from_utf8_lossy(&answer), 160)));
        }
        parse::silence_id(&answer)
    }

    /// Expire a silence now.
    pub async fn expire(&self, id: &str) -> Result<(), String> {
        let (status, answer) = self.request(http::Method::DELETE, &format!("/api/v2/silence/{}", percent_encode(id)), None).await?;
        if status != 200 {
            return Err(format!("alertmanager {}: HTTP {status}: {}", self.url(), parse::clip(&String::from_utf8_lossy(&answer), 160)));
        }
        Ok(())
    }

    /// Whether a silence is active now (`active`, `pending`, `expired`).
    pub async fn silence_state(&self, id: &str) -> Result<String, String> {
        let (status, answer) = self.request(http::Method::GET, &format!("/api/v2/silence/{}", percent_encode(id)), None).await?;
        if status != 200 {
            return Err(format!("alertmanager {}: HTTP {status}", self.url()));
        }
        parse::silence_state(&answer)
    }
}

/// Everything but unreserved characters as %XX.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A backend that reads the cluster's alerts every [`EVERY`] and reports them (or why not).
pub fn spawn(endpoint: Endpoint, matchers: Vec<String>) -> BackendHandle {
    // it takes no commands; it ends when whoever reads its events goes away
    BackendHandle::spawn(move |events, _commands| async move {
        let source = format!("alertmanager {}", endpoint.url());
        let budget = EVERY.as_millis() as u64 * 3;
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let result = endpoint.alerts(&matchers).await;
            let obs = Observation::now(source.clone(), budget, Payload::Alerts(result));
            if events.send(BackendEvent::Obs(obs)).await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_their_prefixes() {
        let e = Endpoint::parse("http://127.0.0.1:9093").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("127.0.0.1", 9093, ""));
        let e = Endpoint::parse("http://am.example/alertmanager/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("am.example", 80, "/alertmanager"));
        let e = Endpoint::parse("http://[::1]:9093/x").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.url().as_str()), ("::1", 9093, "http://[::1]:9093/x"));
        for bad in ["https://x", "http://", "http://x:99999", "http://[::1:9093"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(percent_encode("cluster=\"bj prod\""), "cluster%3D%22bj%20prod%22");
    }
}
