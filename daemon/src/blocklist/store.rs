//! The blocklist tables: sources, their entries, bangui's bans, batches and runs.

use std::collections::HashSet;

use bangui_proto::messages::{ImportRunInfo, ReasonCount};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::fetch::Reach;
use super::parse::Format;
use crate::store::StoreError;
use crate::targets::Target;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub name: String,
    pub url: String,
    pub jail: Option<String>,
    pub interval_secs: u64,
    pub max_entries: u64,
    pub enabled: bool,
    pub origin: String,
    pub reach: Reach,
    pub secret_path: bool,
    /// How its list is read (JSON field, score, prefix floors).
    pub format: Format,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_sha256: Option<Vec<u8>>,
    pub failure_streak: u32,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
}

impl SourceRow {
    /// The URL as it may be shown and logged.
    pub fn shown_url(&self) -> String {
        crate::urls::redacted_source(&self.url, self.secret_path)
    }

    /// A new source, never imported, public and with nothing secret in its
    /// path until marked otherwise.
    pub fn new(
        name: String,
        url: String,
        jail: Option<String>,
        interval_secs: u64,
        max_entries: u64,
        enabled: bool,
        origin: &str,
    ) -> SourceRow {
        SourceRow {
            name,
            url,
            jail,
            interval_secs,
            max_entries,
            enabled,
            origin: origin.to_string(),
            reach: Reach::Public,
            secret_path: false,
            format: Format::default(),
            etag: None,
            last_modified: None,
            content_sha256: None,
            failure_streak: 0,
            last_attempt_at: None,
            last_success_at: None,
        }
    }
}

const SOURCE_COLUMNS: &str = "name, url, jail, interval_secs, max_entries, enabled, origin, etag, \
     last_modified, content_sha256, failure_streak, last_attempt_at, last_success_at, local, secret_path, \
     json_field, min_score, min_prefix_v4, min_prefix_v6";

/// A format's columns: NULL where it has the default, so that a default
/// changed in a later release applies to sources that never chose.
fn format_columns(f: &Format) -> (Option<String>, Option<i64>, Option<i64>, Option<i64>) {
    let default = Format::default();
    let floor = |v: u8, d: u8| (v != d).then_some(i64::from(v));
    (
        f.json_field.clone(),
        f.min_score.map(|s| s.min(i64::MAX as u64) as i64),
        floor(f.floor_v4, default.floor_v4),
        floor(f.floor_v6, default.floor_v6),
    )
}

fn read_format(row: &Row<'_>, at: usize) -> rusqlite::Result<Format> {
    let default = Format::default();
    let floor = |v: Option<i64>, d: u8| v.and_then(|v| u8::try_from(v).ok()).unwrap_or(d);
    Ok(Format {
        json_field: row.get(at)?,
        min_score: row.get::<_, Option<i64>>(at + 1)?.map(|s| s.max(0) as u64),
        floor_v4: floor(row.get(at + 2)?, default.floor_v4),
        floor_v6: floor(row.get(at + 3)?, default.floor_v6),
    })
}

fn read_source(row: &Row<'_>) -> rusqlite::Result<SourceRow> {
    Ok(SourceRow {
        name: row.get(0)?,
        url: row.get(1)?,
        jail: row.get(2)?,
        interval_secs: row.get::<_, i64>(3)?.max(0) as u64,
        max_entries: row.get::<_, i64>(4)?.max(0) as u64,
        enabled: row.get(5)?,
        origin: row.get(6)?,
        etag: row.get(7)?,
        last_modified: row.get(8)?,
        content_sha256: row.get(9)?,
        failure_streak: row.get::<_, i64>(10)?.clamp(0, i64::from(u32::MAX)) as u32,
        last_attempt_at: row.get(11)?,
        last_success_at: row.get(12)?,
        reach: if row.get(13)? {
            Reach::Local
        } else {
            Reach::Public
        },
        secret_path: row.get(14)?,
        format: read_format(row, 15)?,
    })
}

pub fn insert_source(conn: &Connection, s: &SourceRow, now: i64) -> Result<(), StoreError> {
    let (json_field, min_score, floor_v4, floor_v6) = format_columns(&s.format);
    conn.execute(
        "INSERT INTO blocklist_sources (name, url, jail, interval_secs, max_entries, enabled, origin, created_at, local, secret_path,
             json_field, min_score, min_prefix_v4, min_prefix_v6)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            s.name,
            s.url,
            s.jail,
            s.interval_secs as i64,
            s.max_entries as i64,
            s.enabled,
            s.origin,
            now,
            s.reach == Reach::Local,
            s.secret_path,
            json_field,
            min_score,
            floor_v4,
            floor_v6
        ],
    )?;
    Ok(())
}

