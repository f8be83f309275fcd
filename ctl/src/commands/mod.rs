//! One module per command group.

pub mod auth;
pub mod bans;
pub mod blocklist;
pub mod config;
pub mod explain;
pub mod fail2ban;
pub mod geo;
pub mod history;
pub mod jobs;
pub mod ping;
pub mod sessions;
pub mod status;
