//! Unit tests of `admission`: each caller's share of the writer's queue.

use super::Admission;
use crate::Error;
use crate::limits::WRITER_QUEUE_PER_CALLER_MAX;

#[test]
fn one_caller_cannot_take_every_place_and_places_come_back() {
    let admission = Admission::default();
    let held: Vec<_> = (0..WRITER_QUEUE_PER_CALLER_MAX)
        .map(|_| admission.place("user:flood").unwrap())
        .collect();
    assert!(matches!(
        admission.place("user:flood"),
        Err(Error::RateLimited { .. })
    ));
    assert!(
        admission.place("user:calm").is_ok(),
        "others keep their room"
    );
    drop(held);
    assert!(admission.place("user:flood").is_ok());
}