/// Updates what the config file says of a source; keeps its history and state.
/// A changed URL or format forgets the conditional-download validators: an
/// unchanged body must be read again the new way.
pub fn update_definition(conn: &Connection, s: &SourceRow) -> Result<(), StoreError> {
    let (json_field, min_score, floor_v4, floor_v6) = format_columns(&s.format);
    conn.execute(
        "UPDATE blocklist_sources SET
            etag = CASE WHEN url = ?2 AND json_field IS ?10 AND min_score IS ?11
                AND min_prefix_v4 IS ?12 AND min_prefix_v6 IS ?13 THEN etag END,
            last_modified = CASE WHEN url = ?2 AND json_field IS ?10 AND min_score IS ?11
                AND min_prefix_v4 IS ?12 AND min_prefix_v6 IS ?13 THEN last_modified END,
            url = ?2, jail = ?3, interval_secs = ?4, max_entries = ?5, enabled = ?6, origin = ?7,
            local = ?8, secret_path = ?9, json_field = ?10, min_score = ?11,
            min_prefix_v4 = ?12, min_prefix_v6 = ?13
         WHERE name = ?1",
        params![
            s.name,
            s.url,
            s.jail,
            s.interval_secs as i64,
            s.max_entries as i64,
            s.enabled,
            s.origin,
            s.reach == Reach::Local,
            s.secret_path,
            json_field,
            min_score,
            floor_v4,
            floor_v6
        ],
    )?;
    Ok(())
}

pub fn source(conn: &Connection, name: &str) -> Result<Option<SourceRow>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {SOURCE_COLUMNS} FROM blocklist_sources WHERE name = ?1"),
            [name],
            read_source,
        )
        .optional()?)
}

pub fn sources(conn: &Connection) -> Result<Vec<SourceRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {SOURCE_COLUMNS} FROM blocklist_sources ORDER BY name"
    ))?;
    let rows = stmt.query_map([], read_source)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_enabled(conn: &Connection, name: &str, enabled: bool) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE blocklist_sources SET enabled = ?2 WHERE name = ?1",
        params![name, enabled],
    )? > 0)
}

/// How a run ended, for the source's schedule and conditional downloads.
pub fn record_attempt(
    conn: &Connection,
    name: &str,
    now: i64,
    success: Option<(&super::fetch::Validators, Option<&[u8]>)>,
) -> Result<(), StoreError> {
    match success {
        Some((v, hash)) => conn.execute(
            "UPDATE blocklist_sources SET failure_streak = 0, last_attempt_at = ?2, last_success_at = ?2,
                etag = ?3, last_modified = ?4, content_sha256 = coalesce(?5, content_sha256)
             WHERE name = ?1",
            params![name, now, v.etag, v.last_modified, hash],
        )?,
        None => conn.execute(
            "UPDATE blocklist_sources SET failure_streak = failure_streak + 1, last_attempt_at = ?2
             WHERE name = ?1",
            params![name, now],
        )?,
    };
    Ok(())
}

/// Deletes a source and its entries. Its bans that no source lists any more
/// are released: bangui stops managing them and fail2ban expires them.
pub fn delete_source(
    conn: &mut Connection,
    name: &str,
    jail: &str,
    default_jail: &str,
) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    let deleted = tx.execute("DELETE FROM blocklist_sources WHERE name = ?1", [name])?;
    let released = release_orphans(&tx, jail, default_jail)?;
    tx.commit()?;
    Ok(if deleted > 0 { released as u64 } else { 0 })
}

fn release_orphans(
    tx: &Transaction<'_>,
    jail: &str,
    default_jail: &str,
) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "DELETE FROM blocklist_bans WHERE jail = ?1 AND NOT EXISTS (
             SELECT 1 FROM blocklist_entries e JOIN blocklist_sources s ON s.name = e.source
             WHERE e.target = blocklist_bans.target AND coalesce(s.jail, ?2) = ?1)",
        params![jail, default_jail],
    )?)
}

