//! Which networks hold an address, from bangui's own records: what sources
//! list (`blocklist_entries`) and what the archive has bans of
//! (`ban_history`). fail2ban only knows exact tickets, so "is 1.10.16.5
//! banned?" is answered by finding the candidate networks here and asking
//! fail2ban about those alone.

use rusqlite::Connection;

use crate::store::StoreError;
use crate::targets::Target;

/// A source's listing of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub source: String,
    pub jail: String,
    pub entry: Target,
    pub since: Option<i64>,
}

/// An archived ban of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub jail: String,
    pub banned: Target,
    pub time_of_ban: i64,
    /// Seconds; negative: permanent.
    pub bantime: i64,
}

/// What bangui knows of `target` and of the networks that hold it (the
/// target itself first, then broadest to narrowest).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Known {
    pub listed: Vec<Listed>,
    pub archived: Vec<Archived>,
}

impl Known {
    /// The networks among these that hold the target (not the target).
    pub fn networks(&self, target: &Target) -> Vec<Target> {
        let mut nets: Vec<Target> = self
            .listed
            .iter()
            .map(|l| l.entry)
            .chain(self.archived.iter().map(|a| a.banned))
            .filter(|n| n != target)
            .collect();
        nets.sort();
        nets.dedup();
        nets
    }

    pub fn sources_of(&self, entry: &Target) -> Vec<String> {
        let mut s: Vec<String> = self
            .listed
            .iter()
            .filter(|l| l.entry == *entry)
            .map(|l| l.source.clone())
            .collect();
        s.sort();
        s.dedup();
        s
    }

    /// Jails whose archived bans of `entry` are in force at `now`.
    pub fn archived_jails_of(&self, entry: &Target, now: i64) -> Vec<String> {
        let mut j: Vec<String> = self
            .archived
            .iter()
            .filter(|a| a.banned == *entry)
            .filter(|a| a.bantime < 0 || a.time_of_ban.saturating_add(a.bantime) > now)
            .map(|a| a.jail.clone())
            .collect();
        j.sort();
        j.dedup();
        j
    }

    /// The newest archived ban of `banned` in `jail`.
    pub fn latest(&self, jail: &str, banned: &Target) -> Option<&Archived> {
        self.archived
            .iter()
            .filter(|a| a.jail == jail && a.banned == *banned)
            .max_by_key(|a| a.time_of_ban)
    }
}

/// Beyond this many targets, the prefix lengths in use are read once and
/// only those supernets looked up (one scan instead of up to 224 lookups a
/// target).
const LOOK_UP_EVERY_LENGTH_UP_TO: usize = 64;

/// [`known`] for many targets.
pub fn known_all(
    conn: &Connection,
    targets: &[Target],
    default_jail: &str,
) -> Result<Vec<Known>, StoreError> {
    let lengths = if targets.len() > LOOK_UP_EVERY_LENGTH_UP_TO {
        Some(lengths_in_use(conn)?)
    } else {
        None
    };
    targets
        .iter()
        .map(|t| lookup(conn, t, default_jail, lengths.as_ref()))
        .collect()
}

/// The prefix lengths of the networks sources list or the archive holds,
/// per family (IPv4, IPv6).
fn lengths_in_use(conn: &Connection) -> Result<[Vec<u8>; 2], StoreError> {
    let mut lengths: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for sql in [
        "SELECT DISTINCT target FROM blocklist_entries WHERE instr(target, '/')",
        "SELECT DISTINCT ip FROM ban_history WHERE instr(ip, '/')",
    ] {
        let mut stmt = conn.prepare_cached(sql)?;
        let texts = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for text in texts {
            if let Ok(t) = Target::parse(&text?) {
                let family = usize::from(t.net().addr().is_ipv6());
                let len = t.net().prefix_len();
                if !lengths[family].contains(&len) {
                    lengths[family].push(len);
                }
            }
        }
    }
    Ok(lengths)
}

/// Looks up `target` and every network that holds it: a few dozen indexed
/// lookups (24 supernets for an IPv4 address, 112 for IPv6).
pub fn known(conn: &Connection, target: &Target, default_jail: &str) -> Result<Known, StoreError> {
    lookup(conn, target, default_jail, None)
}

