//! The bounded Argon2 pool: at most `concurrent` hashes run at once on blocking threads, at
//! most `queue` more wait; beyond that callers get 503 with `Retry-After` at once, so a login
//! flood cannot queue without bound or starve the async executor that moves money.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use identity::PasswordHasher;
use identity::password::{PasswordError, Verification};
use secrecy::SecretString;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Hashes waiting per running slot before new ones are refused.
pub const ARGON2_QUEUE_PER_SLOT_MAX: usize = 4;
/// `Retry-After` when the pool is full.
pub const ARGON2_BUSY_RETRY_AFTER_SECS: u32 = 1;

pub struct HashingPool {
    hasher: Arc<PasswordHasher>,
    slots: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    admitted_max: usize,
}

/// Releases an admission when the hash finishes or its caller goes away.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashingPool {
    /// `concurrent` is normally the core count.
    pub fn new(concurrent: usize) -> Result<HashingPool, PasswordError> {
        let concurrent = concurrent.max(1);
        Ok(HashingPool {
            hasher: Arc::new(PasswordHasher::new()?),
            slots: Arc::new(Semaphore::new(concurrent)),
            admitted: Arc::new(AtomicUsize::new(0)),
            admitted_max: concurrent.saturating_mul(ARGON2_QUEUE_PER_SLOT_MAX.saturating_add(1)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission(self.admitted.clone());
        if before >= self.admitted_max {
            metrics::counter!("strongroom_argon2_rejected_total").increment(1);
            return Err(ApiError::ServiceUnavailable {
                retry_after_secs: ARGON2_BUSY_RETRY_AFTER_SECS,
            });
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal)?;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _admission = admission;
            work(&hasher)
        })
        .await
        .map_err(|_| ApiError::Internal)
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        self.run(move |hasher| hasher.hash(&password))
            .await?
            .map_err(|error| match error {
                PasswordError::Hashing => ApiError::Internal,
                _ => ApiError::WeakPassword,
            })
    }

    /// Verifies; when the stored hash uses outdated parameters and the password is right,
    /// also returns a new hash (one pool slot for both).
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<(Verification, Option<String>), ApiError> {
        self.run(move |hasher| {
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