fn targets(
    rows: impl Iterator<Item = rusqlite::Result<String>>,
) -> Result<Vec<Target>, StoreError> {
    let mut out = Vec::new();
    for text in rows {
        let text = text?;
        // Rows are written by bangui in canonical form; anything else is skipped.
        if let Ok(t) = Target::parse(&text) {
            out.push(t);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// A source's entries, sorted.
pub fn entries(conn: &Connection, source: &str) -> Result<Vec<Target>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT target FROM blocklist_entries WHERE source = ?1")?;
    let rows = stmt.query_map([source], |r| r.get::<_, String>(0))?;
    targets(rows)
}

pub fn count_entries(conn: &Connection, source: &str) -> Result<u64, StoreError> {
    Ok(conn
        .query_row(
            "SELECT count(*) FROM blocklist_entries WHERE source = ?1",
            [source],
            |r| r.get::<_, i64>(0),
        )?
        .max(0) as u64)
}

/// Of a source's entries, how many bangui has banned in `jail`.
pub fn count_banned(conn: &Connection, source: &str, jail: &str) -> Result<u64, StoreError> {
    Ok(conn
        .query_row(
            "SELECT count(*) FROM blocklist_entries e JOIN blocklist_bans b
           ON b.target = e.target AND b.jail = ?2 WHERE e.source = ?1",
            params![source, jail],
            |r| r.get::<_, i64>(0),
        )?
        .max(0) as u64)
}

/// Of `candidates`, those another enabled source in the same jail lists.
pub fn listed_elsewhere(
    conn: &Connection,
    source: &str,
    jail: &str,
    default_jail: &str,
    candidates: &[Target],
) -> Result<HashSet<Target>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM blocklist_entries e JOIN blocklist_sources s ON s.name = e.source
         WHERE e.target = ?1 AND e.source != ?2 AND s.enabled AND coalesce(s.jail, ?3) = ?4 LIMIT 1",
    )?;
    let mut out = HashSet::new();
    for t in candidates {
        if stmt.exists(params![t.to_string(), source, default_jail, jail])? {
            out.insert(*t);
        }
    }
    Ok(out)
}

/// Bans in `jail` that no source (enabled or not) lists: left by deferred unbans.
pub fn orphans(
    conn: &Connection,
    jail: &str,
    default_jail: &str,
) -> Result<Vec<Target>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT target FROM blocklist_bans b WHERE jail = ?1 AND NOT EXISTS (
             SELECT 1 FROM blocklist_entries e JOIN blocklist_sources s ON s.name = e.source
             WHERE e.target = b.target AND coalesce(s.jail, ?2) = ?1)",
    )?;
    let rows = stmt.query_map(params![jail, default_jail], |r| r.get::<_, String>(0))?;
    targets(rows)
}

/// Bans whose unban was put off; the next run tries again.
pub fn pending_unbans(conn: &Connection, jail: &str) -> Result<Vec<Target>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT target FROM blocklist_bans WHERE jail = ?1 AND pending_unban")?;
    let rows = stmt.query_map([jail], |r| r.get::<_, String>(0))?;
    targets(rows)
}

pub fn mark_pending(conn: &mut Connection, jail: &str, list: &[Target]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE blocklist_bans SET pending_unban = 1 WHERE jail = ?1 AND target = ?2",
        )?;
        let mut buf = String::new();
        for t in list {
            text(&mut buf, t);
            stmt.execute(params![jail, buf])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A jail's ban records: every target (sorted), and those whose batch fail2ban
/// has not acknowledged, with the batch.
#[derive(Debug, Default)]
pub struct BanRecords {
    pub targets: Vec<Target>,
    pub unconfirmed: Vec<(Target, i64)>,
}

pub fn bans(conn: &Connection, jail: &str) -> Result<BanRecords, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.target, b.chunk, c.confirmed_at IS NOT NULL FROM blocklist_bans b
         LEFT JOIN blocklist_chunks c ON c.id = b.chunk WHERE b.jail = ?1",
    )?;
    let mut rows = stmt.query([jail])?;
    let mut out = BanRecords::default();
    while let Some(row) = rows.next()? {
        if let Ok(target) = Target::parse(row.get_ref(0)?.as_str()?) {
            out.targets.push(target);
            if !row.get::<_, bool>(2)? {
                out.unconfirmed.push((target, row.get(1)?));
            }
        }
    }
    out.targets.sort_unstable();
    Ok(out)
}

