//! Blocklist text → distinct targets. Fed chunk by chunk as the body arrives,
//! so a list is never held in memory twice.
//!
//! Accepted per line: an address or a network, optionally followed by other
//! columns; `#` and `;` start comments (whole-line or inline); blank lines,
//! CRLF, a UTF-8 BOM and surrounding white space are fine. The DShield
//! "start end prefix …" form becomes start/prefix. Ranges (`a-b`, `a - b`,
//! and P2P's `label:a-b`) become the fewest prefixes that cover them. A line
//! that is a JSON object (NDJSON, as Spamhaus ships its DROP lists) gives
//! its `cidr` field (or [`Format::json_field`]); objects without it, such as
//! a closing metadata record, are skipped like comments. A body that is one
//! JSON array gives its strings, or that field of its objects. Invalid lines
//! are counted and a few kept as samples; they never fail the list. A NUL
//! byte (a binary body), an absurdly long line or a JSON array that does not
//! parse does.

use std::collections::HashSet;

use bangui_proto::messages::ListFormat;

use crate::targets::{MIN_PREFIX_V4, MIN_PREFIX_V6, Target};

/// A UTF-8 byte order mark, which some lists start with.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longer lines mean this is not a blocklist.
pub const MAX_LINE: usize = 4096;
/// Invalid lines kept for the run record.
pub const MAX_SAMPLES: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is binary (a NUL byte on line {0}), not a blocklist")]
    Binary(u64),
    #[error("line {0} is longer than {MAX_LINE} bytes; this is not a blocklist")]
    LineTooLong(u64),
    #[error("the body is a JSON array that cannot be read: {0}")]
    Json(String),
}

/// JSON fields tried, in order, when a source names none.
pub const JSON_FIELDS: &[&str] = &["cidr", "ip", "network", "address", "prefix"];

/// How one source's list is read, beyond what every list gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// The field of JSON records holding the address or network; `None`
    /// tries [`JSON_FIELDS`].
    pub json_field: Option<String>,
    /// Scored lists (ipsum: the second column counts the lists an address
    /// is on): lines whose second column is below this are left out.
    pub min_score: Option<u64>,
    /// The broadest network accepted, per family (never broader than the
    /// daemon-wide floor, [`MIN_PREFIX_V4`] and [`MIN_PREFIX_V6`]).
    pub floor_v4: u8,
    pub floor_v6: u8,
}

/// A format setting that cannot be: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct FormatError {
    /// The config file's key (`min_prefix_v4`, …).
    pub key: &'static str,
    pub why: String,
}

impl Format {
    /// What a source asked for (`blocklist add`, the config file), checked.
    /// Floors may only be narrower than the daemon-wide ones.
    pub fn checked(wire: &ListFormat) -> Result<Format, FormatError> {
        let default = Format::default();
        let floor = |given: Option<u8>, broadest: u8, width: u8, key: &'static str| match given {
            None => Ok(broadest),
            Some(v) if (broadest..=width).contains(&v) => Ok(v),
            Some(v) => Err(FormatError {
                key,
                why: format!(
                    "{v} cannot be: give a prefix length from {broadest} to {width} (networks broader than /{broadest} are never banned)"
                ),
            }),
        };
        if let Some(field) = &wire.json_field
            && (field.is_empty()
                || field.len() > 64
                || field.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(FormatError {
                key: "json_field",
                why: format!(
                    "{field:?} cannot be: give the name of a JSON field, such as \"cidr\""
                ),
            });
        }
        Ok(Format {
            json_field: wire.json_field.clone(),
            min_score: wire.min_score,
            floor_v4: floor(wire.min_prefix_v4, default.floor_v4, 32, "min_prefix_v4")?,
            floor_v6: floor(wire.min_prefix_v6, default.floor_v6, 128, "min_prefix_v6")?,
        })
    }

    /// As shown: only what differs from the default.
    pub fn wire(&self) -> ListFormat {
        let default = Format::default();
        ListFormat {
            json_field: self.json_field.clone(),
            min_score: self.min_score,
            min_prefix_v4: (self.floor_v4 != default.floor_v4).then_some(self.floor_v4),
            min_prefix_v6: (self.floor_v6 != default.floor_v6).then_some(self.floor_v6),
        }
    }
}

