//! Unit tests of `throttle`.

use super::*;

#[test]
fn ipv6_clients_are_keyed_by_their_64() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(client_network(a), client_network(b));
    assert_ne!(client_network(a), client_network(c));
    let v4: IpAddr = "192.0.2.7".parse().unwrap();
    assert_eq!(client_network(v4), v4);
}

#[tokio::test]
async fn one_client_spending_its_budget_leaves_the_owner_theirs() {
    let throttles = Throttles::default();
    let attacker: IpAddr = "198.51.100.1".parse().unwrap();
    let owner: IpAddr = "203.0.113.9".parse().unwrap();
    for _ in 0..OTP_USER_CLIENT_BURST {
        throttles.otp("u1", attacker).await.unwrap();
    }
    assert!(matches!(
        throttles.otp("u1", attacker).await,
        Err(Error::RateLimited { .. })
    ));
    throttles.otp("u1", owner).await.unwrap();
}

#[tokio::test]
async fn the_user_wide_ceiling_holds_for_unknown_networks_but_not_the_owners() {
    let throttles = Throttles::default();
    let owner: IpAddr = "203.0.113.9".parse().unwrap();
    throttles.remember_network("u1", owner);
    // Many attacker networks: beyond the ceiling they wait, then are refused.
    let mut refused = 0;
    for i in 0..200_u32 {
        let attacker = IpAddr::from([198, 51, (i / 250) as u8, (i % 250) as u8]);
        if throttles.otp("u1", attacker).await.is_err() {
            refused += 1;
        }
    }
    assert!(refused > 0, "the ceiling refused nothing");
    // The owner's network is never held back by it.
    for _ in 0..OTP_USER_CLIENT_BURST {
        throttles.otp("u1", owner).await.unwrap();
    }
}

#[tokio::test]
async fn a_fresh_device_cookie_buys_no_fresh_budget_but_a_known_device_keeps_its_own() {
    let throttles = Throttles::default();
    let ip: IpAddr = "198.51.100.7".parse().unwrap();
    // Unknown devices (fresh cookies) from one network share that network's budget.
    let devices: Vec<String> = (0..=LOGIN_ACCOUNT_IP_BURST)
        .map(|i| format!("d{i}"))
        .collect();
    let mut refused = 0;
    for device in &devices {
        let client = LoginClient {
            ip,
            device: Some(device),
            known: false,
        };
        if throttles.login("victim@example.com", client).await.is_err() {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 1,
        "the eleventh attempt from the network is refused"
    );
    // The owner's known browser on the same network keeps its own budget.
    let owner = LoginClient {
        ip,
        device: Some("owner"),
        known: true,
    };
    throttles.login("victim@example.com", owner).await.unwrap();
}
