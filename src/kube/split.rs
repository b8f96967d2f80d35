//! Streaming decode of a Kubernetes list response: the `items` of `{"kind":"PodList",...,"items":[...]}`
//! are cut out one by one while the body arrives and handed to the caller as raw JSON, so a 100 MB list
//! is never held whole; everything outside `items` (kind, metadata with resourceVersion and continue)
//! is kept and parsed at the end.

use super::lean::ListMeta;

#[derive(Debug, Default)]
pub struct ItemSplitter {
    depth: u32,
    in_str: bool,
    esc: bool,
    /// Collecting a string at depth 1 (a top-level key or value).
    top_str: Vec<u8>,
    last_top_str_is_items: bool,
    in_items: bool,
    in_item: bool,
    item: Vec<u8>,
    rest: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct SplitError(pub String);

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ItemSplitter {
    pub fn new() -> ItemSplitter {
        ItemSplitter::default()
    }

    fn sink(&mut self, b: u8) {
        if self.in_item {
            self.item.push(b);
        } else if !self.in_items {
            self.rest.push(b);
        }
        // separators between items are dropped: the rest becomes `"items":[]`
    }

    /// Feed the next chunk of the body; `on_item` gets every complete item.
    pub fn feed<E>(&mut self, chunk: &[u8], on_item: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        for &b in chunk {
            if self.in_str {
                self.sink(b);
                if self.esc {
                    self.esc = false;
                } else if b == b'\\' {
                    self.esc = true;
                } else if b == b'"' {
                    self.in_str = false;
                    if self.depth == 1 {
                        self.last_top_str_is_items = self.top_str == b"items";
                    }
                } else if self.depth == 1 && self.top_str.len() < 16 {
                    self.top_str.push(b);
                }
                continue;
            }
            match b {
                b'"' => {
                    self.sink(b);
                    self.in_str = true;
                    if self.depth == 1 {
                        self.top_str.clear();
                    }
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.in_items && !self.in_item && self.depth == 3 {
                        self.in_item = true;
                        self.item.clear();
                    } else if self.depth == 2 && b == b'[' && self.last_top_str_is_items {
                        self.rest.push(b);
                        self.in_items = true;
                        continue;
                    }
                    self.sink(b);
                }
                b'}' | b']' => {
                    if self.in_items && !self.in_item && self.depth == 2 {
                        self.in_items = false;
                        self.rest.push(b);
                        self.depth -= 1;
                        continue;
                    }
                    self.sink(b);
                    self.depth = self.depth.saturating_sub(1);
                    if self.in_item && self.depth == 2 {
                        self.in_item = false;
                        on_item(&self.item)?;
                        if self.item.capacity() > 1 << 20 {
                            self.item = Vec::new(); // one huge object must not pin a megabyte forever
                        }
                    }
                }
                _ => self.sink(b),
            }
        }
        Ok(())
    }

    /// The list's metadata, once the whole body was fed.
    pub fn finish(self) -> Result<ListMeta, SplitError> {
        if self.depth != 0 || self.in_str {
            return Err(SplitError("list response ended early (truncated JSON)".into()));
        }
        #[derive(serde::Deserialize)]
        struct Rest {
            #[serde(default)]
            metadata: ListMeta,
        }
        serde_json::from_slice::<Rest>(&self.rest).map(|r| r.metadata).map_err(|e| SplitError(format!("list response: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &str, chunk: usize) -> (Vec<String>, Result<ListMeta, SplitError>) {
        let mut s = ItemSplitter::new();
        let mut items = Vec::new();
        for c in body.as_bytes().chunks(chunk.max(1)) {
            s.feed(c, &mut |i: &[u8]| -> Result<(), ()> {
                items.push(String::from_utf8(i.to_vec()).unwrap());
                Ok(())
            })
            .unwrap();
        }
        (items, s.finish())
    }

    #[test]
    fn items_are_cut_out_whatever_the_chunking() {
        let body = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"abc"},
            "items":[{"metadata":{"name":"a \"items\" [x]","labels":{"k":"}{"}},"spec":{}},
                     {"metadata":{"name":"b\\"},"spec":{"containers":[{"name":"c"}]}} ]}"#;
        for chunk in [1, 2, 3, 7, 64, 10_000] {
            let (items, meta) = split(body, chunk);
            assert_eq!(items.len(), 2, "chunk {chunk}");
            let a: serde_json::Value = serde_json::from_str(&items[0]).unwrap();
            assert_eq!(a["metadata"]["name"], "a \"items\" [x]");
            assert_eq!(a["metadata"]["labels"]["k"], "}{");
            let b: serde_json::Value = serde_json::from_str(&items[1]).unwrap();
            assert_eq!(b["metadata"]["name"], "b\\");
            let meta = meta.unwrap();
            assert_eq!((meta.resource_version.as_str(), meta.continue_.as_str()), ("42", "abc"));
        }
    }

    #[test]
    fn metadata_after_items_and_empty_lists() {
        let (items, meta) = split(r#"{"items":[],"metadata":{"resourceVersion":"7"}}"#, 3);
        assert!(items.is_empty());
        assert_eq!(meta.unwrap().resource_version, "7");
        let (items, meta) = split(r#"{"kind":"NodeList","items":null,"metadata":{"resourceVersion":"8"}}"#, 5);
        assert!(items.is_empty());
        assert_eq!(meta.unwrap().resource_version, "8");
    }

    #[test]
    fn truncated_body_is_an_error() {
        let (_, meta) = split(r#"{"metadata":{"resourceVersion":"7"},"items":[{"a":1},{"b""#, 4);
        assert!(meta.is_err());
    }
}