impl Default for Format {
    fn default() -> Format {
        Format {
            json_field: None,
            min_score: None,
            floor_v4: MIN_PREFIX_V4,
            floor_v6: MIN_PREFIX_V6,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedList {
    /// Distinct targets, in the order the list first gives them.
    pub entries: Vec<Target>,
    pub lines: u64,
    pub invalid: u64,
    pub duplicates: u64,
    /// Networks broader than the source's floor (/8 IPv4, /16 IPv6 by default).
    pub too_broad: u64,
    /// Lines whose score is below the source's `min_score`.
    pub below_score: u64,
    /// Entries past [`Parser::keeping`]'s bound, counted and not kept.
    pub beyond: u64,
    /// "line 7 (invalid): `text`", "line 9 (too broad): `0.0.0.0/1`", at most
    /// [`MAX_SAMPLES`].
    pub samples: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Parser {
    list: ParsedList,
    format: Format,
    /// The whole body, when it is one JSON array.
    document: Option<Vec<u8>>,
    /// IPv4 hosts (most entries) as `address << 32 | position`, de-duplicated
    /// by one sort at the end: far cheaper than a hash set once lists are big.
    v4: Vec<u64>,
    /// Everything else, de-duplicated as it comes.
    seen: HashSet<Target, foldhash::fast::RandomState>,
    partial: Vec<u8>,
    started: bool,
    /// The body's first bytes while they may still be (part of) a BOM or
    /// white space: what the body is (lines, or one JSON array) is decided
    /// by its first other byte, however the body is cut into chunks.
    head: Vec<u8>,
    /// Entries kept at most (0: no bound); see [`Parser::keeping`].
    most: usize,
    /// The bound was met even with duplicates folded: nothing more is kept.
    full: bool,
    /// `v4` length at which duplicates are folded while parsing, so that a
    /// body repeating one address millions of times never holds them all.
    next_fold: usize,
}

/// Folding while parsing starts at this many IPv4 hosts; after a fold the
/// next comes at twice what is left, so big lists of distinct addresses pay
/// for it about twice in all.
const FOLD_EVERY: usize = 1 << 20;

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// A parser for `format`, expecting about `bytes` of input (sizes its
    /// tables once).
    pub fn with_size_hint(format: Format, bytes: u64) -> Parser {
        // Never more than the folding bound: a body's size says nothing of
        // how many distinct addresses it holds.
        let lines = usize::try_from(bytes / 14).unwrap_or(0).min(2 * FOLD_EVERY);
        let mut p = Parser {
            format,
            ..Parser::default()
        };
        p.v4.reserve(lines);
        p
    }

    /// Keeps at most `most` entries; the rest are only counted
    /// ([`ParsedList::beyond`]). Ranges can make many entries of one short
    /// line, so without a bound a small body could take gigabytes.
    pub fn keeping(mut self, most: usize) -> Parser {
        self.most = most;
        self
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ParseError> {
        if let Some(document) = &mut self.document {
            document.extend_from_slice(chunk);
            return Ok(());
        }
        if self.started {
            return self.feed_lines(chunk);
        }
        self.head.extend_from_slice(chunk);
        if self.head.len() < BOM.len() && BOM.starts_with(&self.head) {
            return Ok(());
        }
        let undecided = {
            let body = self.head.strip_prefix(BOM).unwrap_or(&self.head);
            body.iter().all(u8::is_ascii_whitespace) && self.head.len() <= MAX_LINE
        };
        if undecided {
            return Ok(());
        }
        self.begin()
    }

    /// Decides what the body is from its head, and reads the head so.
    fn begin(&mut self) -> Result<(), ParseError> {
        self.started = true;
        let head = std::mem::take(&mut self.head);
        let body = head.strip_prefix(BOM).unwrap_or(&head);
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            self.document = Some(body.to_vec());
            return Ok(());
        }
        self.feed_lines(body)
    }

    fn feed_lines(&mut self, mut chunk: &[u8]) -> Result<(), ParseError> {
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                None => {
                    self.partial.extend_from_slice(chunk);
                    if self.partial.len() > MAX_LINE {
                        return Err(ParseError::LineTooLong(self.list.lines + 1));
                    }
                    return Ok(());
                }
                Some(end) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&chunk[..end]);
                    self.line(&line)?;
                    chunk = &chunk[end + 1..];
                }
            }
        }
        let mut rest = chunk;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..end])?;
            rest = &rest[end + 1..];
        }
        if rest.len() > MAX_LINE {
            return Err(ParseError::LineTooLong(self.list.lines + 1));
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    pub fn finish(mut self) -> Result<ParsedList, ParseError> {
        if !self.started && !self.head.is_empty() {
            self.begin()?;
        }
        if let Some(document) = self.document.take() {
            self.json_document(&document)?;
        }
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
        }
        self.fold_v4_duplicates();
        Ok(self.list)
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), ParseError> {
        self.list.lines += 1;
        let number = self.list.lines;
        if raw.len() > MAX_LINE {
            return Err(ParseError::LineTooLong(number));
        }
        if memchr::memchr(0, raw).is_some() {
            return Err(ParseError::Binary(number));
        }
        let data = match memchr::memchr2(b'#', b';', raw) {
            Some(i) => &raw[..i],
            None => raw,
        };
        // The common case first: a JSON line never passes it.
        if self.format.min_score.is_none()
            && let Some(v4) = plain_ipv4(data)
        {
            if self.room() {
                self.push_v4(v4);
            } else {
                self.list.beyond += 1;
            }
            return Ok(());
        }
        // Before comments are cut: a JSON string may hold `#` or `;`.
        if raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            self.json_record(number, raw);
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(data) else {
            self.invalid(number, raw);
            return Ok(());
        };
        self.text(number, raw, text);
        Ok(())
    }

    /// One line's text, comments gone.
    fn text(&mut self, number: u64, raw: &[u8], text: &str) {
        let mut tokens = text.split_ascii_whitespace();
        let Some(first) = tokens.next() else {
            return;
        };
        let Ok(start) = Target::parse(first) else {
            match range(text) {
                Some(Ok(nets)) => self.targets(number, raw, &nets),
                _ => self.invalid(number, raw),
            }
            return;
        };
        let (second, third) = (tokens.next(), tokens.next());
        if let Some(min) = self.format.min_score {
            match second.and_then(|s| s.parse::<u64>().ok()) {
                Some(score) if score >= min => {}
                _ => {
                    self.list.below_score += 1;
                    return;
                }
            }
            self.targets(number, raw, &[start]);
            return;
        }
        if second == Some("-") {
            match third.map(|end| spanned(first, end)) {
                Some(Some(Ok(nets))) => self.targets(number, raw, &nets),
                Some(Some(Err(()))) => self.invalid(number, raw),
                // `1.2.3.4 - a comment`: the address, the rest a column.
                _ => self.targets(number, raw, &[start]),
            }
            return;
        }
        let target = match (second, third) {
            (Some(end), Some(prefix)) => dshield(start, end, prefix).unwrap_or(Ok(start)),
            _ => Ok(start),
        };
        match target {
            Ok(t) => self.targets(number, raw, &[t]),
            Err(_) => self.invalid(number, raw),
        }
    }

    /// The targets one line gives, as one: a range with any prefix broader
    /// than the floor is refused whole.
    fn targets(&mut self, number: u64, raw: &[u8], targets: &[Target]) {
        if targets.iter().any(|t| self.broad(t)) {
            self.list.too_broad += 1;
            self.sample(number, "too broad", raw);
            return;
        }
        for &t in targets {
            if !self.room() {
                self.list.beyond += 1;
                continue;
            }
            match (t.is_host(), t.net().addr()) {
                (true, std::net::IpAddr::V4(v4)) => self.push_v4(v4.into()),
                _ => {
                    if self.seen.insert(t) {
                        self.list.entries.push(t);
                    } else {
                        self.list.duplicates += 1;
                    }
                }
            }
        }
    }

    fn broad(&self, t: &Target) -> bool {
        let floor = match t.net() {
            ipnet::IpNet::V4(_) => self.format.floor_v4,
            ipnet::IpNet::V6(_) => self.format.floor_v6,
        };
        t.net().prefix_len() < floor
    }

    /// A JSON object on a line of its own (NDJSON).
    fn json_record(&mut self, number: u64, raw: &[u8]) {
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(raw) {
            Ok(record) => self.json_value(number, raw, &serde_json::Value::Object(record)),
            Err(_) => self.invalid(number, raw),
        }
    }

    /// One record: a string, or an object with the field.
    fn json_value(&mut self, number: u64, raw: &[u8], value: &serde_json::Value) {
        let text = match value {
            serde_json::Value::String(s) => Some(s.as_str()),
            serde_json::Value::Object(record) => {
                let field = match &self.format.json_field {
                    Some(f) => record.get(f),
                    None => JSON_FIELDS.iter().find_map(|f| record.get(*f)),
                };
                match field {
                    // A metadata record, like a comment line.
                    None => return,
                    Some(serde_json::Value::String(s)) => Some(s.as_str()),
                    Some(_) => None,
                }
            }
            _ => None,
        };
        match text {
            Some(t) if !t.trim().is_empty() => self.text(number, raw, t),
            _ => self.invalid(number, raw),
        }
    }

    /// A body that is one JSON array: its elements as lines, read one at a
    /// time (a parsed array of small values is many times its text).
    fn json_document(&mut self, document: &[u8]) -> Result<(), ParseError> {
        use serde::de::DeserializeSeed;
        let failed = |e: serde_json::Error| ParseError::Json(e.to_string());
        let mut reader = serde_json::Deserializer::from_slice(document);
        Elements(self).deserialize(&mut reader).map_err(failed)?;
        reader.end().map_err(failed)
    }

    /// Whether one more entry may be kept: duplicates are folded first, so
    /// a list repeating itself is not cut short.
    fn room(&mut self) -> bool {
        if self.most == 0 || self.list.entries.len() < self.most {
            return true;
        }
        if self.full {
            return false;
        }
        self.fold_v4_duplicates();
        self.reindex_v4();
        self.full = self.list.entries.len() >= self.most;
        !self.full
    }

    fn push_v4(&mut self, v4: u32) {
        let position = self.list.entries.len() as u64;
        self.v4.push(u64::from(v4) << 32 | position);
        self.list
            .entries
            .push(Target::host(std::net::IpAddr::V4(v4.into())));
        if self.v4.len() >= self.next_fold.max(FOLD_EVERY) {
            self.fold_v4_duplicates();
            self.reindex_v4();
            self.next_fold = self.v4.len().saturating_mul(2);
        }
    }

    /// Rebuilds `v4` from the entries after a fold moved their positions.
    fn reindex_v4(&mut self) {
        self.v4.clear();
        for (i, t) in self.list.entries.iter().enumerate() {
            if let (true, std::net::IpAddr::V4(v4)) = (t.is_host(), t.net().addr()) {
                self.v4.push(u64::from(u32::from(v4)) << 32 | i as u64);
            }
        }
    }

    /// Drops every IPv4 host after its first appearance.
    fn fold_v4_duplicates(&mut self) {
        if self.v4.len() < 2 {
            return;
        }
        self.v4.sort_unstable();
        let mut drop = vec![false; self.list.entries.len()];
        let mut dropped = 0u64;
        for pair in self.v4.windows(2) {
            if pair[0] >> 32 == pair[1] >> 32 {
                // Sorted by address then position: the later one goes.
                drop[(pair[1] & 0xffff_ffff) as usize] = true;
                dropped += 1;
            }
        }
        if dropped > 0 {
            let mut i = 0;
            self.list.entries.retain(|_| {
                let keep = !drop[i];
                i += 1;
                keep
            });
            self.list.duplicates += dropped;
        }
    }

    fn invalid(&mut self, number: u64, raw: &[u8]) {
        self.list.invalid += 1;
        self.sample(number, "invalid", raw);
    }

    /// Keeps a refused line, labelled with why it was refused.
    fn sample(&mut self, number: u64, why: &str, raw: &[u8]) {
        if self.list.samples.len() < MAX_SAMPLES {
            let text: String = String::from_utf8_lossy(raw)
                .chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect();
            self.list
                .samples
                .push(format!("line {number} ({why}): `{}`", text.trim()));
        }
    }
}

