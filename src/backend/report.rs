//! The one progress reporter: how an executor tells the app what it did, step by step, and how it ended.

use tokio::sync::mpsc;

use super::BackendEvent;
use crate::ops::OpEvent;

/// Sends an operation's progress to the app.
pub struct Reporter {
    pub id: u64,
    pub tx: mpsc::Sender<BackendEvent>,
}

impl Reporter {
    pub async fn step(&self, text: impl Into<String>, ok: bool) {
        let _ = self.tx.send(BackendEvent::Op(OpEvent::Step { id: self.id, text: text.into(), ok })).await;
    }
    /// [`Reporter::finish`], and whether it was a success (what an executor returns).
    pub async fn conclude(&self, result: Result<String, String>) -> bool {
        let ok = result.is_ok();
        self.finish(result).await;
        ok
    }
    pub async fn finish(&self, result: Result<String, String>) {
        let (ok, summary) = match result {
            Ok(s) => (true, s),
            Err(e) => {
                self.step(e.clone(), false).await;
                (false, e)
            }
        };
        let _ = self.tx.send(BackendEvent::Op(OpEvent::Finished { id: self.id, ok, summary })).await;
    }
}
