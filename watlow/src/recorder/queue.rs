//! The bounded queue between the recorder and its consumer, with the
//! overflow policies (tokio's mpsc cannot evict, so DropOldest needs a
//! queue of its own).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// What the recorder does when the consumer is behind and the queue full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Wait for the consumer: the rate drops, nothing is lost.
    #[default]
    Block,
    /// Drop the new batch (counted late).
    DropNewest,
    /// Drop the oldest queued batches (each counted late) to make room.
    DropOldest,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Wakes the consumer (an item or the end) and a blocked producer.
    changed: Notify,
}

/// The recorder's end.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    policy: OverflowPolicy,
}

/// The consumer's end.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A queue of `capacity` (at least 1) items under `policy`.
pub fn bounded<T>(capacity: usize, policy: OverflowPolicy) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            closed: false,
        }),
        capacity: capacity.max(1),
        changed: Notify::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
            policy,
        },
        Receiver { shared },
    )
}

fn lock<T>(shared: &Shared<T>) -> std::sync::MutexGuard<'_, State<T>> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Sender<T> {
    /// Queues `item`; returns how many batches were dropped (0 or more),
    /// or `None` when the consumer is gone.
    pub async fn send(&self, item: T) -> Option<u64> {
        let mut item = Some(item);
        loop {
            let notified = self.shared.changed.notified();
            {
                let mut state = lock(&self.shared);
                if state.closed {
                    return None;
                }
                if state.items.len() < self.shared.capacity {
                    state.items.extend(item.take());
                    drop(state);
                    self.shared.changed.notify_waiters();
                    return Some(0);
                }
                match self.policy {
                    OverflowPolicy::Block => {}
                    OverflowPolicy::DropNewest => return Some(1),
                    OverflowPolicy::DropOldest => {
                        let mut dropped = 0;
                        while state.items.len() >= self.shared.capacity {
                            state.items.pop_front();
                            dropped += 1;
                        }
                        state.items.extend(item.take());
                        drop(state);
                        self.shared.changed.notify_waiters();
                        return Some(dropped);
                    }
                }
            }
            notified.await;
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        lock(&self.shared).closed = true;
        self.shared.changed.notify_waiters();
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the recorder has ended and all is taken.
    pub async fn recv(&self) -> Option<T> {
        loop {
            let notified = self.shared.changed.notified();
            {
                let mut state = lock(&self.shared);
                if let Some(item) = state.items.pop_front() {
                    drop(state);
                    self.shared.changed.notify_waiters();
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        lock(&self.shared).closed = true;
        self.shared.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_policies_when_full() {
        let (tx, rx) = bounded(2, OverflowPolicy::DropNewest);
        assert_eq!(tx.send(1).await, Some(0));
        assert_eq!(tx.send(2).await, Some(0));
        assert_eq!(tx.send(3).await, Some(1));
        assert_eq!((rx.recv().await, rx.recv().await), (Some(1), Some(2)));

        let (tx, rx) = bounded(2, OverflowPolicy::DropOldest);
        for i in 1..=4 {
            tx.send(i).await;
        }
        drop(tx);
        assert_eq!((rx.recv().await, rx.recv().await), (Some(3), Some(4)));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn block_waits_for_the_consumer_and_loses_nothing() {
        let (tx, rx) = bounded(1, OverflowPolicy::Block);
        let producer = tokio::spawn(async move {
            for i in 0..5 {
                assert_eq!(tx.send(i).await, Some(0));
            }
        });
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            got.push(i);
        }
        producer.await.unwrap();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }
}
