//! The `geo_cache` tables: loading everything at start, upserting the dirty set.

use std::net::IpAddr;

use rusqlite::{Connection, params};

use super::FastMap as HashMap;
use super::cache::FlushBatch;
use super::record::{Entry, Names, Source};
use crate::store::StoreError;

/// The `max` most recently updated rows, with the names they point to. Ids
/// in memory are the database's.
pub fn load(conn: &Connection, max: usize) -> Result<(HashMap<IpAddr, Entry>, Names), StoreError> {
    let mut names = Names::new();
    let mut stmt = conn.prepare("SELECT id, code, name FROM geo_countries")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let id = u16::try_from(id)
            .ok()
            .filter(|i| *i != 0)
            .ok_or_else(|| StoreError::Corrupt(format!("geo_countries id {id}")))?;
        names.put_country(id, row.get_ref(1)?.as_str()?, row.get_ref(2)?.as_str()?);
    }
    let mut stmt = conn.prepare("SELECT id, value FROM geo_strings")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let id = u32::try_from(id)
            .ok()
            .filter(|i| *i != 0)
            .ok_or_else(|| StoreError::Corrupt(format!("geo_strings id {id}")))?;
        names.put_string(id, row.get_ref(1)?.as_str()?);
    }

    let count: i64 = conn.query_row("SELECT count(*) FROM geo_cache", [], |r| r.get(0))?;
    let count = usize::try_from(count).unwrap_or(0).min(max);
    let mut entries = HashMap::with_capacity_and_hasher(count, Default::default());
    let mut stmt = conn.prepare(
        "SELECT ip, country_id, asn, org_id, source, reason_id, attempts, updated_at FROM geo_cache
         ORDER BY updated_at DESC LIMIT ?1",
    )?;
    let mut rows = stmt.query([i64::try_from(max).unwrap_or(i64::MAX)])?;
    let mut skipped = 0u64;
    while let Some(row) = rows.next()? {
        // A cache row bangui cannot read is dropped, not fatal: the address is
        // simply looked up again when it comes up.
        let ip = row
            .get_ref(0)?
            .as_str()
            .ok()
            .and_then(|t| t.parse::<IpAddr>().ok());
        let source = row.get_ref(4)?.as_str().ok().and_then(Source::parse);
        let (Some(ip), Some(source)) = (ip, source) else {
            skipped += 1;
            continue;
        };
        // Computed when asked, never kept (migration 0009 removed the old rows).
        if source == Source::Local {
            continue;
        }
        let small = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        entries.insert(
            ip.to_canonical(),
            Entry {
                country: row
                    .get::<_, Option<i64>>(1)?
                    .and_then(|v| u16::try_from(v).ok())
                    .unwrap_or(0),
                asn: small(row.get(2)?),
                org: small(row.get(3)?),
                source,
                reason: small(row.get(5)?),
                attempts: u8::try_from(row.get::<_, i64>(6)?.clamp(0, 255)).unwrap_or(u8::MAX),
                updated_at: small(row.get(7)?),
            },
        );
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "unreadable rows in geo_cache ignored; those addresses are looked up again"
        );
    }
    Ok((entries, names))
}

/// Writes one flush batch in one transaction.
pub fn flush(conn: &mut Connection, batch: &FlushBatch) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut country = tx.prepare_cached(
            "INSERT OR IGNORE INTO geo_countries (id, code, name) VALUES (?1, ?2, ?3)",
        )?;
        for (id, code, name) in &batch.countries {
            country.execute(params![id, &**code, &**name])?;
        }
        let mut string =
            tx.prepare_cached("INSERT OR IGNORE INTO geo_strings (id, value) VALUES (?1, ?2)")?;
        for (id, value) in &batch.strings {
            string.execute(params![id, &**value])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO geo_cache (ip, country_id, asn, org_id, source, reason_id, attempts, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (ip) DO UPDATE SET
                country_id = excluded.country_id, asn = excluded.asn, org_id = excluded.org_id,
                source = excluded.source, reason_id = excluded.reason_id,
                attempts = excluded.attempts, updated_at = excluded.updated_at",
        )?;
        let nonzero = |v: u32| (v != 0).then_some(v);
        // In key order: appending to the B-tree beats random inserts many times over.
        let mut rows: Vec<(String, &Entry)> = batch
            .rows
            .iter()
            .map(|(ip, e)| (ip.to_string(), e))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (ip, e) in rows {
            upsert.execute(params![
                ip,
                (e.country != 0).then_some(e.country),
                nonzero(e.asn),
                nonzero(e.org),
                e.source.as_str(),
                nonzero(e.reason),
                e.attempts,
                e.updated_at,
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Keeps the table within `max` rows: the least recently updated go.
pub fn trim(conn: &Connection, max: usize) -> Result<u64, StoreError> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let count: i64 = conn.query_row("SELECT count(*) FROM geo_cache", [], |r| r.get(0))?;
    if count <= max {
        return Ok(0);
    }
    Ok(conn.execute(
        "DELETE FROM geo_cache WHERE ip IN (
             SELECT ip FROM geo_cache ORDER BY updated_at LIMIT ?1)",
        [count - max],
    )? as u64)
}

pub fn delete(conn: &mut Connection, ips: &[IpAddr]) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    let mut deleted = 0;
    {
        let mut stmt = tx.prepare_cached("DELETE FROM geo_cache WHERE ip = ?1")?;
        for ip in ips {
            deleted += stmt.execute([ip.to_string()])? as u64;
        }
    }
    tx.commit()?;
    Ok(deleted)
}