/// Targets in `jail` whose batch fail2ban acknowledged at or before `cutoff`.
pub fn confirmed_before(
    conn: &Connection,
    jail: &str,
    cutoff: i64,
) -> Result<Vec<Target>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.target FROM blocklist_bans b JOIN blocklist_chunks c ON c.id = b.chunk
         WHERE b.jail = ?1 AND c.confirmed_at <= ?2",
    )?;
    let rows = stmt.query_map(params![jail, cutoff], |r| r.get::<_, String>(0))?;
    targets(rows)
}

/// What reconciling with fail2ban and the new list changes before any request.
pub struct Prelude<'a> {
    pub source: &'a str,
    pub jail: &'a str,
    pub run: &'a ImportRunInfo,
    /// Entries the source no longer lists, and new entries that need no ban
    /// request (those that do are written with their batch).
    pub removed: &'a [Target],
    pub added: &'a [Target],
    /// Recorded bans fail2ban does not hold.
    pub lost: &'a [Target],
    /// Unconfirmed batches whose bans fail2ban does hold.
    pub confirm: &'a [i64],
    /// Listed targets fail2ban already bans that bangui had not recorded.
    pub adopt: &'a [Target],
    pub now: i64,
}

/// Writes the new list and the reconciliation in one transaction.
pub fn prelude(conn: &mut Connection, p: &Prelude<'_>) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut del =
            tx.prepare_cached("DELETE FROM blocklist_entries WHERE source = ?1 AND target = ?2")?;
        let mut buf = String::new();
        for t in p.removed {
            text(&mut buf, t);
            del.execute(params![p.source, buf])?;
        }
        let mut forget =
            tx.prepare_cached("DELETE FROM blocklist_bans WHERE jail = ?1 AND target = ?2")?;
        for t in p.lost {
            text(&mut buf, t);
            forget.execute(params![p.jail, buf])?;
        }
        let mut confirm = tx.prepare_cached(
            "UPDATE blocklist_chunks SET confirmed_at = ?2 WHERE id = ?1 AND confirmed_at IS NULL",
        )?;
        for id in p.confirm {
            confirm.execute(params![id, p.now])?;
        }
    }
    put_entries(&tx, p.source, p.added, p.now)?;
    if !p.adopt.is_empty() {
        let chunk = new_chunk(&tx, p.run.id, p.jail, "ban", p.adopt.len(), p.now, true)?;
        put_bans(&tx, p.jail, p.adopt, chunk)?;
    }
    update_run(&tx, p.run)?;
    tx.commit()?;
    Ok(())
}

fn put_entries(
    tx: &Transaction<'_>,
    source: &str,
    list: &[Target],
    now: i64,
) -> Result<(), StoreError> {
    // An entry listed already keeps the time it was first listed.
    let mut add = tx.prepare_cached(
        "INSERT OR IGNORE INTO blocklist_entries (source, target, listed_at) VALUES (?1, ?2, ?3)",
    )?;
    let mut buf = String::new();
    for t in list {
        text(&mut buf, t);
        add.execute(params![source, buf, now])?;
    }
    Ok(())
}

fn text(buf: &mut String, t: &Target) {
    use std::fmt::Write as _;
    buf.clear();
    let _ = write!(buf, "{t}");
}

fn new_chunk(
    tx: &Transaction<'_>,
    run: u64,
    jail: &str,
    action: &str,
    size: usize,
    now: i64,
    confirmed: bool,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO blocklist_chunks (run, jail, action, size, sent_at, confirmed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            run as i64,
            jail,
            action,
            size as i64,
            now,
            confirmed.then_some(now)
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn put_bans(
    tx: &Transaction<'_>,
    jail: &str,
    targets: &[Target],
    chunk: i64,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO blocklist_bans (jail, target, chunk) VALUES (?1, ?2, ?3)
         ON CONFLICT (jail, target) DO UPDATE SET chunk = excluded.chunk, pending_unban = 0",
    )?;
    let mut buf = String::new();
    for t in targets {
        text(&mut buf, t);
        stmt.execute(params![jail, buf, chunk])?;
    }
    Ok(())
}

/// Before a batch goes out: confirms the previous one (acknowledged by fail2ban)
/// and records the next with its bans, with the run's progress, in one transaction.
/// The batch a ban step records: its jail and targets, and which of them are
/// new entries of the source (written with their bans, so a crash leaves both
/// or neither).
pub struct NextBatch<'a> {
    pub jail: &'a str,
    pub targets: &'a [Target],
    pub source: &'a str,
    pub new_entries: &'a [Target],
}

