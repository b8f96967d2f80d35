//! Connecting to the API server: kubeconfig (KUBECONFIG, contexts, exec credential plugins) or
//! in-cluster config, a client without kube's built-in retries (kockpit owns its retry policy), the
//! read-only guard as the outermost tower layer, discovery, and the few raw request shapes kockpit uses.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::de::DeserializeOwned;
use tower::{BoxError, Layer, Service};

use super::lean::ListMeta;
use super::split::ItemSplitter;

/// Why a Kubernetes request failed, worded for a panel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeError {
    #[error("kubeconfig: {0}")]
    Config(String),
    /// Refused by kockpit itself, before anything was sent.
    #[error("refused: read-only (kockpit sends no {method} {path})")]
    ReadOnly { method: String, path: String },
    #[error("{}", api_text(*code, reason, message))]
    Api { code: u16, reason: String, message: String },
    #[error("{0}")]
    Transport(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("unexpected response: {0}")]
    Decode(String),
}

fn api_text(code: u16, reason: &str, message: &str) -> String {
    let msg = if message.is_empty() { reason } else { message };
    format!("HTTP {code}: {msg}")
}

impl KubeError {
    pub fn code(&self) -> Option<u16> {
        if let KubeError::Api { code, .. } = self { Some(*code) } else { None }
    }
    /// Worth retrying: the server or the network, not the request.
    pub fn is_transient(&self) -> bool {
        match self {
            KubeError::Transport(_) | KubeError::Timeout(_) => true,
            KubeError::Api { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

impl From<super::split::SplitError> for KubeError {
    fn from(e: super::split::SplitError) -> Self {
        KubeError::Decode(e.0)
    }
}

impl From<kube::Error> for KubeError {
    fn from(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) => KubeError::Api { code: s.code, reason: s.reason.clone(), message: s.message.clone() },
            kube::Error::Service(inner) => match inner.downcast::<ReadOnlyRefused>() {
                Ok(r) => KubeError::ReadOnly { method: r.method, path: r.path },
                Err(other) => KubeError::Transport(chain_text(&*other)),
            },
            kube::Error::HyperError(h) => KubeError::Transport(chain_text(&h)),
            kube::Error::SerdeError(s) => KubeError::Decode(s.to_string()),
            kube::Error::ReadEvents(io) => KubeError::Transport(chain_text(&io)),
            other => KubeError::Transport(chain_text(&other)),
        }
    }
}

/// "client error (Connect): tcp connect error: Connection refused (os error 111)" -> the innermost
/// cause, which is what an operator needs ("Connection refused (os error 111)"), with the outer one
/// when it adds something.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msgs = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        msgs.push(s.to_string());
        cur = s.source();
    }
    let inner = msgs.last().cloned().unwrap_or_default();
    if msgs.len() > 1 && inner.len() < 12 { format!("{}: {inner}", msgs[msgs.len() - 2]) } else { inner }
}

// ------------------------------------------------------------------------------ read-only guard

/// The request kockpit's read-only guard refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("read-only: {method} {path} refused before sending")]
pub struct ReadOnlyRefused {
    pub method: String,
    pub path: String,
}

/// Whether a read-only client may send this request: GET (get, list, watch) only, and never a GET that
/// is really an action: exec/attach/port-forward (websocket upgrades over GET) and the proxy subresources.
pub fn read_only_allows(method: &Method, path: &str, upgrade: bool) -> bool {
    if *method != Method::GET || upgrade {
        return false;
    }
    let p = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = p.split('/').collect();
    !segments.iter().any(|s| matches!(*s, "exec" | "attach" | "portforward" | "proxy"))
}

/// A tower layer that refuses every request a read-only client may not send. It sits outside kube's
/// whole stack (auth, TLS, connection pool): a refused request never reaches the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOnlyLayer;

impl<S> Layer<S> for ReadOnlyLayer {
    type Service = ReadOnlyService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ReadOnlyService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct ReadOnlyService<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for ReadOnlyService<S>
where
    S: Service<Request<B>, Response = R>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = R;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let upgrade = req.headers().contains_key(http::header::UPGRADE);
        let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
        if !read_only_allows(req.method(), &path, upgrade) {
            let refused = ReadOnlyRefused { method: req.method().to_string(), path };
            tracing::warn!("kube: {refused}");
            return Box::pin(std::future::ready(Err(Box::new(refused) as BoxError)));
        }
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

// ----------------------------------------------------------------------------------- the client

/// Where the client configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// A kubeconfig file; None = KUBECONFIG (several files merged), then ~/.kube/config, then in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// A context of that kubeconfig; None = its current context.
    pub context: Option<String>,
    /// Refuse every verb but get, list and watch, below the API layer.
    pub readonly: bool,
}

