//! bangui's archive: `ban_history`, its daily roll-ups and the sync state.

use bangui_proto::messages::{HistoryGroup, HistoryQuery, HistoryRow, HistorySyncInfo};
use rusqlite::{Connection, OptionalExtension, params};

use super::source::BanRow;
use crate::store::StoreError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    pub dbfile: Option<String>,
    pub last_rowid: i64,
    pub last: Option<(String, String, i64)>,
}

pub fn state(conn: &Connection) -> Result<SyncState, StoreError> {
    Ok(conn.query_row(
        "SELECT dbfile, last_rowid, last_jail, last_ip, last_time FROM history_sync WHERE id = 1",
        [],
        |r| {
            let last = match (r.get(2)?, r.get(3)?, r.get(4)?) {
                (Some(j), Some(i), Some(t)) => Some((j, i, t)),
                _ => None,
            };
            Ok(SyncState {
                dbfile: r.get(0)?,
                last_rowid: r.get(1)?,
                last,
            })
        },
    )?)
}

/// Records how a sync ended (status and detail), without moving the watermark.
pub fn set_status(
    conn: &Connection,
    status: &str,
    detail: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE history_sync SET status = ?1, detail = ?2, synced_at = ?3 WHERE id = 1",
        params![status, detail, now],
    )?;
    Ok(())
}

/// Starts over from the first row (a new, replaced or reset database).
pub fn rewind(conn: &Connection, dbfile: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE history_sync SET dbfile = ?1, last_rowid = 0, last_jail = NULL, last_ip = NULL,
            last_time = NULL WHERE id = 1",
        [dbfile],
    )?;
    Ok(())
}

/// Archives one page and moves the watermark past it (inside the caller's
/// transaction). Rows older than `cutoff` (past the retention) are not
/// copied: if they were archived once they are in the roll-ups already, and
/// a database read again from the start must not count them twice. Returns
/// the addresses of rows that were new.
fn archive_in(
    tx: &rusqlite::Transaction<'_>,
    rows: &[BanRow],
    now: i64,
    cutoff: i64,
) -> Result<Vec<String>, StoreError> {
    let fresh = archive_rows(tx, rows, now, cutoff)?;
    if let Some(last) = rows.last() {
        tx.execute(
            "UPDATE history_sync SET last_rowid = ?1, last_jail = ?2, last_ip = ?3, last_time = ?4
             WHERE id = 1",
            params![last.rowid, last.jail, last.ip, last.time_of_ban],
        )?;
    }
    Ok(fresh)
}

/// How far apart bangui's clock at a ban and fail2ban's time of ban for it
/// may be: the batch's own duration and the rounding of both.
const ADOPT_WINDOW_SECS: i64 = 5;

/// Archives rows of fail2ban's `bans` (each once, by its key). A row bangui
/// recorded itself for the same ban (same address and jail, time of ban
/// within [`ADOPT_WINDOW_SECS`]) gives way to fail2ban's, which is exact,
/// and passes on when bangui lifted it.
fn archive_rows(
    conn: &Connection,
    rows: &[BanRow],
    now: i64,
    cutoff: i64,
) -> Result<Vec<String>, StoreError> {
    let mut fresh = Vec::new();
    // Checked once: with no row of bangui's own waiting, the sync costs what it did.
    let own_waiting: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM ban_history WHERE origin = 'bangui')",
        [],
        |r| r.get(0),
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO ban_history
            (ip, jail, time_of_ban, bantime, bancount, failures, matches, synced_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for r in rows.iter().filter(|r| r.time_of_ban >= cutoff) {
        let inserted = insert.execute(row_values(r, &now))? > 0;
        if own_waiting {
            adopt(conn, r, now)?;
        }
        if inserted {
            fresh.push(r.ip.clone());
        }
    }
    Ok(fresh)
}

/// A fail2ban row as statement parameters ?1 to ?8: ip, jail, time of ban,
/// bantime, bancount, failures, matches, and the time it was archived.
fn row_values<'a>(r: &'a BanRow, now: &'a i64) -> [&'a dyn rusqlite::ToSql; 8] {
    [
        &r.ip,
        &r.jail,
        &r.time_of_ban,
        &r.bantime,
        &r.bancount,
        &r.failures,
        &r.matches,
        now,
    ]
}

