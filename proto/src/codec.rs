use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::LengthDelimitedCodec;

use crate::{DECODE_LIMIT, MAX_FRAME_LEN};

/// The framing both sides use: a u32 big-endian length prefix, frames longer than
/// [`MAX_FRAME_LEN`] refused before any buffer is reserved for them.
pub fn frame_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_type::<u32>()
        .big_endian()
        .max_frame_length(MAX_FRAME_LEN)
        .new_codec()
}

fn config() -> impl bincode::config::Config {
    // The limit caps what the decoder allocates for a single message, whatever
    // lengths a hostile frame claims for its strings and vectors.
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("message does not encode: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("encoded message is {len} bytes, over the {MAX_FRAME_LEN}-byte frame limit")]
    TooLarge { len: usize },
    #[error("frame does not decode: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("frame has {extra} trailing bytes after the message")]
    TrailingBytes { extra: usize },
}

impl CodecError {
    /// True when the frame claims more memory than [`DECODE_LIMIT`] allows.
    pub fn is_over_limit(&self) -> bool {
        matches!(
            self,
            CodecError::Decode(bincode::error::DecodeError::LimitExceeded)
        )
    }

    /// True when the frame was well formed but names an enum variant this build
    /// does not know, which is what a newer peer's request looks like.
    pub fn is_unknown_variant(&self) -> bool {
        // Through serde, bincode reports an unknown variant as serde's
        // "invalid value" text; the unknown_variants test pins that wording.
        match self {
            CodecError::Decode(bincode::error::DecodeError::UnexpectedVariant { .. }) => true,
            CodecError::Decode(bincode::error::DecodeError::OtherString(text)) => {
                text.contains("expected variant index")
            }
            _ => false,
        }
    }
}

/// Encodes one message into a frame payload, refusing anything over the frame limit.
pub fn encode<T: Serialize>(message: &T) -> Result<Bytes, CodecError> {
    let bytes = bincode::serde::encode_to_vec(message, config())?;
    if bytes.len() > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge { len: bytes.len() });
    }
    Ok(Bytes::from(bytes))
}

/// Decodes one frame payload; the whole payload must be one message.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let (message, used) = bincode::serde::decode_from_slice(payload, config())?;
    if used != payload.len() {
        return Err(CodecError::TrailingBytes {
            extra: payload.len() - used,
        });
    }
    Ok(message)
}

/// Decodes only the leading value of a payload (used to recover a request id
/// from a request this build cannot fully decode).
pub fn decode_prefix<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let (value, _) = bincode::serde::decode_from_slice(payload, config())?;
    Ok(value)
}