/// A line that is one dotted-quad address and nothing else (white space
/// around it allowed): the common case, parsed without the general path.
fn plain_ipv4(data: &[u8]) -> Option<u32> {
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    let end = data.iter().rposition(|b| !b.is_ascii_whitespace())? + 1;
    let token = &data[start..end];
    if token.len() > 15 {
        return None;
    }
    let mut value: u32 = 0;
    let mut octet: u32 = 0;
    let mut digits = 0;
    let mut dots = 0;
    for &b in token {
        match b {
            b'0'..=b'9' => {
                // A leading zero ("01") is refused by the general parser too.
                if digits == 1 && octet == 0 {
                    return None;
                }
                octet = octet * 10 + u32::from(b - b'0');
                digits += 1;
                if octet > 255 {
                    return None;
                }
            }
            b'.' if digits > 0 && dots < 3 => {
                value = value << 8 | octet;
                octet = 0;
                digits = 0;
                dots += 1;
            }
            _ => return None,
        }
    }
    (dots == 3 && digits > 0).then_some(value << 8 | octet)
}

/// Feeds a JSON array's elements to the parser as they are read.
struct Elements<'a>(&'a mut Parser);

impl<'de> serde::de::DeserializeSeed<'de> for Elements<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of addresses, networks or records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            self.0.list.lines += 1;
            let shown = item.to_string();
            self.0
                .json_value(self.0.list.lines, shown.as_bytes(), &item);
        }
        Ok(())
    }
}

