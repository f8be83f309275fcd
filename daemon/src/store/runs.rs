//! The `job_runs` table.

use bangui_proto::messages::{Outcome, RunRecord, Trigger};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

/// Longest summary or error text kept per run.
const MAX_TEXT: usize = 2000;

const COLUMNS: &str =
    "run_id, job_id, trigger, started_at, finished_at, duration_ms, outcome, summary, error";

pub fn insert(conn: &Connection, run: &RunRecord) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO job_runs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            run.run_id,
            run.job_id,
            run.trigger.as_str(),
            run.started_at,
            run.finished_at,
            run.duration_ms,
            run.outcome.as_str(),
            clip(&run.summary),
            run.error.as_deref().map(clip),
        ],
    )?;
    Ok(())
}

/// Records how a run ended and drops all but the newest `keep` runs of its job.
pub fn finish(conn: &mut Connection, run: &RunRecord, keep: u32) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE job_runs SET finished_at = ?2, duration_ms = ?3, outcome = ?4, summary = ?5, error = ?6
         WHERE run_id = ?1",
        params![
            run.run_id,
            run.finished_at,
            run.duration_ms,
            run.outcome.as_str(),
            clip(&run.summary),
            run.error.as_deref().map(clip),
        ],
    )?;
    tx.execute(
        "DELETE FROM job_runs WHERE job_id = ?1 AND seq <= (
             SELECT seq FROM job_runs WHERE job_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
        params![run.job_id, keep],
    )?;
    tx.commit()?;
    Ok(())
}

/// Marks runs left `running` by a daemon that died as interrupted; returns how many.
pub fn mark_interrupted(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE job_runs SET outcome = 'interrupted',
             error = 'the daemon stopped before the run finished'
         WHERE outcome = 'running'",
        [],
    )?)
}

/// Newest first, optionally of one job.
pub fn list(
    conn: &Connection,
    job_id: Option<&str>,
    limit: u32,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM job_runs WHERE (?1 IS NULL OR job_id = ?1)
         ORDER BY seq DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![job_id, limit], read)?;
    collect(rows)
}

pub fn get(conn: &Connection, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM job_runs WHERE run_id = ?1"))?;
    let row = stmt.query_row([run_id], read).optional()?;
    row.transpose()
}

/// The newest finished run of every job.
pub fn last_finished(conn: &Connection) -> Result<Vec<RunRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM job_runs WHERE seq IN (
             SELECT max(seq) FROM job_runs WHERE outcome != 'running' GROUP BY job_id)"
    ))?;
    let rows = stmt.query_map([], read)?;
    collect(rows)
}

/// Per job, how many of its newest finished runs failed or timed out in a
/// row (cancelled and interrupted runs neither count nor break the streak).
pub fn failure_streaks(conn: &Connection) -> Result<Vec<(String, u32)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT job_id, outcome FROM job_runs WHERE outcome != 'running' ORDER BY job_id, seq DESC",
    )?;
    let mut rows = stmt.query([])?;
    let mut out: Vec<(String, u32, bool)> = Vec::new();
    while let Some(row) = rows.next()? {
        let job: String = row.get(0)?;
        let outcome: String = row.get(1)?;
        if out.last().is_none_or(|(j, _, _)| *j != job) {
            out.push((job, 0, false));
        }
        let Some((_, streak, ended)) = out.last_mut() else {
            continue;
        };
        if *ended {
            continue;
        }
        match outcome.as_str() {
            "failed" | "timed-out" => *streak += 1,
            "ok" => *ended = true,
            _ => {}
        }
    }
    Ok(out.into_iter().map(|(j, s, _)| (j, s)).collect())
}

type Read = Result<RunRecord, StoreError>;

fn read(r: &Row<'_>) -> rusqlite::Result<Read> {
    let trigger: String = r.get(2)?;
    let outcome: String = r.get(6)?;
    let Some(trigger) = Trigger::parse(&trigger) else {
        return Ok(Err(StoreError::Corrupt(format!(
            "job run trigger `{trigger}`"
        ))));
    };
    let Some(outcome) = Outcome::parse(&outcome) else {
        return Ok(Err(StoreError::Corrupt(format!(
            "job run outcome `{outcome}`"
        ))));
    };
    Ok(Ok(RunRecord {
        run_id: r.get(0)?,
        job_id: r.get(1)?,
        trigger,
        started_at: r.get(3)?,
        finished_at: r.get(4)?,
        duration_ms: r.get(5)?,
        outcome,
        summary: r.get(7)?,
        error: r.get(8)?,
    }))
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Read>>,
) -> Result<Vec<RunRecord>, StoreError> {
    rows.map(|r| r?).collect()
}

fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrate;

    fn db() -> (tempfile::TempDir, Connection) {
        migrate::temp_db()
    }

    fn record(id: &str, job: &str) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            job_id: job.into(),
            trigger: Trigger::Schedule,
            started_at: 10,
            finished_at: None,
            duration_ms: None,
            outcome: Outcome::Running,
            summary: String::new(),
            error: None,
        }
    }

    #[test]
    fn runs_round_trip_and_are_pruned_per_job() {
        let (_dir, mut conn) = db();
        for i in 0..5 {
            let mut r = record(&format!("a{i}"), "a");
            insert(&conn, &r).unwrap();
            r.outcome = Outcome::Ok;
            r.finished_at = Some(11);
            r.summary = format!("did {i}");
            finish(&mut conn, &r, 3).unwrap();
        }
        insert(&conn, &record("b0", "b")).unwrap();
        let a = list(&conn, Some("a"), 100).unwrap();
        assert_eq!(
            a.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["a4", "a3", "a2"]
        );
        assert_eq!(a[0].summary, "did 4");
        assert_eq!(list(&conn, None, 100).unwrap().len(), 4);
        assert_eq!(get(&conn, "b0").unwrap().unwrap().outcome, Outcome::Running);
        assert!(get(&conn, "zz").unwrap().is_none());

        let last = last_finished(&conn).unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].run_id, "a4");

        assert_eq!(mark_interrupted(&conn).unwrap(), 1);
        assert_eq!(
            get(&conn, "b0").unwrap().unwrap().outcome,
            Outcome::Interrupted
        );
    }

    #[test]
    fn failure_streaks_survive_a_restart() {
        let (_dir, mut conn) = db();
        let run = |conn: &mut Connection, id: &str, job: &str, outcome: Outcome| {
            let mut r = record(id, job);
            insert(conn, &r).unwrap();
            r.outcome = outcome;
            r.finished_at = Some(11);
            finish(conn, &r, 100).unwrap();
        };
        // a: ok, then failed, cancelled (neither counts nor breaks), timed out, failed.
        for (i, o) in [
            Outcome::Ok,
            Outcome::Failed,
            Outcome::Cancelled,
            Outcome::TimedOut,
            Outcome::Failed,
        ]
        .into_iter()
        .enumerate()
        {
            run(&mut conn, &format!("a{i}"), "a", o);
        }
        run(&mut conn, "b0", "b", Outcome::Failed);
        run(&mut conn, "b1", "b", Outcome::Ok);
        let streaks = failure_streaks(&conn).unwrap();
        assert_eq!(streaks, [("a".to_string(), 3), ("b".to_string(), 0)]);
    }

    #[test]
    fn long_text_is_clipped_on_a_char_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_TEXT);
        assert!(clipped.chars().all(|c| c == 'é'));
    }
}