pub fn ban_step(
    conn: &mut Connection,
    run: &ImportRunInfo,
    confirm: Option<i64>,
    next: Option<NextBatch<'_>>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let tx = conn.transaction()?;
    if let Some(id) = confirm {
        tx.execute(
            "UPDATE blocklist_chunks SET confirmed_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
    }
    let id = match next {
        Some(b) => {
            let id = new_chunk(&tx, run.id, b.jail, "ban", b.targets.len(), now, false)?;
            put_bans(&tx, b.jail, b.targets, id)?;
            put_entries(&tx, b.source, b.new_entries, now)?;
            Some(id)
        }
        None => None,
    };
    update_run(&tx, run)?;
    tx.commit()?;
    Ok(id)
}

/// Records an unban batch before it goes out.
pub fn unban_intent(
    conn: &mut Connection,
    run: &ImportRunInfo,
    jail: &str,
    size: usize,
    now: i64,
) -> Result<i64, StoreError> {
    let tx = conn.transaction()?;
    let id = new_chunk(&tx, run.id, jail, "unban", size, now, false)?;
    tx.commit()?;
    Ok(id)
}

/// After fail2ban acknowledged an unban batch: the bans are gone.
pub fn unban_done(
    conn: &mut Connection,
    run: &ImportRunInfo,
    chunk: i64,
    jail: &str,
    targets: &[Target],
    now: i64,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE blocklist_chunks SET confirmed_at = ?2 WHERE id = ?1",
        params![chunk, now],
    )?;
    {
        let mut stmt =
            tx.prepare_cached("DELETE FROM blocklist_bans WHERE jail = ?1 AND target = ?2")?;
        let mut buf = String::new();
        for t in targets {
            text(&mut buf, t);
            stmt.execute(params![jail, buf])?;
        }
    }
    update_run(&tx, run)?;
    tx.commit()?;
    Ok(())
}

const RUN_COLUMNS: &str = "id, source, jail, trigger, status, started_at, finished_at, content_sha256, \
     download, lines, entries, invalid, duplicates, too_broad, refused, over_cap, lost, to_ban, banned, \
     to_unban, unbanned, deferred, samples, refused_by, error, below_score, folded";

pub fn insert_run(conn: &Connection, run: &ImportRunInfo) -> Result<u64, StoreError> {
    conn.execute(
        "INSERT INTO import_runs (source, jail, trigger, status, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![run.source, run.jail, run.trigger, run.status, run.started_at],
    )?;
    Ok(conn.last_insert_rowid().max(0) as u64)
}

pub fn update_run(conn: &Connection, r: &ImportRunInfo) -> Result<(), StoreError> {
    let hash = r
        .content_sha256
        .as_deref()
        .and_then(|h| hex::decode(h).ok());
    let samples = serde_json::to_string(&r.samples).unwrap_or_else(|_| "[]".into());
    let refused_by: serde_json::Map<String, serde_json::Value> = r
        .refused_by
        .iter()
        .map(|c| (c.reason.clone(), c.count.into()))
        .collect();
    let refused_by = serde_json::Value::Object(refused_by).to_string();
    let n = |v: u64| v as i64;
    conn.prepare_cached(
        "UPDATE import_runs SET status = ?2, finished_at = ?3, content_sha256 = ?4, download = ?5,
            lines = ?6, entries = ?7, invalid = ?8, duplicates = ?9, too_broad = ?10, refused = ?11,
            over_cap = ?12, lost = ?13, to_ban = ?14, banned = ?15, to_unban = ?16, unbanned = ?17,
            deferred = ?18, samples = ?19, refused_by = ?20, error = ?21, below_score = ?22,
            folded = ?23
         WHERE id = ?1",
    )?
    .execute(params![
        n(r.id),
        r.status,
        r.finished_at,
        hash,
        r.download,
        n(r.lines),
        n(r.entries),
        n(r.invalid),
        n(r.duplicates),
        n(r.too_broad),
        n(r.refused),
        n(r.over_cap),
        n(r.lost),
        n(r.to_ban),
        n(r.banned),
        n(r.to_unban),
        n(r.unbanned),
        n(r.deferred),
        samples,
        refused_by,
        r.error
            .as_deref()
            .map(|e| e.chars().take(2000).collect::<String>()),
        n(r.below_score),
        n(r.folded),
    ])?;
    Ok(())
}

