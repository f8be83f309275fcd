//! Splitting long lists of addresses into requests that fit.
//!
//! A request must encode within [`MAX_FRAME_LEN`] and decode within
//! [`DECODE_LIMIT`]; a `bangui-ctl ban` of a million addresses becomes as many
//! requests as that takes, sent one after another on the same connection.

use crate::{DECODE_LIMIT, MAX_FRAME_LEN};

/// Encoded bytes one request's items may take: half a frame leaves room for
/// the rest of the request.
const ENCODED_BUDGET: usize = MAX_FRAME_LEN / 2;
/// Decoded bytes one request's items may claim, well under the limit.
const DECODED_BUDGET: usize = DECODE_LIMIT / 2;
/// What the decoder claims for a `String` besides its bytes.
const STRING_OVERHEAD: usize = std::mem::size_of::<String>();
/// The most a length prefix takes in bincode's variable-length encoding.
const LENGTH_PREFIX: usize = 9;

/// Splits `items` into consecutive chunks of at most `max_items` each, every
/// chunk small enough to travel in one request.
pub fn chunks(items: Vec<String>, max_items: usize) -> Vec<Vec<String>> {
    let max_items = max_items.max(1);
    let mut out = Vec::new();
    let mut current = Vec::new();
    let (mut encoded, mut decoded) = (0usize, 0usize);
    for item in items {
        let e = item.len() + LENGTH_PREFIX;
        let d = item.len() + STRING_OVERHEAD;
        if !current.is_empty()
            && (current.len() >= max_items
                || encoded + e > ENCODED_BUDGET
                || decoded + d > DECODED_BUDGET)
        {
            out.push(std::mem::take(&mut current));
            (encoded, decoded) = (0, 0);
        }
        encoded += e;
        decoded += d;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::BanRequest;
    use crate::{Request, RequestFrame, decode, encode};

    fn fits(targets: Vec<String>) -> bool {
        let frame = RequestFrame {
            id: u64::MAX,
            request: Request::Ban(BanRequest {
                targets,
                jail: Some("j".repeat(64)),
            }),
        };
        let bytes = encode(&frame).unwrap();
        decode::<RequestFrame>(&bytes).unwrap() == frame
    }

    #[test]
    fn every_chunk_travels_and_order_is_kept() {
        // Short strings are what stress the decoder; long ones the frame.
        for len in [0, 1, 15, 39, 300, 5000] {
            let items: Vec<String> = (0..200_000 / (len + 1) + 10)
                .map(|i| format!("{i:0len$}").chars().take(len).collect())
                .collect();
            let chunks = chunks(items.clone(), usize::MAX);
            assert!(chunks.iter().all(|c| !c.is_empty()));
            assert_eq!(chunks.concat(), items);
            for chunk in chunks {
                assert!(fits(chunk), "len {len}");
            }
        }
        assert_eq!(chunks(vec!["a".into(); 10], 3).len(), 4);
        assert!(chunks(Vec::new(), 5).is_empty());
    }

    #[test]
    fn a_whole_frame_of_empty_strings_is_over_the_limit() {
        // What a hostile or naive client could send: the codec says so
        // instead of failing in some other way.
        let frame = RequestFrame {
            id: 1,
            request: Request::Ban(BanRequest {
                targets: vec![String::new(); MAX_FRAME_LEN - 64],
                jail: None,
            }),
        };
        let bytes = encode(&frame).unwrap();
        assert!(bytes.len() <= MAX_FRAME_LEN);
        let err = decode::<RequestFrame>(&bytes).unwrap_err();
        assert!(err.is_over_limit(), "{err}");
    }
}
