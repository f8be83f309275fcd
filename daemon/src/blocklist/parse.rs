//! Blocklist text → distinct targets. Fed chunk by chunk as the body arrives,
//! so a list is never held in memory twice.
//!
//! Accepted per line: an address or a network, optionally followed by other
//! columns; `#` and `;` start comments (whole-line or inline); blank lines,
//! CRLF, a UTF-8 BOM and surrounding white space are fine. The DShield
//! "start end prefix …" form becomes start/prefix. Invalid lines are counted
//! and a few kept as samples; they never fail the list. A NUL byte (a binary
//! body) or an absurdly long line does.

use std::collections::HashSet;

use crate::targets::Target;

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
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedList {
    /// Distinct targets, in the order the list first gives them.
    pub entries: Vec<Target>,
    pub lines: u64,
    pub invalid: u64,
    pub duplicates: u64,
    /// Networks broader than /8 (IPv4) or /32 (IPv6).
    pub too_broad: u64,
    /// "line 7 (invalid): `text`", "line 9 (too broad): `0.0.0.0/1`", at most
    /// [`MAX_SAMPLES`].
    pub samples: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Parser {
    list: ParsedList,
    /// IPv4 hosts (most entries) as `address << 32 | position`, de-duplicated
    /// by one sort at the end: far cheaper than a hash set once lists are big.
    v4: Vec<u64>,
    /// Everything else, de-duplicated as it comes.
    seen: HashSet<Target, foldhash::fast::RandomState>,
    partial: Vec<u8>,
    started: bool,
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

    /// A parser expecting about `bytes` of input (sizes its tables once).
    pub fn with_size_hint(bytes: u64) -> Parser {
        // Never more than the folding bound: a body's size says nothing of
        // how many distinct addresses it holds.
        let lines = usize::try_from(bytes / 14).unwrap_or(0).min(2 * FOLD_EVERY);
        let mut p = Parser::default();
        p.v4.reserve(lines);
        p
    }

    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), ParseError> {
        if !self.started && !chunk.is_empty() {
            self.started = true;
            chunk = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
        }
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
        if let Some(v4) = plain_ipv4(data) {
            self.push_v4(v4);
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(data) else {
            self.invalid(number, raw);
            return Ok(());
        };
        let mut tokens = text.split_ascii_whitespace();
        let Some(first) = tokens.next() else {
            return Ok(());
        };
        let target = match Target::parse(first) {
            Ok(t) => dshield(t, tokens).unwrap_or(Ok(t)),
            Err(e) => Err(e),
        };
        match target {
            Ok(t) if t.too_broad() => {
                self.list.too_broad += 1;
                self.sample(number, "too broad", raw);
            }
            Ok(t) => match (t.is_host(), t.net().addr()) {
                (true, std::net::IpAddr::V4(v4)) => self.push_v4(v4.into()),
                _ => {
                    if self.seen.insert(t) {
                        self.list.entries.push(t);
                    } else {
                        self.list.duplicates += 1;
                    }
                }
            },
            Err(_) => self.invalid(number, raw),
        }
        Ok(())
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

/// "start end prefix …" (DShield's block list): start/prefix, when it fits.
fn dshield<'a>(
    start: Target,
    mut rest: impl Iterator<Item = &'a str>,
) -> Option<Result<Target, crate::targets::TargetError>> {
    if !start.is_host() {
        return None;
    }
    let end = Target::parse(rest.next()?).ok()?;
    let prefix: u8 = rest.next()?.parse().ok()?;
    if !end.is_host() || start.net().addr().is_ipv4() != end.net().addr().is_ipv4() {
        return None;
    }
    Some(Target::parse(&format!("{}/{prefix}", start.net().addr())))
}

/// Parses a whole body at once.
pub fn parse(body: &[u8]) -> Result<ParsedList, ParseError> {
    let mut p = Parser::with_size_hint(body.len() as u64);
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
            2001::/16\n\
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
    fn invalid_utf8_is_an_invalid_line() {
        let list = parse(b"\xff\xfe1.2.3.4\n192.0.2.1\n").unwrap();
        assert_eq!(list.invalid, 1);
        assert_eq!(strings(&list), ["192.0.2.1"]);
    }
}
