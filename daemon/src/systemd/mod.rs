//! systemd integration: readiness and status notifications, the watchdog,
//! socket activation.

pub mod activation;
pub mod notify;
pub mod reload;
pub mod status;
pub mod watchdog;

pub use notify::Notifier;