/// What the API server serves, found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    pub server_version: String,
    /// "policy/v1" where served (1.21+), else "policy/v1beta1".
    pub policy: &'static str,
    /// metrics.k8s.io/v1beta1 is served (metrics-server): used CPU and memory.
    pub metrics: bool,
    /// ceph.rook.io/v1 is served (Rook's CRDs are installed).
    pub rook: bool,
}

/// A connected Kubernetes client.
#[derive(Clone)]
pub struct Kube {
    pub(crate) client: kube::Client,
    pub readonly: bool,
    /// The kubeconfig context, or "in-cluster".
    pub context: String,
    pub server: String,
    pub request_timeout: Duration,
    /// The User-Agent of every request ([`user_agent`]).
    pub(crate) agent: http::HeaderValue,
    pub(crate) session: Option<std::sync::Arc<str>>,
}

/// The User-Agent kockpit sends: its version, the session (the `session` of its audit log records)
/// and, for the requests of an operation, the operation id, e.g. `kockpit/0.1.0 (session
/// 20261202T122400-4242; op 7)`: the apiserver's audit log records it as `userAgent`, which joins
/// its events to kockpit's. Characters a header cannot carry become `?`.
pub fn user_agent(session: Option<&str>, op: Option<u64>) -> http::HeaderValue {
    let mut s = format!("kockpit/{}", env!("CARGO_PKG_VERSION"));
    let mut parts = Vec::new();
    if let Some(sess) = session {
        parts.push(format!("session {sess}"));
    }
    if let Some(op) = op {
        parts.push(format!("op {op}"));
    }
    if !parts.is_empty() {
        s += &format!(" ({})", parts.join("; "));
    }
    let clean: String = s.chars().take(256).map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect();
    http::HeaderValue::from_str(&clean).unwrap_or_else(|_| http::HeaderValue::from_static("kockpit"))
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube").field("context", &self.context).field("server", &self.server).field("readonly", &self.readonly).finish()
    }
}

/// A kubeconfig error as a person reads it: a path kube quotes twice (`'"/x.crt"'`) quoted once, and
/// a YAML error's source excerpt (`--> <input>:1:1` and the lines under it) left out.
pub fn plain(e: &str) -> String {
    let first = e.split("\n --> ").next().unwrap_or(e);
    first.lines().next().unwrap_or("").replace("'\"", "'").replace("\"'", "'")
}