fn lookup(
    conn: &Connection,
    target: &Target,
    default_jail: &str,
    lengths: Option<&[Vec<u8>; 2]>,
) -> Result<Known, StoreError> {
    let mut listed_stmt = conn.prepare_cached(
        "SELECT e.source, coalesce(s.jail, ?2), e.listed_at FROM blocklist_entries e
           JOIN blocklist_sources s ON s.name = e.source
          WHERE e.target = ?1 ORDER BY e.source",
    )?;
    let mut archived_stmt = conn.prepare_cached(
        "SELECT jail, time_of_ban, bantime FROM ban_history WHERE ip = ?1 ORDER BY time_of_ban",
    )?;
    let mut known = Known::default();
    let mut candidates = vec![*target];
    let family = usize::from(target.net().addr().is_ipv6());
    candidates.extend(
        target
            .supernets()
            .into_iter()
            .filter(|n| lengths.is_none_or(|l| l[family].contains(&n.net().prefix_len()))),
    );
    for entry in candidates {
        let text = entry.to_string();
        let rows = listed_stmt.query_map(rusqlite::params![text, default_jail], |r| {
            Ok(Listed {
                source: r.get(0)?,
                jail: r.get(1)?,
                entry,
                since: r.get(2)?,
            })
        })?;
        for row in rows {
            known.listed.push(row?);
        }
        let rows = archived_stmt.query_map([&text], |r| {
            Ok(Archived {
                jail: r.get(0)?,
                banned: entry,
                time_of_ban: r.get(1)?,
                bantime: r.get(2)?,
            })
        })?;
        for row in rows {
            known.archived.push(row?);
        }
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrate;

    #[test]
    fn listed_and_archived_networks_that_hold_an_address_are_found() {
        let (_dir, conn) = migrate::temp_db();
        conn.execute_batch(
            "INSERT INTO blocklist_sources (name, url, interval_secs, max_entries, origin, created_at)
               VALUES ('drop', 'https://x/', 60, 10, 'ctl', 1), ('other', 'https://y/', 60, 10, 'ctl', 1);
             UPDATE blocklist_sources SET jail = 'web' WHERE name = 'other';
             INSERT INTO blocklist_entries (source, target, listed_at) VALUES
               ('drop', '1.10.16.0/20', 100), ('other', '1.10.16.5', NULL), ('drop', '1.10.32.0/20', 5);
             INSERT INTO ban_history (jail, ip, time_of_ban, bantime, bancount, synced_at) VALUES
               ('bangui-blocklist', '1.10.16.0/20', 200, 86400, 1, 201),
               ('sshd', '1.10.0.0/16', 300, -1, 1, 301),
               ('sshd', '9.9.9.9', 300, 60, 1, 301);",
        )
        .unwrap();
        let target = Target::parse("1.10.16.5").unwrap();
        let k = known(&conn, &target, "bangui-blocklist").unwrap();
        let nets: Vec<String> = k.networks(&target).iter().map(Target::to_string).collect();
        assert_eq!(nets, ["1.10.0.0/16", "1.10.16.0/20"]);
        let listed: Vec<(String, String, String, Option<i64>)> = k
            .listed
            .iter()
            .map(|l| {
                (
                    l.source.clone(),
                    l.jail.clone(),
                    l.entry.to_string(),
                    l.since,
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("other".into(), "web".into(), "1.10.16.5".into(), None),
                (
                    "drop".into(),
                    "bangui-blocklist".into(),
                    "1.10.16.0/20".into(),
                    Some(100)
                ),
            ]
        );
        let net = Target::parse("1.10.16.0/20").unwrap();
        assert_eq!(k.sources_of(&net), ["drop"]);
        assert_eq!(k.latest("bangui-blocklist", &net).unwrap().time_of_ban, 200);
        let wide = Target::parse("1.10.0.0/16").unwrap();
        assert_eq!(k.archived_jails_of(&wide, 1_000_000), ["sshd"], "permanent");
        assert_eq!(k.archived_jails_of(&net, 1_000), ["bangui-blocklist"]);
        assert!(
            k.archived_jails_of(&net, 200 + 86_400).is_empty(),
            "its time is up"
        );
        // A network is looked up with the networks that hold it, not those inside.
        let k = known(&conn, &net, "bangui-blocklist").unwrap();
        assert_eq!(k.networks(&net).len(), 1);
        // Many at once: only the lengths in use are looked up, same answers.
        let many: Vec<Target> = (0..100)
            .map(|i| Target::parse(&format!("1.10.16.{i}")).unwrap())
            .collect();
        let all = known_all(&conn, &many, "bangui-blocklist").unwrap();
        assert_eq!(all[5], known(&conn, &many[5], "bangui-blocklist").unwrap());
        assert_eq!(all[5].networks(&many[5]).len(), 2);
    }
}