/// "start end prefix …" (DShield's block list): start/prefix, when it fits.
fn dshield(
    start: Target,
    end: &str,
    prefix: &str,
) -> Option<Result<Target, crate::targets::TargetError>> {
    if !start.is_host() {
        return None;
    }
    let end = Target::parse(end).ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if !end.is_host() || start.net().addr().is_ipv4() != end.net().addr().is_ipv4() {
        return None;
    }
    Some(Target::parse(&format!("{}/{prefix}", start.net().addr())))
}

/// `a-b` (spaces allowed around the dash), or P2P's `label:a-b`, whose label
/// may itself hold colons: it ends at the first colon after which a range
/// follows. `None` when the text is no range.
fn range(text: &str) -> Option<Result<Vec<Target>, ()>> {
    let whole = text.split_once('-').and_then(|(a, b)| {
        let end = b.split_ascii_whitespace().next()?;
        spanned(a.trim(), end)
    });
    if whole.is_some() {
        return whole;
    }
    text.match_indices(':').find_map(|(i, _)| {
        let (a, b) = text[i + 1..].split_once('-')?;
        spanned(a.trim(), b.trim())
    })
}

/// The fewest prefixes covering `start` to `end`, both included; `None`
/// when either is no address, `Err` when they are no range.
fn spanned(start: &str, end: &str) -> Option<Result<Vec<Target>, ()>> {
    use std::net::IpAddr;
    let (start, end) = (start.parse::<IpAddr>().ok()?, end.parse::<IpAddr>().ok()?);
    let nets: Vec<ipnet::IpNet> = match (start, end) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => ipnet::Ipv4Subnets::new(a, b, 0)
            .map(ipnet::IpNet::V4)
            .collect(),
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => ipnet::Ipv6Subnets::new(a, b, 0)
            .map(ipnet::IpNet::V6)
            .collect(),
        _ => return Some(Err(())),
    };
    // Through the general parser: IPv4-mapped spellings become IPv4.
    Some(
        nets.iter()
            .map(|n| Target::parse(&n.to_string()).map_err(|_| ()))
            .collect(),
    )
}

