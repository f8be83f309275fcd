//! The geo service over a real SQLite file: failed flushes, the full queue,
//! loading back what was flushed.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::config::MaxMindPath;

fn config(queue_size: usize) -> GeoConfig {
    let off = MaxMindPath {
        path: None,
        explicit: true,
    };
    GeoConfig {
        maxmind_db: off.clone(),
        maxmind_asn_db: off,
        ip_api: false,
        ip_api_url: "http://127.0.0.1:9".into(),
        ip_api_timeout: Duration::from_secs(1),
        offline: true,
        queue_size,
        cache_max_entries: 1_000,
        ip_api_window: Duration::from_secs(60),
    }
}

async fn open(dir: &tempfile::TempDir, queue_size: usize) -> (Geo, Db) {
    let path = dir.path().join("geo.db");
    let (db, _) = tokio::task::spawn_blocking(move || Db::open(&path))
        .await
        .unwrap()
        .unwrap();
    let geo = Geo::load(
        &config(queue_size),
        db.clone(),
        Clock::manual(1_700_000_000),
    )
    .await
    .unwrap();
    (geo, db)
}

fn ip(n: u32) -> IpAddr {
    IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + n))
}

const RECORD: Reach = Reach {
    remote: false,
    force: false,
    record_misses: true,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_flush_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (geo, db) = open(&dir, 1000).await;
    let ips: Vec<IpAddr> = (1..=50).map(ip).collect();
    geo.resolve_local(&ips, RECORD);
    assert_eq!(geo.counts().dirty, 50);

    // Another writer takes the table away: the flush fails, nothing is cleared.
    let side = rusqlite::Connection::open(dir.path().join("geo.db")).unwrap();
    side.execute_batch("ALTER TABLE geo_cache RENAME TO geo_cache_away")
        .unwrap();
    assert!(geo.flush().await.is_err());
    assert_eq!(geo.counts().dirty, 50);

    side.execute_batch("ALTER TABLE geo_cache_away RENAME TO geo_cache")
        .unwrap();
    let flushed = geo.flush().await.unwrap();
    assert_eq!((flushed.written, flushed.dirty), (50, 0));
    db.close().await;

    let (again, _db) = open(&dir, 1000).await;
    let counts = again.counts();
    assert_eq!(
        (counts.entries, counts.unresolved, counts.dirty),
        (50, 50, 0)
    );
    let info = again.info(ip(7)).unwrap();
    assert_eq!(
        info.reason.as_deref(),
        Some("no MaxMind database and no ip-api lookup")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_hands_the_rest_to_re_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let (geo, _db) = open(&dir, 100).await;
    geo.enqueue((1..=150).map(ip));
    let stats = geo.stats();
    assert_eq!(stats.queued, 100);
    assert_eq!(stats.overflowed, 50);
    // The overflow is in the cache as unresolved, so geo_re_resolve finds it.
    assert_eq!(geo.counts().unresolved, 50);
    assert_eq!(geo.unresolved(1000).len(), 50);
    let (retried, resolved) = geo.re_resolve(&CancellationToken::new()).await;
    assert_eq!(
        (retried, resolved),
        (50, 0),
        "nothing can resolve them offline"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_local_and_final() {
    let dir = tempfile::tempdir().unwrap();
    let (geo, _db) = open(&dir, 100).await;
    let private: IpAddr = "192.168.1.1".parse().unwrap();
    let misses = geo.resolve_local(&[private], RECORD);
    assert!(misses.is_empty());
    let info = geo.info(private).unwrap();
    assert_eq!(info.status, "not-routable");
    assert_eq!(info.reason.as_deref(), Some("private range"));
    assert_eq!(geo.counts().unresolved, 0);
    assert!(geo.unresolved(10).is_empty());
}
