//! The one poll loop every periodic probe runs in.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

/// One round of a periodic probe: what it sends, and how it gets it. A probe that keeps state between
/// rounds (a connection, a failure count) implements it on that state; a stateless one is a closure
/// ([`rounds`]).
pub trait Round: Send {
    type Out: Send;
    fn round(&mut self) -> impl Future<Output = Vec<Self::Out>> + Send;
}

/// A closure returning a future, as a [`Round`].
pub struct FnRound<F>(F);

/// Rounds made by calling `f`.
pub fn rounds<F, Fut, T>(f: F) -> FnRound<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Vec<T>> + Send,
    T: Send,
{
    FnRound(f)
}

impl<F, Fut, T> Round for FnRound<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Vec<T>> + Send,
    T: Send,
{
    type Out = T;
    fn round(&mut self) -> impl Future<Output = Vec<T>> + Send {
        (self.0)()
    }
}

/// Run `round` every `interval` and send what it returns, until the receiver hangs up. A slow round
/// delays the next one and never piles rounds up (missed ticks are not made up for); a round still
/// running when the receiver hangs up is dropped at once.
pub async fn poll_loop<R: Round>(interval: Duration, tx: &mpsc::Sender<R::Out>, mut round: R) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = ticker.tick() => {}
        }
        let out = tokio::select! {
            _ = tx.closed() => return,
            out = round.round() => out,
        };
        for item in out {
            if tx.send(item).await.is_err() {
                return;
            }
        }
    }
}

/// [`poll_loop`] that also looks at once when poked (the event is handed to the round; pokes that
/// arrive during a look make one more look after it, since it may have started before the change),
/// and skips a tick while `slowed` says a look that recent is enough (an event stream runs).
pub async fn poked_loop<E, F, Fut, T>(
    interval: Duration,
    tx: &mpsc::Sender<T>,
    mut pokes: mpsc::UnboundedReceiver<E>,
    slowed: impl Fn() -> Option<Duration>,
    mut round: F,
) where
    F: FnMut(Option<E>) -> Fut,
    Fut: Future<Output = Vec<T>>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<tokio::time::Instant> = None;
    let mut open = true;
    loop {
        let event = tokio::select! {
            _ = tx.closed() => return,
            _ = ticker.tick() => {
                if let (Some(enough), Some(t)) = (slowed(), last)
                    && t.elapsed() < enough
                {
                    continue;
                }
                None
            }
            e = pokes.recv(), if open => match e {
                Some(mut e) => {
                    while let Ok(newer) = pokes.try_recv() {
                        e = newer;
                    }
                    Some(e)
                }
                None => {
                    open = false;
                    continue;
                }
            },
        };
        last = Some(tokio::time::Instant::now());
        let out = tokio::select! {
            _ = tx.closed() => return,
            out = round(event) => out,
        };
        for item in out {
            if tx.send(item).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_poke_looks_at_once_and_a_slowed_loop_skips_ticks() {
        let (tx, mut rx) = mpsc::channel::<(u64, Option<&'static str>)>(16);
        let (poke, pokes) = mpsc::unbounded_channel::<&'static str>();
        let t0 = tokio::time::Instant::now();
        let slowed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = slowed.clone();
        tokio::spawn(async move {
            poked_loop(
                Duration::from_millis(500),
                &tx,
                pokes,
                move || s.load(std::sync::atomic::Ordering::SeqCst).then_some(Duration::from_secs(5)),
                |e| async move { vec![(t0.elapsed().as_millis() as u64, e)] },
            )
            .await
        });
        assert_eq!(rx.recv().await, Some((0, None)), "the first tick looks at once");
        assert_eq!(rx.recv().await, Some((500, None)), "then every interval");
        slowed.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1700)).await;
        poke.send("event").unwrap();
        assert_eq!(rx.recv().await, Some((2200, Some("event"))), "slowed: no tick for 5 s, the poke looked at once");
        assert_eq!(rx.recv().await, Some((7500, None)), "the next look 5 s after the last one, on a tick");
    }

    #[tokio::test(start_paused = true)]
    async fn rounds_do_not_pile_up_and_stop_with_the_receiver() {
        let (tx, mut rx) = mpsc::channel(16);
        let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let task = tokio::spawn(async move {
            let round = rounds(move || {
                let n = n.clone();
                async move {
                    let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    // a round three intervals long: the next starts right after it, not three at once
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    vec![(i, tokio::time::Instant::now())]
                }
            });
            poll_loop(Duration::from_millis(100), &tx, round).await
        });
        let (a, ta) = rx.recv().await.unwrap();
        let (b, tb) = rx.recv().await.unwrap();
        assert_eq!((a, b), (1, 2));
        assert!(tb - ta >= Duration::from_millis(300), "one round at a time: {:?}", tb - ta);
        drop(rx);
        tokio::time::timeout(Duration::from_secs(1), task).await.expect("the loop ends when the receiver hangs up").unwrap();
    }
}