/// Folds bangui's own row for the ban `r` into fail2ban's row for it.
fn adopt(conn: &Connection, r: &BanRow, now: i64) -> Result<(), StoreError> {
    // The same second: the own row holds the key; it becomes fail2ban's row.
    let exact = conn
        .prepare_cached(
            "UPDATE ban_history SET bantime = ?4, bancount = ?5, failures = ?6, matches = ?7,
            synced_at = ?8, origin = 'fail2ban'
         WHERE ip = ?1 AND jail = ?2 AND time_of_ban = ?3 AND origin = 'bangui'",
        )?
        .execute(row_values(r, &now))?;
    if exact > 0 {
        return Ok(());
    }
    // Otherwise the one own row nearest in time, if within the window and
    // not lifted before this ban began (that is another ban): its lift passes
    // over, and the row goes.
    let nearest: Option<(i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT id, unbanned_at FROM ban_history
             WHERE origin = 'bangui' AND ip = ?1 AND jail = ?2
               AND time_of_ban BETWEEN ?3 - ?4 AND ?3 + ?4
               AND (unbanned_at IS NULL OR unbanned_at >= ?3)
             ORDER BY abs(time_of_ban - ?3) LIMIT 1",
        )?
        .query_row(
            params![r.ip, r.jail, r.time_of_ban, ADOPT_WINDOW_SECS],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((own, lifted)) = nearest else {
        return Ok(());
    };
    if let Some(lifted) = lifted {
        conn.prepare_cached(
            "UPDATE ban_history SET unbanned_at = coalesce(unbanned_at, ?4)
             WHERE ip = ?1 AND jail = ?2 AND time_of_ban = ?3 AND origin = 'fail2ban'",
        )?
        .execute(params![r.ip, r.jail, r.time_of_ban, lifted])?;
    }
    conn.prepare_cached("DELETE FROM ban_history WHERE id = ?1")?
        .execute([own])?;
    Ok(())
}

/// Archives rows read from fail2ban outside the sync (before bangui lifts
/// their bans), without moving the sync's watermark.
pub fn archive_unwatermarked(
    conn: &mut Connection,
    rows: &[BanRow],
    now: i64,
    cutoff: i64,
) -> Result<Vec<String>, StoreError> {
    let tx = conn.transaction()?;
    let fresh = archive_rows(&tx, rows, now, cutoff)?;
    tx.commit()?;
    Ok(fresh)
}

/// Records bans bangui just made (fail2ban counted them new), at `time`.
pub fn record_own_bans(
    conn: &mut Connection,
    jail: &str,
    ips: &[String],
    time: i64,
    bantime: i64,
) -> Result<Vec<String>, StoreError> {
    let tx = conn.transaction()?;
    let mut fresh = Vec::new();
    {
        // The sync may have copied fail2ban's row for this ban already.
        let mut synced = tx.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM ban_history WHERE ip = ?1 AND jail = ?2
                AND time_of_ban BETWEEN ?3 - ?4 AND ?3 + ?4)",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO ban_history
                (jail, ip, time_of_ban, bantime, bancount, synced_at, origin)
             VALUES (?1, ?2, ?3, ?4, 1, ?3, 'bangui')",
        )?;
        for ip in ips {
            let known: bool =
                synced.query_row(params![ip, jail, time, ADOPT_WINDOW_SECS], |r| r.get(0))?;
            if !known && insert.execute(params![jail, ip, time, bantime])? > 0 {
                fresh.push(ip.clone());
            }
        }
    }
    tx.commit()?;
    Ok(fresh)
}

