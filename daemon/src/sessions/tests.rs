use std::time::Duration;

use super::*;
use crate::clock::Clock;
use crate::store::Db;

async fn sessions() -> (tempfile::TempDir, Sessions, Clock) {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(&dir.path().join("s.db")).unwrap();
    let clock = Clock::manual(1_000_000);
    let s = Sessions::new(db, clock.clone(), Duration::from_secs(3600));
    (dir, s, clock)
}

#[tokio::test]
async fn create_validate_revoke() {
    let (_dir, s, clock) = sessions().await;
    let (info, token) = s.create("web", None, 1000).await.unwrap();
    assert!(token.starts_with("bgt_"));
    assert_eq!(info.expires_at, 1_000_000 + 3600);
    assert_eq!(info.created_by_uid, 1000);

    clock.advance(120);
    let seen = s.validate(&token).await.unwrap();
    assert_eq!(seen.id, info.id);
    assert_eq!(seen.last_seen_at, 1_000_120);
    assert_eq!(s.show(&info.id).await.unwrap().last_seen_at, 1_000_120);

    assert!(matches!(
        s.validate("bgt_wrong").await,
        Err(SessionError::UnknownToken)
    ));
    s.revoke(&info.id).await.unwrap();
    assert!(matches!(
        s.validate(&token).await,
        Err(SessionError::UnknownToken)
    ));
    assert!(matches!(
        s.revoke(&info.id).await,
        Err(SessionError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_token_is_not_stored() {
    let (dir, s, _clock) = sessions().await;
    let (_, token) = s.create("web", None, 0).await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    let hash: Vec<u8> = conn
        .query_row("SELECT token_sha256 FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(hash, token_hash(&token));
    let raw = std::fs::read(dir.path().join("s.db")).unwrap();
    let wal = std::fs::read(dir.path().join("s.db-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    for bytes in [raw, wal] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
}

#[tokio::test]
async fn expiry_and_cleanup() {
    let (_dir, s, clock) = sessions().await;
    let (_, short) = s
        .create("short", Some(Duration::from_secs(10)), 0)
        .await
        .unwrap();
    let (long, _) = s.create("long", None, 0).await.unwrap();
    clock.advance(11);
    assert!(matches!(
        s.validate(&short).await,
        Err(SessionError::Expired)
    ));
    let (_, other) = s
        .create("other", Some(Duration::from_secs(5)), 0)
        .await
        .unwrap();
    clock.advance(6);
    assert_eq!(s.delete_expired().await.unwrap(), 1);
    let left = s.list(100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, long.id);
    assert!(s.validate(&other).await.is_err());
}

#[tokio::test]
async fn bad_arguments_are_refused() {
    let (_dir, s, _clock) = sessions().await;
    assert!(matches!(
        s.create("x", Some(Duration::ZERO), 0).await,
        Err(SessionError::BadTtl)
    ));
    assert!(matches!(
        s.create("x", Some(MAX_TTL + Duration::from_secs(1)), 0)
            .await,
        Err(SessionError::BadTtl)
    ));
    assert!(matches!(
        s.create("  ", None, 0).await,
        Err(SessionError::BadLabel)
    ));
    assert!(matches!(
        s.create("a\nb", None, 0).await,
        Err(SessionError::BadLabel)
    ));
}
