//! The server on PostgreSQL, including what clients see when the database goes away.

use std::time::{Duration, Instant};

use test_support::{Database, PgCluster, TestServer};

use crate::binary;

async fn readyz(client: &reqwest::Client, ops: &str) -> u16 {
    match client.get(format!("{ops}/readyz")).send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

async fn wait_for(client: &reqwest::Client, ops: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while readyz(client, ops).await != status {
        assert!(Instant::now() < deadline, "readyz never became {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn postgres_backed_server_reports_unready_while_the_database_is_down_and_recovers() {
    // Orchestrators must stop routing traffic when PostgreSQL is gone, and the server must
    // come back by itself, without a restart, when it returns.
    let mut cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let server = TestServer::start(binary(), Database::Postgres(url), &[]);
    let client = reqwest::Client::new();
    assert_eq!(readyz(&client, &server.ops_url).await, 200);
    assert!(server.log().contains("\"backend\":\"postgres\""));

    cluster.stop();
    wait_for(&client, &server.ops_url, 503).await;
    // A probe's answer comes within its timeout, not after the pool's (readiness waits 1 s).
    let asked = std::time::Instant::now();
    let response = client
        .get(format!("{}/readyz", server.ops_url))
        .send()
        .await
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "/readyz took {:?}",
        asked.elapsed()
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers().get("retry-after").is_some());
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("sqlx") && !body.contains("postgres"),
        "{body}"
    );
    // Liveness stays green: the process is fine, only a dependency is not.
    let live = client
        .get(format!("{}/healthz", server.ops_url))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    cluster.restart();
    wait_for(&client, &server.ops_url, 200).await;
}