/// Records that bangui lifted these bans in `jail` at `now`: on each
/// address's newest archived ban there that was still in force.
pub fn record_own_unbans(
    conn: &mut Connection,
    jail: &str,
    ips: &[String],
    now: i64,
) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    let mut marked = 0;
    {
        let mut mark = tx.prepare_cached(
            "UPDATE ban_history SET unbanned_at = ?3
             WHERE id = (SELECT id FROM ban_history WHERE ip = ?1 AND jail = ?2
                         ORDER BY time_of_ban DESC LIMIT 1)
               AND unbanned_at IS NULL
               AND (bantime < 0 OR time_of_ban + bantime > ?3)",
        )?;
        for ip in ips {
            marked += mark.execute(params![ip, jail, now])? as u64;
        }
    }
    tx.commit()?;
    Ok(marked)
}

/// Rolls rows older than `cutoff` up into `history_daily`, then deletes them.
pub fn prune(conn: &mut Connection, cutoff: i64, now: i64) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO history_daily (day, jail, country, bans, addresses)
         SELECT date(h.time_of_ban, 'unixepoch'), h.jail, coalesce(c.code, 'unknown'),
                count(*), count(DISTINCT h.ip)
         FROM ban_history h
         LEFT JOIN geo_cache g ON g.ip = h.ip
         LEFT JOIN geo_countries c ON c.id = g.country_id
         WHERE h.time_of_ban < ?1
         GROUP BY 1, 2, 3
         ON CONFLICT (day, jail, country) DO UPDATE SET
            bans = bans + excluded.bans, addresses = addresses + excluded.addresses",
        [cutoff],
    )?;
    let deleted = tx.execute("DELETE FROM ban_history WHERE time_of_ban < ?1", [cutoff])?;
    tx.execute("UPDATE history_sync SET pruned_at = ?1 WHERE id = 1", [now])?;
    tx.commit()?;
    // The freed pages go back to the file system (databases created with
    // auto_vacuum = INCREMENTAL; a no-op otherwise).
    conn.execute_batch("PRAGMA incremental_vacuum;")?;
    Ok(deleted as u64)
}

pub fn pruned_at(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(
        conn.query_row("SELECT pruned_at FROM history_sync WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

pub fn sync_info(conn: &Connection) -> Result<HistorySyncInfo, StoreError> {
    let (dbfile, status, detail, synced_at) = conn.query_row(
        "SELECT dbfile, status, detail, synced_at FROM history_sync WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let (archived, oldest, newest) = conn.query_row(
        "SELECT count(*), min(time_of_ban), max(time_of_ban) FROM ban_history",
        [],
        |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?, r.get(2)?)),
    )?;
    Ok(HistorySyncInfo {
        dbfile,
        status,
        detail,
        synced_at,
        archived,
        oldest,
        newest,
    })
}

const ROW: &str = "h.id, h.jail, h.ip, h.time_of_ban, h.bantime, h.bancount, h.failures, c.code, g.asn, \
     h.unbanned_at";
const GEO_JOIN: &str =
    "LEFT JOIN geo_cache g ON g.ip = h.ip LEFT JOIN geo_countries c ON c.id = g.country_id";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HistoryRow> {
    Ok(HistoryRow {
        id: r.get::<_, i64>(0)?.max(0) as u64,
        jail: r.get(1)?,
        ip: r.get(2)?,
        time_of_ban: r.get(3)?,
        bantime: r.get(4)?,
        bancount: r.get::<_, i64>(5)?.clamp(0, i64::from(u32::MAX)) as u32,
        failures: r
            .get::<_, Option<i64>>(6)?
            .map(|f| f.clamp(0, i64::from(u32::MAX)) as u32),
        country_code: r.get(7)?,
        asn: r
            .get::<_, Option<i64>>(8)?
            .and_then(|a| u32::try_from(a).ok()),
        unbanned_at: r.get(9)?,
    })
}

/// Newest first; one more row than `limit` tells whether a next page exists.
pub fn list(conn: &Connection, q: &HistoryQuery) -> Result<Vec<HistoryRow>, StoreError> {
    // Only the filters given go into the SQL, so SQLite can use the indexes
    // (an `?1 IS NULL OR …` clause hides them).
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |clause: &'static str, value: rusqlite::types::Value| {
        clauses.push(clause);
        values.push(value);
    };
    if let Some(ip) = &q.ip {
        add("h.ip = ?", ip.clone().into());
    }
    if let Some(jail) = &q.jail {
        add("h.jail = ?", jail.clone().into());
    }
    if let Some(country) = &q.country {
        add("c.code = ?", country.clone().into());
    }
    if let Some(since) = q.since {
        add("h.time_of_ban >= ?", since.into());
    }
    if let Some(until) = q.until {
        add("h.time_of_ban <= ?", until.into());
    }
    if let Some(before) = q.before_id {
        add("h.id < ?", (before as i64).into());
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    values.push((i64::from(q.limit) + 1).into());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW} FROM ban_history h {GEO_JOIN} {filter} ORDER BY h.id DESC LIMIT ?"
    ))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values), read_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The status the last sync recorded.
