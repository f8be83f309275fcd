//! The command line of `bangui-ctl` as a library, so that its man page and
//! shell completions are generated from the same definitions (`cargo xtask`).

pub mod cli;