impl Kube {
    /// Load the configuration and build the client. Nothing is sent yet.
    pub async fn connect(access: &Access) -> Result<Kube, KubeError> {
        // bounded before kube reads anything (a FIFO blocks, /dev/zero fills memory)
        super::kubeconfig::check_files(access.kubeconfig.as_deref()).map_err(KubeError::Config)?;
        let opts = KubeConfigOptions { context: access.context.clone(), ..Default::default() };
        // KUBECONFIG's files merged here, so that a listed file that does not exist is skipped (as
        // kubectl skips it) instead of failing every request
        let merged = match &access.kubeconfig {
            Some(_) => None,
            None => super::kubeconfig::merged_env().transpose().map_err(KubeError::Config)?,
        };
        let (mut config, context) = match (&access.kubeconfig, merged) {
            (None, Some(kc)) => {
                let ctx = access.context.clone().or_else(|| kc.current_context.clone()).unwrap_or_default();
                let c = kube::Config::from_custom_kubeconfig(kc, &opts).await.map_err(|e| KubeError::Config(plain(&e.to_string())))?;
                (c, ctx)
            }
            (Some(path), _) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| KubeError::Config(format!("{}: {e}", path.display())))?;
                let ctx = access.context.clone().or_else(|| kc.current_context.clone()).unwrap_or_default();
                let c = kube::Config::from_custom_kubeconfig(kc, &opts).await.map_err(|e| KubeError::Config(plain(&e.to_string())))?;
                (c, ctx)
            }
            (None, None) => match kube::Config::from_kubeconfig(&opts).await {
                Ok(c) => {
                    let ctx = access
                        .context
                        .clone()
                        .or_else(|| Kubeconfig::read().ok().and_then(|k| k.current_context))
                        .unwrap_or_else(|| "default".into());
                    (c, ctx)
                }
                Err(kc_err) => match kube::Config::incluster() {
                    Ok(c) => (c, "in-cluster".to_string()),
                    Err(_) => return Err(KubeError::Config(plain(&kc_err.to_string()))),
                },
            },
        };
        // kube's default retry (429/503/504, 15 times) would hang a PDB-blocked eviction for minutes
        config.default_retry = false;
        config.connect_timeout = Some(Duration::from_secs(5));
        let server = config.cluster_url.to_string();
        let builder = ClientBuilder::try_from(config).map_err(|e| KubeError::Config(plain(&e.to_string())))?;
        let client = if access.readonly { builder.with_layer(&ReadOnlyLayer).build() } else { builder.build() };
        Ok(Kube {
            client,
            readonly: access.readonly,
            context,
            server,
            request_timeout: Duration::from_secs(10),
            agent: user_agent(None, None),
            session: None,
        })
    }

    /// This client, saying `session` in its User-Agent.
    pub fn with_session(mut self, session: &str) -> Kube {
        self.session = Some(session.into());
        self.agent = user_agent(Some(session), None);
        self
    }

    /// This client for the requests of operation `op` (its id in the User-Agent).
    pub fn for_op(&self, op: u64) -> Kube {
        Kube { agent: user_agent(self.session.as_deref(), Some(op)), ..self.clone() }
    }

    /// The User-Agent this client sends.
    pub fn user_agent(&self) -> &str {
        self.agent.to_str().unwrap_or("")
    }

    fn stamp<B>(&self, mut req: Request<B>) -> Request<B> {
        req.headers_mut().insert(http::header::USER_AGENT, self.agent.clone());
        req
    }

    async fn send(&self, req: Request<Vec<u8>>) -> Result<Response<Body>, KubeError> {
        let res = self.client.send(self.stamp(req).map(Body::from)).await?;
        if res.status().is_success() {
            return Ok(res);
        }
        let code = res.status().as_u16();
        let body = tokio::time::timeout(self.request_timeout, res.into_body().collect())
            .await
            .map_err(|_| KubeError::Timeout(self.request_timeout))?
            .map_err(|e| KubeError::Transport(e.to_string()))?
            .to_bytes();
        Err(status_error(code, &body))
    }

    /// GET a streamed body (pod logs): the answer's head within the request timeout, then the body as
    /// it arrives, with no limit (a followed log may be quiet for hours). Non-2xx answers are errors.
    pub async fn get_stream(&self, path: &str) -> Result<Body, KubeError> {
        let req = Request::get(path).body(Vec::new()).map_err(|e| KubeError::Decode(e.to_string()))?;
        let res =
            tokio::time::timeout(self.request_timeout, self.send(req)).await.map_err(|_| KubeError::Timeout(self.request_timeout))??;
        Ok(res.into_body())
    }

    /// GET and decode, within the request timeout.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, KubeError> {
        self.get_json_within(path, self.request_timeout).await
    }

    /// GET and decode, within `limit` (lists on a big cluster).
    pub async fn get_json_within<T: DeserializeOwned>(&self, path: &str, limit: Duration) -> Result<T, KubeError> {
        let (code, body) = self.exchange(Method::GET, path, None, None, limit).await?;
        if !(200..300).contains(&code) {
            return Err(status_error(code, &body));
        }
        serde_json::from_slice(&body).map_err(|e| KubeError::Decode(format!("{path}: {e}")))
    }

    /// Any request with an optional JSON body; returns the status code and the body. Non-2xx answers
    /// are errors.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), KubeError> {
        let (code, body) = self.request_raw(method, path, content_type, body).await?;
        if (200..300).contains(&code) { Ok((code, body)) } else { Err(status_error(code, &body)) }
    }

    /// Like [`Kube::request`], but every HTTP answer is Ok with its status code and body (for callers
    /// that read the server's `Status`, e.g. an eviction's 429).
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), KubeError> {
        self.exchange(method, path, content_type, body, self.request_timeout).await
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
        t: Duration,
    ) -> Result<(u16, Bytes), KubeError> {
        let mut b = Request::builder().method(method).uri(path).header(http::header::ACCEPT, "application/json");
        if let Some(ct) = content_type {
            b = b.header(http::header::CONTENT_TYPE, ct);
        }
        let req = b.body(body.unwrap_or_default()).map_err(|e| KubeError::Decode(e.to_string()))?;
        tokio::time::timeout(t, async {
            let res = self.client.send(self.stamp(req).map(Body::from)).await?;
            let code = res.status().as_u16();
            let body = res.into_body().collect().await.map_err(|e| KubeError::Transport(e.to_string()))?.to_bytes();
            Ok((code, body))
        })
        .await
        .map_err(|_| KubeError::Timeout(t))?
    }

    /// LIST, decoding the items one by one as the body streams in (see [`ItemSplitter`]). `path` carries
    /// the query. Each item goes to `on_item` (which decides what to keep); returns the list metadata.
    pub async fn list_streamed<T: DeserializeOwned>(
        &self,
        path: &str,
        on_item: impl FnMut(T),
        idle: Duration,
    ) -> Result<ListMeta, KubeError> {
        self.list_streamed_as(path, None, on_item, idle).await
    }

    /// [`Self::list_streamed`], asking for the protobuf encoding where `from_pb` decodes one item of it
    /// (the API server answers JSON for what it cannot encode so, and the body is read as it says).
    pub async fn list_streamed_as<T: DeserializeOwned>(
        &self,
        path: &str,
        from_pb: Option<super::pb::FromPb<T>>,
        mut on_item: impl FnMut(T),
        idle: Duration,
    ) -> Result<ListMeta, KubeError> {
        let accept = if from_pb.is_some() { "application/vnd.kubernetes.protobuf, application/json" } else { "application/json" };
        let req = Request::get(path).header(http::header::ACCEPT, accept).body(Vec::new()).map_err(|e| KubeError::Decode(e.to_string()))?;
        let res =
            tokio::time::timeout(self.request_timeout, self.send(req)).await.map_err(|_| KubeError::Timeout(self.request_timeout))??;
        let is_pb = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with(super::pb::MEDIA_TYPE));
        let from_pb = from_pb.filter(|_| is_pb);
        let mut body = res.into_body();
        let (mut json, mut pb) = (ItemSplitter::new(), super::pb::PbSplitter::new());
        let mut bad: Option<String> = None;
        let mut item = |raw: &[u8]| -> Result<(), KubeError> {
            let decoded = match from_pb {
                Some(decode) => decode(raw).map_err(|e| e.to_string()),
                None => serde_json::from_slice::<T>(raw).map_err(|e| e.to_string()),
            };
            match decoded {
                Ok(item) => on_item(item),
                // one odd object must not blank a panel: skip it, say so once
                Err(e) => {
                    if bad.is_none() {
                        bad = Some(e);
                    }
                }
            }
            Ok(())
        };
        loop {
            let frame = tokio::time::timeout(idle, body.frame()).await.map_err(|_| KubeError::Timeout(idle))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| KubeError::Transport(format!("reading {path}: {e}")))?;
            if let Ok(data) = frame.into_data() {
                let fed = if from_pb.is_some() { pb.feed(&data, &mut item) } else { json.feed(&data, &mut item) };
                fed.map_err(|e| KubeError::Decode(e.to_string()))?;
            }
        }
        if let Some(e) = bad {
            tracing::warn!("kube: {path}: skipped undecodable item(s): {e}");
        }
        let meta = if from_pb.is_some() { pb.finish().map(|m| ListMeta { protobuf: true, ..m }) } else { json.finish() };
        meta.map_err(|e| KubeError::Decode(e.to_string()))
    }

    /// WATCH from `resource_version`; the stream ends when the server closes it.
    pub async fn watch<T: Clone + DeserializeOwned + 'static>(
        &self,
        path: &str,
    ) -> Result<impl Stream<Item = Result<kube::api::WatchEvent<T>, KubeError>> + use<T>, KubeError> {
        let req = Request::get(path)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| KubeError::Decode(e.to_string()))?;
        let fut = self.client.request_events::<T>(self.stamp(req));
        let s = tokio::time::timeout(self.request_timeout, fut).await.map_err(|_| KubeError::Timeout(self.request_timeout))??;
        Ok(s.map(|r| r.map_err(KubeError::from)))
    }

    /// What the server serves. Unreachable groups count as not served; an unreachable server is an error.
    pub async fn discover(&self) -> Result<Caps, KubeError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Version {
            #[serde(default)]
            git_version: String,
        }
        let v: Version = self.get_json("/version").await?;
        let g: ApiGroups = self.get_json("/apis").await?;
        Ok(Caps::decide(v.git_version, &g))
    }
}

