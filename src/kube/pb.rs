//! The Kubernetes protobuf encoding of a list of pods, decoded as it streams in: the API server encodes
//! 150,000 pods as protobuf in about half the time and half the bytes of JSON (measured on the lab's
//! v1.20 apiserver: 2.6-4.9 s and 324 MB against 5.7-11.4 s and 690 MB), and the first screen of a
//! large cluster waits on that list. Only the fields [`LeanPod`] keeps are read; everything else is
//! skipped by its wire type, so a new field in a later Kubernetes changes nothing here.
//!
//! The body is `k8s\0` and a `runtime.Unknown` whose `raw` (field 2) is the `PodList`: its `metadata`
//! (field 1, a `ListMeta`) and its `items` (field 2, one `Pod` each). [`PbSplitter`] cuts the items out
//! one by one while the body arrives, so the list is never held whole (one pod at a time, at most
//! [`MAX_ITEM`] bytes). Field numbers are those of `k8s.io/api/core/v1/generated.proto` and
//! `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`, stable since they were published.

use chrono::{DateTime, Utc};

use super::lean::{Condition, Container, LeanPod, ListMeta, Meta, OwnerRef, Present, Volume};
use super::split::SplitError;

/// The protobuf media type, as asked for in `Accept` and answered in `Content-Type`.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// A decoder of one item of a protobuf list (see [`pod`]).
pub type FromPb<T> = fn(&[u8]) -> Result<T, SplitError>;

/// The largest item (or envelope field) accepted: a pod is a few KB; a bound keeps memory bounded.
pub const MAX_ITEM: usize = 16 * 1024 * 1024;

const MAGIC: &[u8] = b"k8s\0";

/// One field's value, by wire type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn err(what: &str) -> SplitError {
    SplitError(format!("protobuf: {what}"))
}

/// A varint at the start of `b`: Ok(None) when `b` ends inside it.
fn varint(b: &[u8]) -> Result<Option<(u64, usize)>, SplitError> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if b.len() >= 10 { Err(err("a varint longer than 10 bytes")) } else { Ok(None) }
}

/// The next field of `b`: (field number, value, bytes used); Ok(None) when `b` ends inside it.
fn field(b: &[u8]) -> Result<Option<(u64, Val<'_>, usize)>, SplitError> {
    let Some((tag, n)) = varint(b)? else { return Ok(None) };
    let (num, wire) = (tag >> 3, tag & 7);
    if num == 0 {
        return Err(err("field number 0"));
    }
    let rest = &b[n..];
    Ok(match wire {
        0 => varint(rest)?.map(|(v, m)| (num, Val::Varint(v), n + m)),
        1 => (rest.len() >= 8).then_some((num, Val::Fixed, n + 8)),
        5 => (rest.len() >= 4).then_some((num, Val::Fixed, n + 4)),
        2 => match varint(rest)? {
            None => None,
            Some((len, m)) => {
                let len = usize::try_from(len).ok().filter(|l| *l <= MAX_ITEM).ok_or_else(|| err("a field longer than 16 MiB"))?;
                (rest.len() >= m + len).then(|| (num, Val::Bytes(&rest[m..m + len]), n + m + len))
            }
        },
        w => return Err(err(&format!("wire type {w}"))),
    })
}

