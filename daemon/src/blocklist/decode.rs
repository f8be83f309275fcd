//! A list body as publishers ship it: plain text, gzip, or a zip archive of
//! one file, told apart by its first bytes (mirrors serve `.gz` files
//! without `Content-Encoding`, so the header cannot be trusted to say).
//! Decompressed text counts against `max_body` as plain text does, so a
//! small archive cannot grow the daemon.

use std::io::{Read, Write};

use super::parse::{ParseError, ParsedList, Parser};

/// gzip's magic bytes (RFC 1952).
const GZIP: &[u8] = b"\x1f\x8b";
/// A zip archive's first local file header.
const ZIP: &[u8] = b"PK\x03\x04";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Text beyond the limit, after decompression.
    #[error("the list is larger than {0} bytes once decompressed (blocklist.max_body)")]
    TooLarge(u64),
    #[error("the body is {format} but cannot be read as such: {why}")]
    Corrupt { format: &'static str, why: String },
}

/// Raw body bytes in, parsed entries out.
pub struct Body {
    state: State,
    limit: u64,
}

enum State {
    /// Not enough bytes yet to tell the format.
    Sniffing(Text, Vec<u8>),
    Plain(Text),
    Gzip(Box<flate2::write::MultiGzDecoder<Text>>),
    /// A zip's directory is at its end: the archive is read whole.
    Zip(Text, Vec<u8>),
}

/// The parser behind a decoder, counting the text it is given.
struct Text {
    parser: Parser,
    bytes: u64,
    limit: u64,
    /// Why the last write failed, for the caller (io::Error cannot carry it).
    failed: Option<DecodeError>,
}

impl Text {
    fn take(&mut self, text: &[u8]) -> Result<(), DecodeError> {
        self.bytes += text.len() as u64;
        if self.bytes > self.limit {
            return Err(DecodeError::TooLarge(self.limit));
        }
        Ok(self.parser.feed(text)?)
    }
}

impl Write for Text {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.take(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                self.failed = Some(e);
                Err(std::io::Error::other("stopped"))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Body {
    /// `limit`: the most text (decompressed) and the most raw bytes accepted.
    pub fn new(parser: Parser, limit: u64) -> Body {
        let text = Text {
            parser,
            bytes: 0,
            limit,
            failed: None,
        };
        Body {
            state: State::Sniffing(text, Vec::new()),
            limit,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        let state = std::mem::replace(&mut self.state, State::Sniffing(placeholder(), Vec::new()));
        self.state = match state {
            State::Sniffing(text, mut start) => {
                start.extend_from_slice(chunk);
                if start.len() < ZIP.len() {
                    State::Sniffing(text, start)
                } else {
                    let mut state = begin(text, &start);
                    push(&mut state, &start, self.limit)?;
                    state
                }
            }
            mut state => {
                push(&mut state, chunk, self.limit)?;
                state
            }
        };
        Ok(())
    }

    pub fn finish(self) -> Result<ParsedList, DecodeError> {
        let text = match self.state {
            State::Sniffing(text, start) => {
                let mut state = begin(text, &start);
                push(&mut state, &start, self.limit)?;
                return Body {
                    state,
                    limit: self.limit,
                }
                .finish();
            }
            State::Plain(text) => text,
            State::Gzip(mut decoder) => {
                // The last of the text is written out here: its errors first.
                if let Err(e) = decoder.try_finish() {
                    return Err(gzip_failed(&mut decoder, &e));
                }
                decoder.finish().map_err(|e| corrupt(GZIP_NAME, &e))?
            }
            State::Zip(mut text, archive) => {
                unzip(&mut text, archive)?;
                text
            }
        };
        Ok(text.parser.finish()?)
    }
}

/// A stand-in while the state is moved out and back.
fn placeholder() -> Text {
    Text {
        parser: Parser::default(),
        bytes: 0,
        limit: 0,
        failed: None,
    }
}

fn begin(text: Text, start: &[u8]) -> State {
    if start.starts_with(GZIP) {
        State::Gzip(Box::new(flate2::write::MultiGzDecoder::new(text)))
    } else if start.starts_with(ZIP) {
        State::Zip(text, Vec::new())
    } else {
        State::Plain(text)
    }
}

fn push(state: &mut State, chunk: &[u8], limit: u64) -> Result<(), DecodeError> {
    match state {
        State::Sniffing(_, start) => start.extend_from_slice(chunk),
        State::Plain(text) => text.take(chunk)?,
        State::Gzip(decoder) => {
            if let Err(e) = decoder.write_all(chunk) {
                return Err(gzip_failed(decoder, &e));
            }
        }
        State::Zip(_, archive) => {
            if (archive.len() + chunk.len()) as u64 > limit {
                return Err(DecodeError::TooLarge(limit));
            }
            archive.extend_from_slice(chunk);
        }
    }
    Ok(())
}

/// Most entries (files and folders) an archive may name: the zip reader
/// builds a record for each before the one file can be picked.
const MOST_ZIP_ENTRIES: u16 = 16;

/// The entry count the end-of-archive record gives, read before the
/// archive is opened; `None` when there is no such record.
fn zip_entries(archive: &[u8]) -> Option<u16> {
    const END: &[u8] = b"PK\x05\x06";
    // The record is 22 bytes and a comment of at most 65,535.
    let from = archive.len().saturating_sub(22 + 65_535);
    let at = archive[from..].windows(END.len()).rposition(|w| w == END)? + from;
    let count = archive.get(at + 10..at + 12)?;
    Some(u16::from_le_bytes([count[0], count[1]]))
}

/// The one file of a zip archive, into the parser.
fn unzip(text: &mut Text, archive: Vec<u8>) -> Result<(), DecodeError> {
    match zip_entries(&archive) {
        Some(n) if n <= MOST_ZIP_ENTRIES => {}
        Some(n) => {
            return Err(DecodeError::Corrupt {
                format: ZIP_NAME,
                why: format!(
                    "it names {} entries; bangui reads an archive of exactly one list",
                    if n == u16::MAX {
                        "65,535 or more".to_string()
                    } else {
                        n.to_string()
                    }
                ),
            });
        }
        None => return Err(corrupt(ZIP_NAME, &"no end-of-archive record (cut off?)")),
    }
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(archive)).map_err(|e| corrupt(ZIP_NAME, &e))?;
    let files: Vec<usize> = (0..zip.len())
        .filter(|&i| zip.by_index_raw(i).is_ok_and(|f| f.is_file()))
        .collect();
    let [only] = files[..] else {
        return Err(DecodeError::Corrupt {
            format: ZIP_NAME,
            why: format!(
                "it holds {} files; bangui reads an archive of exactly one list",
                files.len()
            ),
        });
    };
    let mut file = zip.by_index(only).map_err(|e| corrupt(ZIP_NAME, &e))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| corrupt(ZIP_NAME, &e))?;
        if n == 0 {
            return Ok(());
        }
        text.take(&buf[..n])?;
    }
}

