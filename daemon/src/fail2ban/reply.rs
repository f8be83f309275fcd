//! Turning fail2ban's decoded replies into typed values. Every unexpected
//! shape is an error naming what was expected.

use super::Fail2banError;
use super::pickle::Value;

/// A jail's counters, and its banned addresses when asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JailStatus {
    pub currently_failed: u64,
    pub total_failed: u64,
    pub currently_banned: u64,
    pub total_banned: u64,
    pub banned: Option<Vec<String>>,
}

pub fn unexpected(what: &str, value: &Value) -> Fail2banError {
    let mut shown = format!("{value:?}");
    if shown.len() > 200 {
        let mut end = 200;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push('…');
    }
    Fail2banError::BadReply(format!("{what}: unexpected value {shown}"))
}

pub fn string(value: Value, what: &str) -> Result<String, Fail2banError> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(unexpected(what, &other)),
    }
}

pub fn int(value: Value, what: &str) -> Result<i64, Fail2banError> {
    match value {
        Value::Int(n) => Ok(n),
        Value::Bool(b) => Ok(i64::from(b)),
        other => Err(unexpected(what, &other)),
    }
}

pub fn count(value: Value, what: &str) -> Result<u64, Fail2banError> {
    let n = int(value, what)?;
    u64::try_from(n).map_err(|_| Fail2banError::BadReply(format!("{what}: negative count {n}")))
}

pub fn list(value: Value, what: &str) -> Result<Vec<Value>, Fail2banError> {
    match value {
        Value::List(items) | Value::Tuple(items) => Ok(items),
        other => Err(unexpected(what, &other)),
    }
}

pub fn strings(value: Value, what: &str) -> Result<Vec<String>, Fail2banError> {
    list(value, what)?
        .into_iter()
        .map(|v| string(v, what))
        .collect()
}

/// A dict with text keys, as a Python action's property may answer.
pub fn dict(value: Value, what: &str) -> Result<Vec<(String, Value)>, Fail2banError> {
    match value {
        Value::Dict(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Ok((string(k, what)?, v)))
            .collect(),
        other => Err(unexpected(what, &other)),
    }
}

/// A list of `(label, value)` tuples, as `status` answers.
fn labelled(value: Value, what: &str) -> Result<Vec<(String, Value)>, Fail2banError> {
    list(value, what)?
        .into_iter()
        .map(|item| match item {
            Value::Tuple(mut pair) if pair.len() == 2 => {
                let v = pair.pop().unwrap_or(Value::None);
                let label = string(pair.pop().unwrap_or(Value::None), what)?;
                Ok((label, v))
            }
            other => Err(unexpected(what, &other)),
        })
        .collect()
}

/// The jail names from `status`.
pub fn jail_list(value: Value) -> Result<Vec<String>, Fail2banError> {
    for (label, v) in labelled(value, "status")? {
        if label == "Jail list" {
            let text = string(v, "status jail list")?;
            return Ok(text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect());
        }
    }
    Err(Fail2banError::BadReply("status: no `Jail list`".into()))
}

/// The counters (and banned list) from `status <jail>`.
pub fn jail_status(value: Value) -> Result<JailStatus, Fail2banError> {
    let mut status = JailStatus::default();
    let mut seen = 0;
    for (section, items) in labelled(value, "jail status")? {
        if section != "Filter" && section != "Actions" {
            continue;
        }
        for (label, v) in labelled(items, "jail status")? {
            match label.as_str() {
                "Currently failed" => status.currently_failed = count(v, &label)?,
                "Total failed" => status.total_failed = count(v, &label)?,
                "Currently banned" => status.currently_banned = count(v, &label)?,
                "Total banned" => status.total_banned = count(v, &label)?,
                "Banned IP list" => status.banned = Some(strings(v, &label)?),
                _ => continue,
            }
            seen += 1;
        }
    }
    if seen < 4 {
        return Err(Fail2banError::BadReply(
            "jail status: counters missing".into(),
        ));
    }
    Ok(status)
}

/// fail2ban's error payload: an exception applied to its arguments.
pub fn error(payload: Value) -> Fail2banError {
    match payload {
        Value::Call { name, args, .. } => {
            let message = args
                .iter()
                .map(|a| match a {
                    Value::Str(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            if name == "UnknownJailException" {
                Fail2banError::UnknownJail(message)
            } else {
                Fail2banError::Refused {
                    class: name,
                    message,
                }
            }
        }
        other => Fail2banError::Refused {
            class: "error".into(),
            message: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fail2ban::pickle::decode;

    fn payload(name: &str) -> Value {
        let path = format!(
            "{}/src/fail2ban/fixtures/{name}.pickle",
            env!("CARGO_MANIFEST_DIR")
        );
        match decode(&std::fs::read(path).unwrap()).unwrap() {
            Value::Tuple(mut pair) => pair.pop().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_replies_from_the_real_server() {
        assert_eq!(jail_list(payload("status")).unwrap(), ["bangui-manual"]);
        let status = jail_status(payload("jail_status")).unwrap();
        assert_eq!(status.currently_banned, 2);
        assert_eq!(
            status.banned.as_deref().unwrap(),
            ["192.0.2.1", "2001:db8::1"]
        );
        let short = jail_status(payload("jail_status_short")).unwrap();
        assert_eq!(short.banned, None);
        assert_eq!(short.total_banned, 2006);
        let big = jail_status(payload("jail_status_2000")).unwrap();
        assert_eq!(big.banned.unwrap().len(), 2002);
        assert_eq!(int(payload("bantime"), "bantime").unwrap(), 86400);
        assert_eq!(int(payload("banip_count"), "banip").unwrap(), 1);
        assert!(strings(payload("ignoreip"), "ignoreip").unwrap().is_empty());
        let banned = list(payload("banned_ip"), "banned").unwrap();
        assert_eq!(
            strings(banned[0].clone(), "banned").unwrap(),
            ["bangui-manual"]
        );
    }

    #[test]
    fn errors_carry_fail2ban_s_message() {
        assert!(matches!(
            error(payload("unknown_jail")),
            Fail2banError::UnknownJail(j) if j == "nojail"
        ));
        let err = error(payload("bad_command")).to_string();
        assert!(err.contains("Invalid command (no get action"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_errors() {
        assert!(jail_list(Value::Int(3)).is_err());
        assert!(jail_status(Value::List(vec![])).is_err());
        assert!(strings(Value::List(vec![Value::Int(1)]), "x").is_err());
        let long = unexpected("x", &Value::Str("y".repeat(1000))).to_string();
        assert!(long.len() < 300);
    }
}
