//! The bounded Argon2 pool: dedicated hashing threads (normally one fewer than the cores) run
//! at a lowered OS priority, at most `ARGON2_QUEUE_PER_SLOT_MAX` hashes per thread wait, and
//! beyond that callers get 503 with `Retry-After` at once. A login flood therefore cannot queue
//! without bound, and cannot take the CPU from the async workers that move money: when both
//! want a core, the scheduler gives the workers about nine tenths of it. Sign-ins from a
//! device that signed in to the account before (`admit_priority`) have a lane of their own —
//! `ARGON2_PRIORITY_SLOTS_MAX` places, counted apart from the others, served in turn with the
//! normal lane — so a password-spraying flood cannot keep the owner out, and the lane (which
//! anyone can enter for their own accounts) cannot starve everyone else.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use identity::PasswordHasher;
use identity::password::{PasswordError, Verification};
use secrecy::SecretString;
use tokio::sync::oneshot;

use crate::error::Error;
pub use crate::limits::{ARGON2_PRIORITY_SLOTS_MAX, ARGON2_QUEUE_PER_SLOT_MAX};

/// `Retry-After` when the pool is full.
pub const ARGON2_BUSY_RETRY_AFTER_SECS: u32 = 1;
/// How long a refused caller waits for its 503. A flood client that retries as soon as it is
/// answered would otherwise turn the cheap refusal into a request flood that takes the CPU
/// from money movement; held back, each of its connections costs at most a few requests a
/// second. The wait holds no pool slot and no thread.
pub const ARGON2_BUSY_DELAY: std::time::Duration = std::time::Duration::from_millis(250);
/// The nice value of hashing threads (0 is normal; each step is ~1.25x less CPU share).
pub const ARGON2_THREAD_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Waiting jobs. When both lanes wait, they are served in turn.
#[derive(Default)]
struct Queues {
    priority: VecDeque<Job>,
    normal: VecDeque<Job>,
    /// The last job came from the priority lane.
    served_priority: bool,
    closed: bool,
}

impl Queues {
    fn next(&mut self) -> Option<Job> {
        let take_priority =
            !self.priority.is_empty() && (self.normal.is_empty() || !self.served_priority);
        let job = if take_priority {
            self.priority.pop_front()
        } else {
            self.normal.pop_front()
        };
        if job.is_some() {
            self.served_priority = take_priority;
        }
        job
    }
}

type SharedQueues = Arc<(Mutex<Queues>, Condvar)>;

pub struct HashingPool {
    hasher: Arc<PasswordHasher>,
    queues: SharedQueues,
    admitted: Arc<AtomicUsize>,
    admitted_max: usize,
    /// Places taken in the priority lane (at most `ARGON2_PRIORITY_SLOTS_MAX`).
    admitted_priority: Arc<AtomicUsize>,
}

impl Drop for HashingPool {
    fn drop(&mut self) {
        if let Ok(mut queues) = self.queues.0.lock() {
            queues.closed = true;
        }
        self.queues.1.notify_all();
    }
}