pub fn status(conn: &Connection) -> Result<String, StoreError> {
    Ok(
        conn.query_row("SELECT status FROM history_sync WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

/// Archives several pages in one transaction (see [`archive`]).
pub fn archive_pages(
    conn: &mut Connection,
    pages: &[Vec<BanRow>],
    now: i64,
    cutoff: i64,
) -> Result<Vec<String>, StoreError> {
    let mut fresh = Vec::new();
    let tx = conn.transaction()?;
    for page in pages {
        fresh.extend(archive_in(&tx, page, now, cutoff)?);
    }
    tx.commit()?;
    Ok(fresh)
}

pub fn count_ip(conn: &Connection, ip: &str) -> Result<u64, StoreError> {
    Ok(conn
        .query_row(
            "SELECT count(*) FROM ban_history WHERE ip = ?1",
            [ip],
            |r| r.get::<_, i64>(0),
        )?
        .max(0) as u64)
}

/// Blocklist sources listing `ip` now, and jails where an import banned it.
pub fn blocklist_presence(
    conn: &Connection,
    ip: &str,
) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT source FROM blocklist_entries WHERE target = ?1 ORDER BY source")?;
    let sources = stmt
        .query_map([ip], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let mut stmt =
        conn.prepare_cached("SELECT jail FROM blocklist_bans WHERE target = ?1 ORDER BY jail")?;
    let jails = stmt
        .query_map([ip], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok((sources, jails))
}

/// Where an address is: country code and AS number, from the geo cache.
pub type Place<'a> = &'a (dyn Fn(&str) -> (Option<String>, Option<u32>) + Send + Sync);

/// Counts grouped by jail, country, asn, day or ip; raw rows plus, for jail,
/// country and day, the daily roll-ups of pruned rows.
///
/// One pass over the archive's key index in address order: every address's
/// rows come together, so distinct addresses per group are counted without
/// a set of all of them, and each address's place is looked up once.
pub fn groups(
    conn: &Connection,
    by: &str,
    since: Option<i64>,
    limit: u32,
    place: Place<'_>,
) -> Result<(Vec<HistoryGroup>, u64, u64), StoreError> {
    use std::collections::HashMap;
    if !matches!(by, "jail" | "country" | "asn" | "day" | "ip") {
        return Err(StoreError::Corrupt(format!("no grouping `{by}`")));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT ip, jail, time_of_ban FROM ban_history INDEXED BY sqlite_autoindex_ban_history_1
         WHERE ?1 IS NULL OR time_of_ban >= ?1 ORDER BY ip",
    )?;
    let mut rows = stmt.query([since])?;
    type Fast = foldhash::fast::RandomState;
    let mut counts: HashMap<String, (u64, u64), Fast> = HashMap::default();
    let mut days: HashMap<i64, (u64, u64), Fast> = HashMap::default();
    // Top addresses: (bans, address), smallest on top, at most `limit`.
    let mut top: std::collections::BinaryHeap<std::cmp::Reverse<(u64, String)>> =
        std::collections::BinaryHeap::new();
    let (mut total_bans, mut total_addresses) = (0u64, 0u64);
    let mut current = String::new();
    let mut run = 0u64;
    // Groups the current address has counted towards (for distinct counts).
    let mut seen: Vec<String> = Vec::new();
    let mut seen_days: Vec<i64> = Vec::new();
    let mut here: Option<String> = None;
    let finish_run = |ip: &str, run: u64, top: &mut std::collections::BinaryHeap<_>| {
        if by == "ip" && run > 0 {
            top.push(std::cmp::Reverse((run, ip.to_string())));
            if top.len() > limit as usize {
                top.pop();
            }
        }
    };
    while let Some(row) = rows.next()? {
        let ip = row.get_ref(0)?.as_str()?;
        if ip != current {
            finish_run(&current, run, &mut top);
            current.clear();
            current.push_str(ip);
            run = 0;
            seen.clear();
            seen_days.clear();
            here = None;
            total_addresses += 1;
        }
        total_bans += 1;
        run += 1;
        match by {
            "ip" => {}
            "day" => {
                let d = row.get::<_, i64>(2)?.div_euclid(86_400);
                let entry = days.entry(d).or_default();
                entry.0 += 1;
                if !seen_days.contains(&d) {
                    entry.1 += 1;
                    seen_days.push(d);
                }
            }
            _ => {
                let key: &str = if by == "jail" {
                    row.get_ref(1)?.as_str()?
                } else {
                    here.get_or_insert_with(|| {
                        let (country, asn) = place(&current);
                        let key = if by == "country" {
                            country
                        } else {
                            asn.map(|a| format!("AS{a}"))
                        };
                        key.unwrap_or_else(|| "unknown".into())
                    })
                };
                let first = !seen.iter().any(|k| k == key);
                if first {
                    seen.push(key.to_string());
                }
                match counts.get_mut(key) {
                    Some(e) => {
                        e.0 += 1;
                        e.1 += u64::from(first);
                    }
                    None => {
                        counts.insert(key.to_string(), (1, 1));
                    }
                }
            }
        }
    }
    finish_run(&current, run, &mut top);
    let mut out: Vec<HistoryGroup> = match by {
        "ip" => top
            .into_iter()
            .map(|std::cmp::Reverse((bans, key))| HistoryGroup {
                key,
                bans,
                addresses: 1,
            })
            .collect(),
        "day" => days
            .into_iter()
            .map(|(d, (bans, addresses))| HistoryGroup {
                key: day(d * 86_400),
                bans,
                addresses,
            })
            .collect(),
        _ => counts
            .into_iter()
            .map(|(key, (bans, addresses))| HistoryGroup {
                key,
                bans,
                addresses,
            })
            .collect(),
    };
    out.sort_by(|a, b| b.bans.cmp(&a.bans).then_with(|| a.key.cmp(&b.key)));
    out.truncate(limit as usize);
    let rolled = match by {
        "jail" => Some("jail"),
        "country" => Some("country"),
        "day" => Some("day"),
        _ => None,
    };
    if let Some(column) = rolled {
        let since_day: Option<String> = since.map(|s| {
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(s.max(0) as u64),
            )
            .to_string()
            .chars()
            .take(10)
            .collect()
        });
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {column}, sum(bans), sum(addresses) FROM history_daily
             WHERE (?1 IS NULL OR day >= ?1) GROUP BY {column}"
        ))?;
        let old = stmt
            .query_map([since_day], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for (key, bans, addresses) in old {
            match out.iter_mut().find(|g| g.key == key) {
                Some(g) => {
                    g.bans += bans.max(0) as u64;
                    g.addresses += addresses.max(0) as u64;
                }
                None => out.push(HistoryGroup {
                    key,
                    bans: bans.max(0) as u64,
                    addresses: addresses.max(0) as u64,
                }),
            }
        }
        out.sort_by(|a, b| b.bans.cmp(&a.bans).then_with(|| a.key.cmp(&b.key)));
        out.truncate(limit as usize);
    }
    Ok((out, total_bans, total_addresses))
}

/// "YYYY-MM-DD" (UTC) of a unix time.
fn day(unix: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64),
    )
    .to_string()
    .chars()
    .take(10)
    .collect()
}

pub fn oldest_needing_prune(conn: &Connection, cutoff: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM ban_history WHERE time_of_ban < ?1 LIMIT 1",
            [cutoff],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
