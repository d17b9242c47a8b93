//! Unit tests of `hashing`.

use super::*;

#[tokio::test]
async fn the_priority_lane_has_places_of_its_own_and_no_more() {
    let pool = HashingPool::new(1).unwrap();
    let mut held = Vec::new();
    for _ in 0..pool.admitted_max {
        held.push(pool.admit().await.unwrap());
    }
    assert!(pool.admit().await.is_err(), "the normal lane is full");
    for _ in 0..ARGON2_PRIORITY_SLOTS_MAX {
        held.push(pool.admit_priority().await.unwrap());
    }
    assert!(
        pool.admit_priority().await.is_err(),
        "and so is the priority lane"
    );
    held.clear();
    assert!(pool.admit().await.is_ok(), "places come back when released");
}

#[test]
fn both_lanes_are_served_in_turn() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut queues = Queues::default();
    for lane in ["p1", "p2", "p3"] {
        let order = order.clone();
        queues
            .priority
            .push_back(Box::new(move || order.lock().unwrap().push(lane)));
    }
    for lane in ["n1", "n2"] {
        let order = order.clone();
        queues
            .normal
            .push_back(Box::new(move || order.lock().unwrap().push(lane)));
    }
    while let Some(job) = queues.next() {
        job();
    }
    assert_eq!(*order.lock().unwrap(), ["p1", "n1", "p2", "n2", "p3"]);
}