/// The formats as errors name them ("the body is … but cannot be read").
const GZIP_NAME: &str = "gzip-compressed";
const ZIP_NAME: &str = "a zip archive";

/// Why a write into the gzip decoder failed: the text's own refusal (too
/// large, not a list) when it was that, else the stream is broken.
fn gzip_failed(
    decoder: &mut flate2::write::MultiGzDecoder<Text>,
    e: &std::io::Error,
) -> DecodeError {
    decoder
        .get_mut()
        .failed
        .take()
        .unwrap_or_else(|| corrupt(GZIP_NAME, e))
}

fn corrupt(format: &'static str, e: &dyn std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt {
        format,
        why: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8], limit: u64, chunk: usize) -> Result<ParsedList, DecodeError> {
        let mut b = Body::new(Parser::new(), limit);
        for part in body.chunks(chunk.max(1)) {
            b.feed(part)?;
        }
        b.finish()
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn zipped(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(text).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const LIST: &[u8] = b"# a list\n192.0.2.1\n198.51.100.0/24\n2001:db8::1\n";

    #[test]
    fn formats_are_told_by_content_in_any_chunking() {
        let plain = decode(LIST, 1 << 20, 7).unwrap();
        assert_eq!(plain.entries.len(), 3);
        for chunk in [1, 3, 4, 5, 1000] {
            assert_eq!(
                decode(&gzip(LIST), 1 << 20, chunk).unwrap(),
                plain,
                "gzip {chunk}"
            );
            let z = zipped(&[("list.txt", LIST)]);
            assert_eq!(decode(&z, 1 << 20, chunk).unwrap(), plain, "zip {chunk}");
        }
        // Two gzip members, as `cat a.gz b.gz` makes.
        let mut two = gzip(b"192.0.2.1\n");
        two.extend(gzip(b"192.0.2.2\n"));
        assert_eq!(decode(&two, 1 << 20, 10).unwrap().entries.len(), 2);
        // Shorter than the sniffing window.
        assert_eq!(decode(b"1.2", 100, 1).unwrap().invalid, 1);
        assert_eq!(decode(b"", 100, 1).unwrap().lines, 0);
    }

    #[test]
    fn decompressed_text_counts_against_the_limit() {
        let big = "192.0.2.1\n".repeat(100_000);
        let packed = gzip(big.as_bytes());
        assert!(packed.len() < 10_000, "the test needs a small archive");
        assert_eq!(
            decode(&packed, 100_000, 4096),
            Err(DecodeError::TooLarge(100_000))
        );
        let z = zipped(&[("l.txt", big.as_bytes())]);
        assert_eq!(
            decode(&z, 100_000, 4096),
            Err(DecodeError::TooLarge(100_000))
        );
        assert!(decode(&packed, 2_000_000, 4096).is_ok());
    }

    #[test]
    fn broken_or_ambiguous_archives_are_refused_with_why() {
        let mut cut = gzip(LIST);
        cut.truncate(cut.len() / 2);
        let e = decode(&cut, 1 << 20, 64).unwrap_err().to_string();
        assert!(e.contains("gzip-compressed"), "{e}");
        let two = zipped(&[("a.txt", LIST), ("b.txt", LIST)]);
        let e = decode(&two, 1 << 20, 64).unwrap_err().to_string();
        assert!(e.contains("holds 2 files"), "{e}");
        let e = decode(b"PK\x03\x04garbage", 1 << 20, 64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("zip archive"), "{e}");
        // Many entries are refused before the reader builds a record for each.
        let names: Vec<String> = (0..40).map(|i| format!("{i}.txt")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let e = decode(&zipped(&files), 1 << 20, 64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("names 40 entries"), "{e}");
        // A gzip of something binary is still refused as binary.
        let e = decode(&gzip(b"\x00\x01"), 1 << 20, 64).unwrap_err();
        assert!(
            matches!(e, DecodeError::Parse(ParseError::Binary(1))),
            "{e}"
        );
    }
}