/// Every field of a whole message, in order.
fn fields(mut b: &[u8], mut f: impl FnMut(u64, Val<'_>) -> Result<(), SplitError>) -> Result<(), SplitError> {
    while !b.is_empty() {
        let Some((num, v, used)) = field(b)? else { return Err(err("a message cut short")) };
        f(num, v)?;
        b = &b[used..];
    }
    Ok(())
}

fn string(v: Val<'_>) -> String {
    match v {
        Val::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn bytes(v: Val<'_>) -> &[u8] {
    match v {
        Val::Bytes(b) => b,
        _ => &[],
    }
}

/// A map entry (`key` = 1, `value` = 2), the value read by `value`.
fn entry<T>(b: &[u8], value: impl Fn(Val<'_>) -> Result<T, SplitError>) -> Result<(String, T), SplitError> {
    let (mut k, mut v) = (String::new(), None);
    fields(b, |n, x| {
        match n {
            1 => k = string(x),
            2 => v = Some(value(x)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok((k, v.map_or_else(|| value(Val::Bytes(&[])), Ok)?))
}

/// `meta.v1.Time`: seconds (1), nanos (2).
fn time(b: &[u8]) -> Result<Option<DateTime<Utc>>, SplitError> {
    let (mut s, mut ns) = (0i64, 0u32);
    fields(b, |n, x| {
        if let Val::Varint(v) = x {
            match n {
                1 => s = v as i64,
                2 => ns = (v as u32).min(999_999_999),
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(DateTime::from_timestamp(s, ns))
}

/// `ObjectMeta`.
fn meta(b: &[u8]) -> Result<Meta, SplitError> {
    let mut m = Meta::default();
    fields(b, |n, x| {
        match n {
            1 => m.name = string(x),
            3 => m.namespace = string(x),
            5 => m.uid = string(x),
            6 => m.resource_version = string(x),
            8 => m.creation_timestamp = time(bytes(x))?,
            9 => m.deletion_timestamp = time(bytes(x))?,
            11 | 12 => {
                let (k, v) = entry(bytes(x), |v| Ok(string(v)))?;
                if n == 11 {
                    m.labels.insert(k, v)
                } else {
                    m.annotations.insert(k, v)
                };
            }
            13 => m.owner_references.push(owner(bytes(x))?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

/// `OwnerReference`: kind (1), name (3), controller (6).
fn owner(b: &[u8]) -> Result<OwnerRef, SplitError> {
    let mut o = OwnerRef::default();
    fields(b, |n, x| {
        match (n, x) {
            (1, _) => o.kind = string(x),
            (3, _) => o.name = string(x),
            (6, Val::Varint(v)) => o.controller = v != 0,
            _ => {}
        }
        Ok(())
    })?;
    Ok(o)
}

/// `resource.Quantity`: its string (1).
fn quantity(v: Val<'_>) -> Result<String, SplitError> {
    let mut q = String::new();
    fields(bytes(v), |n, x| {
        if n == 1 {
            q = string(x);
        }
        Ok(())
    })?;
    Ok(q)
}

/// `Container`: only its resources' (8) requests (2).
fn container(b: &[u8]) -> Result<Container, SplitError> {
    let mut c = Container::default();
    fields(b, |n, x| {
        if n == 8 {
            fields(bytes(x), |n, x| {
                if n == 2 {
                    let (k, q) = entry(bytes(x), quantity)?;
                    c.resources.requests.insert(k, q);
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    Ok(c)
}

/// `Volume`: name (1) and whether its source (2) is an emptyDir (2).
fn volume(b: &[u8]) -> Result<Volume, SplitError> {
    let mut v = Volume::default();
    fields(b, |n, x| {
        match n {
            1 => v.name = string(x),
            2 => fields(bytes(x), |n, _| {
                if n == 2 {
                    v.empty_dir = Some(Present {});
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(v)
}

/// One `Pod`, as [`LeanPod`] keeps it.
pub fn pod(b: &[u8]) -> Result<LeanPod, SplitError> {
    let mut p = LeanPod::default();
    fields(b, |n, x| {
        match n {
            1 => p.metadata = meta(bytes(x))?,
            2 => fields(bytes(x), |n, x| {
                match n {
                    1 => p.spec.volumes.push(volume(bytes(x))?),
                    2 => p.spec.containers.push(container(bytes(x))?),
                    10 => p.spec.node_name = string(x),
                    20 => p.spec.init_containers.push(container(bytes(x))?),
                    32 => {
                        let (k, q) = entry(bytes(x), quantity)?;
                        p.spec.overhead.insert(k, q);
                    }
                    _ => {}
                }
                Ok(())
            })?,
            3 => fields(bytes(x), |n, x| {
                match n {
                    1 => p.status.phase = string(x),
                    2 => {
                        let mut c = Condition::default();
                        fields(bytes(x), |n, x| {
                            match n {
                                1 => c.type_ = string(x),
                                2 => c.status = string(x),
                                _ => {}
                            }
                            Ok(())
                        })?;
                        p.status.conditions.push(c);
                    }
                    _ => {}
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(p)
}

/// Where the splitter is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Magic,
    /// The `runtime.Unknown` envelope's fields; `listed`: the list was read.
    Envelope {
        listed: bool,
    },
    /// Inside the `PodList`, which ends at this offset of the body.
    List {
        end: u64,
    },
}

/// Cuts the items of a protobuf list out of its body as it arrives (see the module's text).
#[derive(Debug)]
pub struct PbSplitter {
    buf: Vec<u8>,
    /// Offset in the body of `buf[0]`.
    at_offset: u64,
    at: At,
    meta: ListMeta,
}

impl Default for PbSplitter {
    fn default() -> Self {
        PbSplitter { buf: Vec::new(), at_offset: 0, at: At::Magic, meta: ListMeta::default() }
    }
}

impl PbSplitter {
    pub fn new() -> PbSplitter {
        PbSplitter::default()
    }

    /// Take `data`, handing every whole item to `on_item` (its protobuf bytes).
    pub fn feed<E: From<SplitError>>(&mut self, data: &[u8], on_item: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        self.buf.extend_from_slice(data);
        let mut pos = 0usize;
        loop {
            let b = &self.buf[pos..];
            let offset = self.at_offset + pos as u64;
            match self.at {
                At::Magic => {
                    if b.len() < MAGIC.len() {
                        break;
                    }
                    if &b[..MAGIC.len()] != MAGIC {
                        return Err(err("not a Kubernetes protobuf body (no k8s\\0 prefix)").into());
                    }
                    pos += MAGIC.len();
                    self.at = At::Envelope { listed: false };
                }
                At::List { end } if offset == end => self.at = At::Envelope { listed: true },
                At::List { end } if offset > end => return Err(err("an item runs past the end of its list").into()),
                At::Envelope { listed } => {
                    // the list itself is not waited for whole: only its field's head
                    if let Some((tag, n)) = varint(b)?
                        && tag == (2 << 3 | 2)
                        && !listed
                    {
                        let Some((len, m)) = varint(&b[n..])? else { break };
                        pos += n + m;
                        self.at = At::List { end: offset + (n + m) as u64 + len };
                        continue;
                    }
                    let Some((_, _, used)) = field(b)? else { break };
                    pos += used;
                }
                At::List { .. } => {
                    let Some((num, v, used)) = field(b)? else { break };
                    match (num, v) {
                        (1, Val::Bytes(m)) => {
                            fields(m, |n, x| {
                                match n {
                                    2 => self.meta.resource_version = string(x),
                                    3 => self.meta.continue_ = string(x),
                                    _ => {}
                                }
                                Ok(())
                            })?;
                        }
                        (2, Val::Bytes(item)) => on_item(item)?,
                        _ => {}
                    }
                    pos += used;
                }
            }
        }
        self.buf.drain(..pos);
        self.at_offset += pos as u64;
        Ok(())
    }

    /// The list's metadata, once the whole body was fed; an error when it ended early.
    pub fn finish(self) -> Result<ListMeta, SplitError> {
        match self.at {
            At::Envelope { listed: true } if self.buf.is_empty() => Ok(self.meta),
            At::List { end } if end == self.at_offset && self.buf.is_empty() => Ok(self.meta),
            At::Envelope { listed: false } if self.buf.is_empty() => Err(err("no list in the body")),
            _ => Err(err("the body ended inside the list")),
        }
    }
}

/// A `metav1.Status` answered in protobuf (an error to a request that accepted it): (reason, message).
/// None when `body` is not one.
pub fn status(body: &[u8]) -> Option<(String, String)> {
    let raw = body.strip_prefix(MAGIC)?;
    let (mut reason, mut message, mut found) = (String::new(), String::new(), false);
    fields(raw, |n, x| {
        if n == 2 {
            found = true;
            fields(bytes(x), |n, x| {
                match n {
                    3 => message = string(x),
                    4 => reason = string(x),
                    _ => {}
                }
                Ok(())
            })?;
        }
        Ok(())
    })
    .ok()?;
    found.then_some((reason, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODS_PB: &[u8] = include_bytes!("../../tests/fixtures/kube/pods-v1.20.pb");
    const PODS_JSON: &[u8] = include_bytes!("../../tests/fixtures/kube/pods-v1.20.json");

    fn split(body: &[u8], chunk: usize) -> Result<(Vec<LeanPod>, ListMeta), SplitError> {
        let mut s = PbSplitter::new();
        let mut pods = Vec::new();
        for c in body.chunks(chunk.max(1)) {
            s.feed(c, &mut |raw: &[u8]| -> Result<(), SplitError> {
                pods.push(pod(raw)?);
                Ok(())
            })?;
        }
        Ok((pods, s.finish()?))
    }

    #[test]
    fn the_same_pods_as_the_json_of_the_same_list() {
        // captured from the lab's v1.20 apiserver: a running pod with init containers, an emptyDir,
        // overhead-free requests in several forms, labels, a mirror annotation, a controller owner; a
        // bare pending pod; a pod being deleted (deletionTimestamp)
        let json: serde_json::Value = serde_json::from_slice(PODS_JSON).unwrap();
        let want: Vec<String> = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{:?}", serde_json::from_value::<LeanPod>(p.clone()).unwrap()))
            .collect();
        for chunk in [1, 7, 100, PODS_PB.len()] {
            let (pods, meta) = split(PODS_PB, chunk).unwrap();
            let got: Vec<String> = pods.iter().map(|p| format!("{p:?}")).collect();
            assert_eq!(got, want, "fed {chunk} bytes at a time");
            assert_eq!(meta.resource_version, json["metadata"]["resourceVersion"].as_str().unwrap());
        }
        let (pods, _) = split(PODS_PB, 64).unwrap();
        let web = pods.iter().find(|p| p.metadata.name == "web-0").unwrap();
        assert!(web.is_ready() && web.is_mirror() && web.has_emptydir() && web.metadata.controller().is_some());
        assert_eq!(web.requests(), (1500, 1 << 30), "the init container's requests are the larger");
        assert!(pods.iter().any(|p| p.metadata.deletion_timestamp.is_some()));
    }

    #[test]
    fn a_body_that_is_not_a_whole_list_is_an_error() {
        assert!(split(b"{\"kind\":\"PodList\"}", 4).is_err(), "JSON is not protobuf");
        for cut in [3, 10, PODS_PB.len() / 2, PODS_PB.len() - 1] {
            assert!(split(&PODS_PB[..cut], 16).is_err(), "cut at {cut}");
        }
        assert_eq!(split(MAGIC, 4).unwrap_err().0, "protobuf: no list in the body");
        // a length past the bound, and a varint that never ends
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&[0x12, 0x05, 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(split(&huge, 3).unwrap_err().0.contains("16 MiB"));
        let mut endless = MAGIC.to_vec();
        endless.extend_from_slice(&[0x12, 0x0c, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(split(&endless, 5).is_err());
        // an item whose length runs past its list's end
        let mut past = MAGIC.to_vec();
        past.extend_from_slice(&[0x12, 0x02, 0x12, 0x05, 1, 2, 3, 4, 5]);
        assert!(split(&past, 2).is_err());
        // an empty list is a list
        let mut empty = MAGIC.to_vec();
        empty.extend_from_slice(&[0x12, 0x00]);
        assert_eq!(split(&empty, 1).unwrap().0.len(), 0);
    }

    #[test]
    fn an_error_answered_in_protobuf_is_read() {
        let body = include_bytes!("../../tests/fixtures/kube/status-404-v1.20.pb");
        assert_eq!(status(body), Some(("NotFound".to_string(), "pods \"nope\" not found".to_string())));
        assert_eq!(status(b"{\"kind\":\"Status\"}"), None);
        assert_eq!(status(MAGIC), None);
    }
}
