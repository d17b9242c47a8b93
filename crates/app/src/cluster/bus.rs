//! Invalidation messages between instances: "session S was revoked", "account U changed
//! state". Sent after the store has committed the change, so an instance that hears one and
//! asks the store sees the new state. A message only ever makes an instance forget what it
//! cached — the worst a forged one can do is cost a store read.

use std::sync::Mutex;

use tokio::sync::mpsc;

use crate::limits::{INVALIDATION_ID_CHARS_MAX, INVALIDATION_QUEUE_LEN_MAX};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A session was revoked (logout, deletion, reuse, quarantine, factor change).
    Session(String),
    /// An account changed state (quarantined, quarantine lifted).
    User(String),
}

impl Invalidation {
    /// The wire form: `s:ID` or `u:ID`.
    pub fn encode(&self) -> String {
        match self {
            Invalidation::Session(id) => format!("s:{id}"),
            Invalidation::User(id) => format!("u:{id}"),
        }
    }

    /// Parses the wire form; anything else (or an implausible id) is `None`.
    pub fn decode(message: &str) -> Option<Invalidation> {
        let (kind, id) = message.split_once(':')?;
        let plausible = !id.is_empty()
            && id.len() <= INVALIDATION_ID_CHARS_MAX
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !plausible {
            return None;
        }
        match kind {
            "s" => Some(Invalidation::Session(id.to_owned())),
            "u" => Some(Invalidation::User(id.to_owned())),
            _ => None,
        }
    }
}

/// The queue of invalidations this instance makes, waiting for the transport (Redis or
/// PostgreSQL) to send them. Full or without a transport, a message is dropped: the other
/// instances' store poll still finds the change within `INVALIDATION_POLL_INTERVAL`.
#[derive(Debug)]
pub struct Bus {
    outgoing: mpsc::Sender<Invalidation>,
    receiver: Mutex<Option<mpsc::Receiver<Invalidation>>>,
}

impl Default for Bus {
    fn default() -> Self {
        let (outgoing, receiver) = mpsc::channel(INVALIDATION_QUEUE_LEN_MAX);
        Bus {
            outgoing,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl Bus {
    pub fn send(&self, invalidation: Invalidation) {
        if self.outgoing.try_send(invalidation).is_err() {
            metrics::counter!("strongroom_invalidations_dropped_total").increment(1);
        }
    }

    /// The outgoing queue, once (for the transport's sender task).
    pub fn take_outgoing(&self) -> Option<mpsc::Receiver<Invalidation>> {
        self.receiver.lock().ok().and_then(|mut slot| slot.take())
    }
}

#[cfg(test)]
mod tests;