/// Finishes a run and keeps the newest `keep` runs of its source; old
/// acknowledged batches no ban points at go too.
pub fn finish_run(conn: &mut Connection, r: &ImportRunInfo, keep: u32) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    update_run(&tx, r)?;
    tx.execute(
        "DELETE FROM import_runs WHERE source = ?1 AND id <= (
             SELECT id FROM import_runs WHERE source = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        params![r.source, keep],
    )?;
    tx.execute(
        "DELETE FROM blocklist_chunks WHERE confirmed_at IS NOT NULL
           AND id NOT IN (SELECT DISTINCT chunk FROM blocklist_bans)",
        [],
    )?;
    tx.commit()?;
    Ok(())
}

fn read_run(row: &Row<'_>) -> rusqlite::Result<ImportRunInfo> {
    let u = |i: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(i)?.max(0) as u64) };
    let samples: String = row.get(22)?;
    let refused_by: String = row.get(23)?;
    let refused_by: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&refused_by).unwrap_or_default();
    Ok(ImportRunInfo {
        id: u(0)?,
        source: row.get(1)?,
        jail: row.get(2)?,
        trigger: row.get(3)?,
        status: row.get(4)?,
        started_at: row.get(5)?,
        finished_at: row.get(6)?,
        content_sha256: row.get::<_, Option<Vec<u8>>>(7)?.map(hex::encode),
        download: row.get(8)?,
        lines: u(9)?,
        entries: u(10)?,
        invalid: u(11)?,
        duplicates: u(12)?,
        too_broad: u(13)?,
        below_score: u(25)?,
        folded: u(26)?,
        refused: u(14)?,
        over_cap: u(15)?,
        lost: u(16)?,
        to_ban: u(17)?,
        banned: u(18)?,
        to_unban: u(19)?,
        unbanned: u(20)?,
        deferred: u(21)?,
        samples: serde_json::from_str(&samples).unwrap_or_default(),
        refused_by: refused_by
            .into_iter()
            .map(|(reason, count)| ReasonCount {
                reason,
                count: count.as_u64().unwrap_or(0),
            })
            .collect(),
        error: row.get(24)?,
    })
}

pub fn runs(
    conn: &Connection,
    source: Option<&str>,
    running: bool,
    limit: u32,
) -> Result<Vec<ImportRunInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM import_runs
         WHERE (?1 IS NULL OR source = ?1) AND (NOT ?2 OR status = 'running')
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![source, running, limit], read_run)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn last_run(conn: &Connection, source: &str) -> Result<Option<ImportRunInfo>, StoreError> {
    Ok(runs(conn, Some(source), false, 1)?.into_iter().next())
}

pub fn mark_interrupted(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE import_runs SET status = 'interrupted', finished_at = ?1,
             error = 'the import stopped before it finished (daemon killed, timed out or shut down)'
         WHERE status = 'running'",
        [now],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrate;

    fn downloaded(conn: &Connection, name: &str) {
        let v = super::super::fetch::Validators {
            etag: Some("\"e1\"".into()),
            last_modified: Some("Mon, 01 Dec 2026 00:00:00 GMT".into()),
        };
        record_attempt(conn, name, 5, Some((&v, None))).unwrap();
    }

    #[test]
    fn formats_round_trip_and_a_changed_one_forgets_the_validators() {
        let (_dir, conn) = migrate::temp_db();
        let mut row = SourceRow::new(
            "drop".into(),
            "https://example.net/drop_v4.json".into(),
            None,
            3600,
            1000,
            true,
            "config",
        );
        row.format = Format {
            json_field: Some("cidr".into()),
            min_score: Some(3),
            floor_v4: 16,
            ..Format::default()
        };
        insert_source(&conn, &row, 1).unwrap();
        let read = source(&conn, "drop").unwrap().unwrap();
        assert_eq!(read.format, row.format);
        // Defaults are stored as NULL, so a later default applies to them.
        let stored: Option<i64> = conn
            .query_row(
                "SELECT min_prefix_v6 FROM blocklist_sources WHERE name = 'drop'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, None);

        downloaded(&conn, "drop");
        update_definition(&conn, &row).unwrap();
        assert!(
            source(&conn, "drop").unwrap().unwrap().etag.is_some(),
            "nothing changed"
        );
        row.format.min_score = Some(5);
        update_definition(&conn, &row).unwrap();
        let read = source(&conn, "drop").unwrap().unwrap();
        assert_eq!(read.format.min_score, Some(5));
        assert_eq!(
            (read.etag, read.last_modified),
            (None, None),
            "read again the new way"
        );
    }
}