/// Parses a whole body at once.
pub fn parse(body: &[u8]) -> Result<ParsedList, ParseError> {
    parse_as(Format::default(), body)
}

/// Parses a whole body at once, as `format` says.
pub fn parse_as(format: Format, body: &[u8]) -> Result<ParsedList, ParseError> {
    let mut p = Parser::with_size_hint(format, body.len() as u64);
    p.feed(body)?;
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &ParsedList) -> Vec<String> {
        list.entries.iter().map(Target::to_string).collect()
    }

    #[test]
    fn the_usual_formats() {
        let body = "\u{feff}# a comment\r\n\
            ; another\r\n\
            \r\n\
            192.0.2.7\r\n\
              198.51.100.0/24 ; SBL123456\r\n\
            2001:db8::1   # inline\n\
            203.0.113.9\textra\tcolumns\n\
            192.0.2.7\n\
            61.160.194.0\t61.160.194.255\t24\tAttacks\tName\n\
            ::ffff:192.0.2.8\n\
            not-an-address\n\
            1.2.3.4/33\n\
            16.0.0.0/4\n\
            198.51.100.7/24\n\
            2000::/15\n\
            192.0.2.99";
        let list = parse(body.as_bytes()).unwrap();
        assert_eq!(
            strings(&list),
            [
                "192.0.2.7",
                "198.51.100.0/24",
                "2001:db8::1",
                "203.0.113.9",
                "61.160.194.0/24",
                "192.0.2.8",
                "192.0.2.99"
            ]
        );
        assert_eq!(list.duplicates, 1);
        assert_eq!(list.invalid, 3);
        assert_eq!(list.too_broad, 2);
        assert_eq!(list.lines, 16);
        assert_eq!(list.samples.len(), 5);
        assert_eq!(list.samples[0], "line 11 (invalid): `not-an-address`");
        assert_eq!(list.samples[2], "line 13 (too broad): `16.0.0.0/4`");
    }

    #[test]
    fn duplicates_keep_their_first_place() {
        let list = parse(
            b"11.0.0.1\n11.0.0.2\n11.0.0.1 # again\n2001:db8::1\n11.0.0.3\n11.0.0.2\n2001:db8::1\n",
        )
        .unwrap();
        assert_eq!(
            strings(&list),
            ["11.0.0.1", "11.0.0.2", "2001:db8::1", "11.0.0.3"]
        );
        assert_eq!(list.duplicates, 3);
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let body: String = (0..500)
            .map(|i| format!("11.0.{}.{} # n{i}\r\n", i / 250, i % 250))
            .collect();
        let whole = parse(body.as_bytes()).unwrap();
        for size in [1, 2, 3, 7, 64, 1000] {
            let mut p = Parser::new();
            for chunk in body.as_bytes().chunks(size) {
                p.feed(chunk).unwrap();
            }
            assert_eq!(p.finish().unwrap(), whole, "chunks of {size}");
        }
        assert_eq!(whole.entries.len(), 500);
    }

    #[test]
    fn binary_and_endless_lines_are_refused() {
        assert_eq!(parse(b"1.2.3.4\n\x00\x01\x02"), Err(ParseError::Binary(2)));
        let long = vec![b'1'; MAX_LINE + 1];
        assert_eq!(parse(&long), Err(ParseError::LineTooLong(1)));
        let mut p = Parser::new();
        p.feed(b"1.2.3.4\n").unwrap();
        let mut failed = false;
        for _ in 0..100 {
            if p.feed(&[b'7'; 100]).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a line that never ends is refused while it streams");
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_one() {
        for text in [
            "1.2.3.4",
            " 10.0.0.1 ",
            "255.255.255.255",
            "0.0.0.0",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.4a",
            "1.2.3.4 5",
            "1234.1.1.1",
        ] {
            let fast = plain_ipv4(text.as_bytes()).map(|v| std::net::Ipv4Addr::from(v).to_string());
            let general = text
                .trim()
                .parse::<std::net::Ipv4Addr>()
                .ok()
                .map(|a| a.to_string());
            assert_eq!(fast, general, "{text:?}");
        }
    }

    #[test]
    fn one_address_repeated_millions_of_times_is_folded_while_parsing() {
        let mut p = Parser::new();
        let chunk = "45.33.32.156\n".repeat(100_000);
        for _ in 0..30 {
            p.feed(chunk.as_bytes()).unwrap();
            // Never more than the folding bound held at once.
            assert!(p.list.entries.len() <= FOLD_EVERY + 1);
        }
        p.feed(b"45.33.32.157\n45.33.32.156\n").unwrap();
        let list = p.finish().unwrap();
        assert_eq!(strings(&list), ["45.33.32.156", "45.33.32.157"]);
        assert_eq!(list.duplicates, 3_000_000);
    }

    #[test]
    fn spamhaus_ndjson_and_json_arrays() {
        // drop_v4.json / drop_v6.json as Spamhaus publishes them: one record a
        // line and a closing metadata record.
        let ndjson = concat!(
            "{\"cidr\":\"1.10.16.0/20\",\"sblid\":\"SBL256894\",\"rir\":\"apnic\"}\n",
            "{\"cidr\":\"2a06:b440::/29\",\"sblid\":\"SBL517351\",\"rir\":\"ripencc\"}\r\n",
            "{\"cidr\":\"not a network\",\"sblid\":\"SBL1\"}\n",
            "{\"cidr\":7}\n",
            "{broken\n",
            "{\"type\":\"metadata\",\"timestamp\":1700000000,\"size\":3,\"records\":2,\"copyright\":\"(c) 2026 The Spamhaus Project; all rights reserved #1\"}\n",
        );
        let list = parse(ndjson.as_bytes()).unwrap();
        assert_eq!(strings(&list), ["1.10.16.0/20", "2a06:b440::/29"]);
        assert_eq!((list.invalid, list.lines), (3, 6));
        // A named field.
        let format = Format {
            json_field: Some("net".into()),
            ..Format::default()
        };
        let list = parse_as(
            format,
            b"{\"net\":\"192.0.2.0/24\",\"cidr\":\"10.0.0.0/8\"}\n",
        )
        .unwrap();
        assert_eq!(strings(&list), ["192.0.2.0/24"]);
        // One JSON document: strings, or records.
        let list =
            parse(b" [\"192.0.2.1\", {\"ip\": \"2001:db8::1\"}, 5, {\"note\": \"x\"}]").unwrap();
        assert_eq!(strings(&list), ["192.0.2.1", "2001:db8::1"]);
        assert_eq!(list.invalid, 1);
        assert!(matches!(parse(b"[\"192.0.2.1\""), Err(ParseError::Json(_))));
    }

    #[test]
    fn ranges_become_the_fewest_prefixes() {
        let body = "\
            Bad Org, Inc.:1.2.3.0-1.2.3.255\n\
            A: label with: colons:5.6.0.0-5.6.1.255\n\
            v6 block:2001:db8::-2001:db8::ffff\n\
            10.0.0.1-10.0.0.6\n\
            198.51.100.0 - 198.51.100.7\n\
            2001:db8:1::5-2001:db8:1::5\n\
            9.9.9.9-9.9.9.1\n\
            1.2.3.4-2001:db8::1\n\
            0.0.0.1-255.255.255.254\n";
        let list = parse(body.as_bytes()).unwrap();
        assert_eq!(
            strings(&list),
            [
                "1.2.3.0/24",
                "5.6.0.0/23",
                "2001:db8::/112",
                "10.0.0.1",
                "10.0.0.2/31",
                "10.0.0.4/31",
                "10.0.0.6",
                "198.51.100.0/29",
                "2001:db8:1::5",
            ]
        );
        // Backwards and mixed families are no ranges; one too broad part
        // refuses the whole range.
        assert_eq!((list.invalid, list.too_broad), (2, 1));
    }

    #[test]
    fn prefix_floors_and_scores_per_source() {
        // Spamhaus DROPv6 text: hijacked /29s pass the default IPv6 floor.
        let body = b"2a06:b440::/29 ; SBL517351\n2000::/15\n10.0.0.0/7\n10.0.0.0/8\n";
        let list = parse(body).unwrap();
        assert_eq!(strings(&list), ["2a06:b440::/29", "10.0.0.0/8"]);
        assert_eq!(list.too_broad, 2);
        let narrow = Format {
            floor_v4: 16,
            floor_v6: 32,
            ..Format::default()
        };
        let list = parse_as(narrow, body).unwrap();
        assert!(list.entries.is_empty());
        assert_eq!((list.too_broad, list.invalid), (4, 0));
        // ipsum: the second column counts the lists an address is on.
        let scored = Format {
            min_score: Some(3),
            ..Format::default()
        };
        let ipsum = b"# IPsum\n192.0.2.1\t7\n192.0.2.2\t2\n192.0.2.3\n192.0.2.4 3\n192.0.2.5\tx\n";
        let list = parse_as(scored, ipsum).unwrap();
        assert_eq!(strings(&list), ["192.0.2.1", "192.0.2.4"]);
        assert_eq!((list.below_score, list.invalid), (3, 0));
    }

    #[test]
    fn formats_are_checked_as_given() {
        let ok = Format::checked(&ListFormat {
            json_field: Some("cidr".into()),
            min_score: Some(2),
            min_prefix_v4: Some(24),
            min_prefix_v6: None,
        })
        .unwrap();
        assert_eq!((ok.floor_v4, ok.floor_v6), (24, MIN_PREFIX_V6));
        assert_eq!(ok.wire().min_prefix_v6, None);
        assert_eq!(ok.wire().min_prefix_v4, Some(24));
        let broad = ListFormat {
            min_prefix_v4: Some(4),
            ..ListFormat::default()
        };
        let e = Format::checked(&broad).unwrap_err();
        assert_eq!(e.key, "min_prefix_v4");
        assert!(e.why.contains("from 8 to 32"), "{e}");
        let long = ListFormat {
            min_prefix_v6: Some(129),
            ..ListFormat::default()
        };
        assert!(Format::checked(&long).is_err());
        let field = ListFormat {
            json_field: Some("a b".into()),
            ..ListFormat::default()
        };
        assert!(Format::checked(&field).is_err());
    }

    #[test]
    fn what_a_body_is_does_not_depend_on_its_chunks() {
        let array = b"\xEF\xBB\xBF \n [\"192.0.2.1\", \"192.0.2.2\"]";
        let lines = b"\xEF\xBB\xBF  \n192.0.2.1\n192.0.2.2 - a comment\n";
        for body in [&array[..], &lines[..]] {
            let whole = parse(body).unwrap();
            assert_eq!(strings(&whole), ["192.0.2.1", "192.0.2.2"], "{body:?}");
            for size in [1, 2, 3, 4, 5] {
                let mut p = Parser::new();
                for chunk in body.chunks(size) {
                    p.feed(chunk).unwrap();
                }
                assert_eq!(p.finish().unwrap(), whole, "chunks of {size}");
            }
        }
        assert_eq!(parse(b"   ").unwrap().entries.len(), 0);
    }

    #[test]
    fn ranges_cannot_grow_a_list_past_the_bound() {
        // 126 prefixes from one short line, on many lines.
        let body: String = (0..200)
            .map(|i| format!("1:{i:x}::1-1:{i:x}::ffff:ffff:ffff:fffe\n"))
            .collect();
        let mut p = Parser::with_size_hint(Format::default(), 0).keeping(1000);
        p.feed(body.as_bytes()).unwrap();
        let list = p.finish().unwrap();
        assert_eq!(list.entries.len(), 1000);
        assert_eq!(list.beyond, 200 * 126 - 1000);
        // Duplicates do not count against the bound.
        let mut p = Parser::with_size_hint(Format::default(), 0).keeping(3);
        p.feed("192.0.2.1\n".repeat(10).as_bytes()).unwrap();
        p.feed(b"192.0.2.2\n192.0.2.3\n192.0.2.4\n").unwrap();
        let list = p.finish().unwrap();
        assert_eq!(strings(&list), ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        assert_eq!(list.beyond, 1);
    }

    #[test]
    fn invalid_utf8_is_an_invalid_line() {
        let list = parse(b"\xff\xfe1.2.3.4\n192.0.2.1\n").unwrap();
        assert_eq!(list.invalid, 1);
        assert_eq!(strings(&list), ["192.0.2.1"]);
    }
}
