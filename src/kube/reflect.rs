//! One list+watch loop per resource: list once (streamed, from the API server's watch cache), then
//! watch from that resourceVersion, re-watch when the server ends the stream, relist when the version is
//! too old (410 Gone), and back off on failures. Objects are converted to their compact form right
//! here, so only what the panels need ever reaches the aggregator.

use std::time::Duration;

use futures_util::StreamExt;
use kube::api::WatchEvent;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use super::client::{Kube, KubeError};
use super::lean::Meta;

/// A change to one resource's compact store.
#[derive(Debug)]
pub enum Change<U> {
    /// A fresh, complete list: replaces everything.
    Reset(Vec<(String, U)>),
    Apply(String, U),
    Delete(String),
    /// The source cannot be read right now (the reason, for the panel).
    Failed(String),
    /// The source works again after a failure; the store is consistent (the watch resumed without a gap).
    Healthy,
}

/// Objects with metadata.
pub trait Object: Clone + DeserializeOwned + Send + 'static {
    fn meta(&self) -> &Meta;

    /// A decoder of the protobuf encoding, for the lists worth asking it for (the pods: see
    /// [`super::pb`]); lists of the others, and every watch, are JSON.
    fn from_pb() -> Option<super::pb::FromPb<Self>> {
        None
    }
}

impl Object for super::lean::LeanPod {
    fn meta(&self) -> &Meta {
        &self.metadata
    }

    fn from_pb() -> Option<super::pb::FromPb<Self>> {
        Some(super::pb::pod)
    }
}

macro_rules! object {
    ($($t:ty),*) => {$(
        impl Object for $t {
            fn meta(&self) -> &Meta {
                &self.metadata
            }
        }
    )*};
}
object!(
    super::lean::LeanNode,
    super::lean::LeanLease,
    super::lean::LeanWorkload,
    super::lean::LeanCephCluster,
    super::lean::LeanEvent,
    super::lean::MetaOnly
);

/// Reconnecting watches: 250 ms, 500 ms, 1 s ... capped at `max`, with up to 20 % jitter.
pub fn watch_backoff(max: Duration) -> crate::retry::Backoff {
    crate::retry::Backoff::new(Duration::from_millis(250), 2.0, max).with_jitter(0.2)
}

/// The compact form of an object, or None when it is not kept (e.g. a namespace not shown).
pub type Convert<T, U> = std::sync::Arc<dyn Fn(T) -> Option<(String, U)> + Send + Sync>;

/// What to watch and how to keep it.
pub struct Spec<T, U> {
    /// The collection path, e.g. `/api/v1/pods` or `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases`.
    pub path: String,
    /// Extra query, e.g. `fieldSelector=spec.nodeName%3Dn1` (without a leading `&`).
    pub query: String,
    pub convert: Convert<T, U>,
    pub watch_timeout: Duration,
    /// Told how far a list is while it streams in (objects so far, of how many when the API server
    /// says): for the lists that take seconds on a large cluster.
    pub progress: Option<Progress>,
}

/// See [`Spec::progress`].
pub type Progress = std::sync::Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// How many objects a list will bring: one object asked for, and the API server's
/// `remainingItemCount` beside it (None where it does not say).
async fn count_of<T, U>(kube: &Kube, spec: &Spec<T, U>) -> Option<u64> {
    // a quorum read (etcd), unlike the list from the cache: never let it hold the list up long
    let v: serde_json::Value = kube.get_json_within(&spec.url("limit=1"), Duration::from_secs(2)).await.ok()?;
    let shown = v["items"].as_array().map_or(0, |a| a.len() as u64);
    match v["metadata"]["remainingItemCount"].as_u64() {
        Some(rest) => Some(rest + shown),
        // no continuation: everything there is came back
        None if v["metadata"]["continue"].as_str().unwrap_or("").is_empty() => Some(shown),
        None => None,
    }
}

impl<T, U> Spec<T, U> {
    fn url(&self, extra: &str) -> String {
        let mut q = String::from(extra);
        if !self.query.is_empty() {
            q.push('&');
            q.push_str(&self.query);
        }
        format!("{}?{q}", self.path)
    }
}

