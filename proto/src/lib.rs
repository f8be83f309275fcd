//! The wire protocol spoken between the bangui daemon and its clients.
//!
//! A connection carries length-delimited frames (u32 big-endian length, at most
//! [`MAX_FRAME_LEN`] bytes of payload) whose payloads are bincode 2 encodings of
//! the types in this crate. The client opens with a [`ClientHello`]; the daemon
//! answers with a [`HelloReply`]; after that every frame from the client is a
//! [`RequestFrame`] and every frame from the daemon a [`ResponseFrame`].
//!
//! bincode is not self-describing, so every enum here is append-only: new
//! variants go at the end, nothing is ever reordered or removed. The golden
//! bytes tests in `tests/golden.rs` fail when that rule is broken.

mod client;
mod codec;
pub mod duration;
mod error;
pub mod errors;
mod handshake;
pub mod messages;
pub mod paths;
pub mod split;

pub use client::{Client, ClientError};
pub use codec::{CodecError, decode, decode_prefix, encode, frame_codec};
pub use error::{ErrorCode, WireError};
pub use handshake::{ClientHello, HelloReply, ServerInfo};
pub use messages::{Request, RequestFrame, Response, ResponseFrame};

/// Version of the protocol this build speaks. Bumped only when an existing
/// message changes shape; appending request or response variants does not bump it.
///
/// 2: ban reports per jail, `banned` for many addresses, live health queries,
/// failing jobs in `status`, `local` and `secret_path` marks on blocklist sources.
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest frame payload either side accepts or sends, in bytes. Long lists are
/// paged so that every answer fits.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

/// Most memory the decoder may claim for one message. Decoded values take more
/// room than their encoding (a one-byte empty string becomes a 24-byte
/// `String`), so this is a multiple of the frame limit; a request that still
/// exceeds it is answered with [`ErrorCode::TooLarge`] and the connection stays
/// open. Clients keep under it with [`split`].
pub const DECODE_LIMIT: usize = 4 * MAX_FRAME_LEN;
