//! Durations in the config file: either whole seconds (`30`) or a human-readable
//! string (`"30s"`, `"10m"`, `"6h"`, `"1h 30m"`), the syntax of
//! [`bangui_proto::duration`] shared with the command line.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Seconds(u64),
    Text(String),
}

pub fn deserialize<'de, D>(deserializer: D) -> Result<Option<Duration>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Option::<Raw>::deserialize(deserializer)?;
    raw.map(|r| match r {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    })
    .transpose()
}

pub fn serialize<S>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
{
    value.map(format).serialize(serializer)
}

pub use bangui_proto::duration::{format, parse};