/// Run the list+watch loop until the receiver of `tx` is gone. `restart` bumps force a re-watch (the
/// API server looked unreachable: a silent connection must not hold the watch forever).
pub async fn run<T: Object, U: Send + 'static, M: Send + 'static>(
    kube: Kube,
    spec: Spec<T, U>,
    tx: mpsc::Sender<M>,
    wrap: impl Fn(Change<U>) -> M + Send + 'static,
    mut restart: watch::Receiver<u64>,
) {
    let mut rv: Option<String> = None;
    let mut listed_once = false;
    let mut backoff = watch_backoff(Duration::from_secs(8));
    // failures since the last good list or watch; the first one is retried at once before it is reported
    let mut failures = 0u32;
    let mut reported = false;
    let send = |c: Change<U>| {
        let m = wrap(c);
        let tx = tx.clone();
        async move { tx.send(m).await.is_ok() }
    };
    loop {
        if tx.is_closed() {
            return;
        }
        let mut fail: Option<KubeError> = None;
        if rv.is_none() {
            let mut items = Vec::new();
            let convert = spec.convert.clone();
            let progress = spec.progress.clone();
            let total = match &progress {
                // only the first list: a relist comes while the screen already has its picture
                Some(p) if !listed_once => {
                    let total = count_of(&kube, &spec).await;
                    p(0, total);
                    total
                }
                _ => None,
            };
            let progress = progress.filter(|_| !listed_once);
            let (mut n, mut told) = (0u64, std::time::Instant::now());
            let on_item = |t: T| {
                items.extend(convert(t));
                n += 1;
                if let Some(p) = &progress
                    && n % 1000 == 0
                    && told.elapsed() >= Duration::from_millis(250)
                {
                    told = std::time::Instant::now();
                    p(n, total);
                }
            };
            match kube.list_streamed_as::<T>(&spec.url("resourceVersion=0"), T::from_pb(), on_item, Duration::from_secs(30)).await {
                Ok(meta) => {
                    listed_once = true;
                    rv = Some(meta.resource_version);
                    failures = 0;
                    reported = false;
                    backoff.reset();
                    if !send(Change::Reset(items)).await {
                        return;
                    }
                }
                Err(e) => fail = Some(e),
            }
        }
        if fail.is_none()
            && let Some(from) = rv.clone()
        {
            let url = spec.url(&format!(
                "watch=true&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={from}",
                spec.watch_timeout.as_secs()
            ));
            match kube.watch::<T>(&url).await {
                Err(e) if e.code() == Some(410) => {
                    rv = None;
                    continue;
                }
                Err(e) => fail = Some(e),
                Ok(stream) => {
                    if reported && !send(Change::Healthy).await {
                        return;
                    }
                    failures = 0;
                    reported = false;
                    backoff.reset();
                    let idle = spec.watch_timeout + Duration::from_secs(30);
                    let mut stream = std::pin::pin!(stream);
                    loop {
                        let ev = tokio::select! {
                            r = restart.changed() => if r.is_ok() { break } else { return },
                            _ = tx.closed() => return,
                            ev = tokio::time::timeout(idle, stream.next()) => ev,
                        };
                        let ev = match ev {
                            Err(_) | Ok(None) => break, // idle or ended by the server: re-watch
                            Ok(Some(Err(e))) => {
                                fail = Some(e);
                                break;
                            }
                            Ok(Some(Ok(ev))) => ev,
                        };
                        let change = match ev {
                            WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                                rv = Some(o.meta().resource_version.clone());
                                let key = o.meta().key();
                                match (spec.convert)(o) {
                                    Some((k, u)) => Change::Apply(k, u),
                                    None => Change::Delete(key),
                                }
                            }
                            WatchEvent::Deleted(o) => {
                                rv = Some(o.meta().resource_version.clone());
                                Change::Delete(o.meta().key())
                            }
                            WatchEvent::Bookmark(b) => {
                                rv = Some(b.metadata.resource_version);
                                continue;
                            }
                            WatchEvent::Error(s) if s.code == 410 => {
                                rv = None;
                                break;
                            }
                            WatchEvent::Error(s) => {
                                fail = Some(KubeError::Api { code: s.code, reason: s.reason.clone(), message: s.message.clone() });
                                break;
                            }
                        };
                        if !send(change).await {
                            return;
                        }
                    }
                }
            }
        }
        if let Some(e) = fail {
            failures += 1;
            if failures >= 2 || !e.is_transient() {
                if !send(Change::Failed(e.to_string())).await {
                    return;
                }
                reported = true;
            }
            if failures >= 2 {
                let d = backoff.next_delay();
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = tx.closed() => return,
                }
            }
        }
    }
}