/// A place in the pool, taken before any other work of the request so that a flood is turned
/// away at the cost of an atomic increment. Released when the hash finishes or its caller
/// goes away.
pub struct Admission {
    admitted: Arc<AtomicUsize>,
    priority: bool,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashingPool {
    /// Starts `threads` hashing threads (at least one).
    pub fn new(threads: usize) -> Result<HashingPool, PasswordError> {
        let threads = threads.max(1);
        let queues = SharedQueues::default();
        for index in 0..threads {
            let queues = queues.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || hashing_thread(&queues))
                .map_err(|_| PasswordError::Hashing)?;
        }
        Ok(HashingPool {
            hasher: Arc::new(PasswordHasher::new()?),
            queues,
            admitted: Arc::new(AtomicUsize::new(0)),
            admitted_max: threads.saturating_mul(ARGON2_QUEUE_PER_SLOT_MAX.saturating_add(1)),
            admitted_priority: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Places taken and available: ((normal, its capacity), (priority, its capacity)). A place
    /// is taken from admission until the hash is done, so taken beyond the thread count is a
    /// queue.
    pub fn load(&self) -> ((usize, usize), (usize, usize)) {
        (
            (self.admitted.load(Ordering::Acquire), self.admitted_max),
            (
                self.admitted_priority.load(Ordering::Acquire),
                ARGON2_PRIORITY_SLOTS_MAX,
            ),
        )
    }

    /// A place in the pool, or — after `ARGON2_BUSY_DELAY` — 503 with `Retry-After` when it
    /// is full.
    pub async fn admit(&self) -> Result<Admission, Error> {
        self.admit_with(false, &self.admitted, self.admitted_max)
            .await
    }

    /// A place for a sign-in from a device known to the account: `ARGON2_PRIORITY_SLOTS_MAX`
    /// more places than anyone else has, hashed first.
    pub async fn admit_priority(&self) -> Result<Admission, Error> {
        self.admit_with(true, &self.admitted_priority, ARGON2_PRIORITY_SLOTS_MAX)
            .await
    }

    async fn admit_with(
        &self,
        priority: bool,
        counter: &Arc<AtomicUsize>,
        max: usize,
    ) -> Result<Admission, Error> {
        let before = counter.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            admitted: counter.clone(),
            priority,
        };
        if before >= max {
            drop(admission);
            metrics::counter!("strongroom_argon2_rejected_total").increment(1);
            tokio::time::sleep(ARGON2_BUSY_DELAY).await;
            return Err(Error::Unavailable {
                retry_after_secs: ARGON2_BUSY_RETRY_AFTER_SECS,
            });
        }
        Ok(admission)
    }

    async fn run<T: Send + 'static>(
        &self,
        admission: Admission,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let hasher = self.hasher.clone();
        let (reply, answer) = oneshot::channel();
        let priority = admission.priority;
        let job: Job = Box::new(move || {
            let _admission = admission;
            let _ = reply.send(work(&hasher));
        });
        {
            let mut queues = self.queues.0.lock().map_err(|_| Error::Internal)?;
            if priority {
                queues.priority.push_back(job);
            } else {
                queues.normal.push_back(job);
            }
        }
        self.queues.1.notify_one();
        answer.await.map_err(|_| Error::Internal)
    }

    pub async fn hash(
        &self,
        admission: Admission,
        password: SecretString,
    ) -> Result<String, Error> {
        self.run(admission, move |hasher| hasher.hash(&password))
            .await?
            .map_err(|error| match error {
                PasswordError::Hashing => Error::Internal,
                PasswordError::TooLong => Error::WeakPassword {
                    field: "password",
                    rule: "too_long",
                },
                _ => Error::WeakPassword {
                    field: "password",
                    rule: "too_short",
                },
            })
    }

    /// Verifies; when the stored hash uses outdated parameters and the password is right,
    /// also returns a new hash (one pool slot for both).
    pub async fn verify(
        &self,
        admission: Admission,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<(Verification, Option<String>), Error> {
        self.run(admission, move |hasher| {
            let verification = hasher.verify(&password, stored.as_deref());
            let rehashed = match verification {
                Verification::Valid { needs_rehash: true } => hasher.hash(&password).ok(),
                _ => None,
            };
            (verification, rehashed)
        })
        .await
    }
}

/// Lowers this thread's priority, then runs hashing jobs — the priority lane first — until
/// the pool is dropped.
fn hashing_thread(queues: &SharedQueues) {
    // On Linux, setpriority(PRIO_PROCESS, 0) changes the calling thread only.
    if let Err(error) = rustix::process::setpriority_process(None, ARGON2_THREAD_NICE) {
        tracing::warn!(%error, "cannot lower the priority of a hashing thread");
    }
    let (lock, ready) = &**queues;
    loop {
        let job = {
            let Ok(mut waiting) = lock.lock() else {
                return;
            };
            loop {
                if let Some(job) = waiting.next() {
                    break job;
                }
                if waiting.closed {
                    return;
                }
                waiting = match ready.wait(waiting) {
                    Ok(waiting) => waiting,
                    Err(_) => return,
                };
            }
        };
        job();
    }
}

#[cfg(test)]
mod tests;
