//! Random identifiers and secrets.

#[derive(Debug, thiserror::Error)]
#[error("the system's random number source failed: {0}")]
pub struct RandomError(String);

/// `bytes` random bytes, hex-encoded.
pub fn random_hex(bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// A run id: 64 random bits, short enough to type, unique enough for a lifetime.
pub fn run_id() -> Result<String, RandomError> {
    random_hex(8)
}
