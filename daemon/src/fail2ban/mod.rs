//! fail2ban: the native socket client, reply decoding, the health snapshot and
//! the jail files bangui manages.

pub mod client;
pub mod health;
pub mod jails;
pub mod pickle;
pub mod reply;

pub use client::{Fail2ban, Fail2banError, Settings};
pub use reply::JailStatus;
