//! fail2ban: the native socket client, reply decoding, the health snapshot and
//! the jail files bangui manages.

pub mod batching;
pub mod client;
pub mod health;
pub mod jails;
pub mod pickle;
pub mod reply;

pub use batching::Batching;
pub use client::{Fail2ban, Fail2banError, Settings};
pub use reply::JailStatus;