/// The API groups a server serves: the body of `GET /apis` (an `APIGroupList`), only what discovery reads.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ApiGroups {
    #[serde(default)]
    pub groups: Vec<ApiGroup>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ApiGroup {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub versions: Vec<ApiGroupVersion>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroupVersion {
    #[serde(default)]
    pub group_version: String,
}

impl ApiGroups {
    /// Whether `group_version` ("policy/v1") is among the served versions.
    pub fn serves(&self, group_version: &str) -> bool {
        self.groups.iter().any(|g| g.versions.iter().any(|v| v.group_version == group_version))
    }
}

impl Caps {
    /// The decision discovery makes from what the server lists: `policy/v1` where served (1.21+; the only
    /// one from 1.25), else `policy/v1beta1`; metrics.k8s.io/v1beta1 (metrics-server's APIService, listed
    /// while it is registered, available or not); Rook's ceph.rook.io/v1.
    pub fn decide(server_version: String, groups: &ApiGroups) -> Caps {
        let policy = if groups.serves("policy/v1") { "policy/v1" } else { "policy/v1beta1" };
        Caps { server_version, policy, metrics: groups.serves("metrics.k8s.io/v1beta1"), rook: groups.serves("ceph.rook.io/v1") }
    }
}

/// A non-2xx response as an error: the server's `Status` message when there is one.
pub(crate) fn status_error(code: u16, body: &[u8]) -> KubeError {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(default)]
        reason: String,
        #[serde(default)]
        message: String,
    }
    if let Some((reason, message)) = super::pb::status(body) {
        return KubeError::Api { code, reason, message };
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(s) => KubeError::Api { code, reason: s.reason, message: s.message },
        Err(_) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string();
            KubeError::Api { code, reason: String::new(), message: text }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_errors_read_plainly() {
        let kube = "Failed to infer provided configuration: failed to read file '\"/x.crt\"': No such file or directory (os error 2)";
        assert_eq!(
            plain(kube),
            "Failed to infer provided configuration: failed to read file '/x.crt': No such file or directory (os error 2)"
        );
        let yaml = "failed to parse kubeconfig YAML: error: line 1 column 1: expected mapping start\n --> <input>:1:1\n  |\n1 | vm\n  | ^ expected";
        assert_eq!(plain(yaml), "failed to parse kubeconfig YAML: error: line 1 column 1: expected mapping start");
    }

    #[test]
    fn read_only_verbs() {
        let ok = |m: Method, p: &str| read_only_allows(&m, p, false);
        assert!(ok(Method::GET, "/api/v1/pods?watch=true&resourceVersion=5"));
        assert!(ok(Method::GET, "/api/v1/namespaces/a/pods/b/log"));
        assert!(!ok(Method::POST, "/api/v1/namespaces/a/pods/b/eviction"));
        assert!(!ok(Method::PATCH, "/api/v1/nodes/n1"));
        assert!(!ok(Method::PUT, "/api/v1/nodes/n1"));
        assert!(!ok(Method::DELETE, "/api/v1/namespaces/a/pods/b"));
        assert!(!ok(Method::HEAD, "/api/v1/nodes"));
        assert!(!ok(Method::GET, "/api/v1/namespaces/a/pods/b/exec?command=sh"));
        assert!(!ok(Method::GET, "/api/v1/namespaces/a/pods/b/attach"));
        assert!(!ok(Method::GET, "/api/v1/namespaces/a/pods/b/portforward"));
        assert!(!ok(Method::GET, "/api/v1/nodes/n1/proxy/configz"));
        assert!(!read_only_allows(&Method::GET, "/api/v1/namespaces/a/pods/b/log", true), "upgrades are refused");
    }

    #[tokio::test]
    async fn refused_requests_never_reach_the_inner_service() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let c2 = calls.clone();
        let inner = tower::service_fn(move |_req: Request<Body>| {
            c2.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, BoxError>(Response::new(Body::from(b"{}".to_vec()))) }
        });
        let client = kube::Client::new(ReadOnlyLayer.layer(inner), "default");
        let kube = Kube {
            client,
            readonly: true,
            context: "t".into(),
            server: "mock".into(),
            request_timeout: Duration::from_secs(1),
            agent: user_agent(None, None),
            session: None,
        };
        let err = kube.request(Method::PATCH, "/api/v1/nodes/n1", Some("application/merge-patch+json"), Some(b"{}".to_vec())).await;
        assert!(matches!(err, Err(KubeError::ReadOnly { ref method, .. }) if method == "PATCH"), "{err:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let ok: Result<serde_json::Value, _> = kube.get_json("/api/v1/nodes").await;
        assert!(ok.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// `GET /apis` of the lab's v1.20.2 apiserver (tests/lab/k8s), as captured.
    const APIS_1_20: &str = include_str!("../../tests/fixtures/kube/apis-1.20-lab.json");
    /// A 1.27 cluster with Rook and metrics-server: policy/v1 only (1.25 dropped policy/v1beta1).
    const APIS_1_27: &str = include_str!("../../tests/fixtures/kube/apis-1.27-rook-metrics.json");

    fn groups(json: &str) -> ApiGroups {
        serde_json::from_str(json).expect("an APIGroupList")
    }

    #[test]
    fn discovery_on_a_1_20_server_uses_policy_v1beta1_and_requests_only() {
        let g = groups(APIS_1_20);
        assert!(g.groups.len() > 15, "a whole group list: {}", g.groups.len());
        assert!(g.serves("policy/v1beta1") && !g.serves("policy/v1"));
        let caps = Caps::decide("v1.20.2".into(), &g);
        assert_eq!(caps, Caps { server_version: "v1.20.2".into(), policy: "policy/v1beta1", metrics: false, rook: false });
    }

    #[test]
    fn discovery_on_a_1_27_server_uses_policy_v1_metrics_and_rook() {
        let g = groups(APIS_1_27);
        assert!(!g.serves("policy/v1beta1"));
        let caps = Caps::decide("v1.27.4".into(), &g);
        assert_eq!(caps, Caps { server_version: "v1.27.4".into(), policy: "policy/v1", metrics: true, rook: true });
    }

    #[test]
    fn discovery_follows_each_group_on_its_own() {
        let mut v: serde_json::Value = serde_json::from_str(APIS_1_20).unwrap();
        let list = v["groups"].as_array_mut().unwrap();
        // 1.21-1.24 serve both policy versions: v1 wins
        let policy = list.iter_mut().find(|g| g["name"] == "policy").unwrap();
        policy["versions"].as_array_mut().unwrap().insert(0, serde_json::json!({"groupVersion": "policy/v1", "version": "v1"}));
        // metrics-server registered; Rook's CRDs installed
        list.push(
            serde_json::json!({"name": "metrics.k8s.io", "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}]}),
        );
        list.push(serde_json::json!({"name": "ceph.rook.io", "versions": [{"groupVersion": "ceph.rook.io/v1", "version": "v1"}]}));
        let g: ApiGroups = serde_json::from_value(v.clone()).unwrap();
        let caps = Caps::decide(String::new(), &g);
        assert_eq!((caps.policy, caps.metrics, caps.rook), ("policy/v1", true, true));
        // a group of the same name in another version is not the one kockpit reads
        let mut v2 = v;
        for g in v2["groups"].as_array_mut().unwrap() {
            if g["name"] == "metrics.k8s.io" {
                g["versions"] = serde_json::json!([{"groupVersion": "metrics.k8s.io/v1alpha1", "version": "v1alpha1"}]);
            }
        }
        let caps = Caps::decide(String::new(), &serde_json::from_value(v2).unwrap());
        assert!(!caps.metrics && caps.rook);
        // a list without groups (an odd proxy): the conservative choices
        let caps = Caps::decide(String::new(), &groups(r#"{"kind":"APIGroupList"}"#));
        assert_eq!((caps.policy, caps.metrics, caps.rook), ("policy/v1beta1", false, false));
    }

    #[test]
    fn status_bodies() {
        let e = status_error(429, br#"{"kind":"Status","reason":"TooManyRequests","message":"Cannot evict pod as it would violate the pod's disruption budget."}"#);
        assert_eq!(e.code(), Some(429));
        assert!(e.is_transient());
        assert!(e.to_string().contains("disruption budget"));
        assert_eq!(status_error(502, b"bad gateway").to_string(), "HTTP 502: bad gateway");
    }
}
