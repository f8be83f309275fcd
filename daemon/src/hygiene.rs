//! Log hygiene: secrets never reach a log line or a STATUS line, whatever the
//! level and whichever crate logs. [`scrub`] removes credentials from text;
//! [`Scrubbed`] wraps every log output layer (text, JSON, journald) and hands
//! it events and spans whose values went through [`scrub`].
//!
//! bangui itself never logs a password or token; this is the net under that
//! rule, for its own mistakes and for dependencies logging at debug or trace
//! (a redirect URL with a password in it, an Authorization header).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |pattern: &str, replacement| {
        Regex::new(pattern).ok().map(|pattern| Rule {
            pattern,
            replacement,
        })
    };
    [
        // scheme://user:password@host
        // The whole user part: a token often stands where the user name is.
        rule(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@]+@", "${1}***@"),
        // Keys and tokens in query strings or forms.
        rule(
            r"(?i)([?&;](?:key|api_?key|apikey|token|access_token|auth|password|passwd|pass|pwd|secret|signature|sig)=)[^&\s#]+",
            "${1}***",
        ),
        // Authorization / Proxy-Authorization headers, as text or as a debug-printed map.
        rule(
            r#"(?i)((?:proxy-)?authorization"?\s*[:=]\s*"?)[^"\r\n,}]+"#,
            "${1}***",
        ),
        // Debug-printed structs and key=value pairs naming a password or token.
        rule(
            r#"(?i)\b((?:old_|new_)?(?:password|passwd|token|secret)"?\s*[:=]\s*)("[^"]*"|[^\s,}&]+)"#,
            "${1}***",
        ),
        // bangui session tokens wherever they appear.
        rule(r"bgt_[0-9A-Fa-f]{8,}", "bgt_***"),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// `text` with every credential it carries replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for rule in RULES.iter() {
        if let Cow::Owned(changed) = rule.pattern.replace_all(&out, rule.replacement) {
            out = Cow::Owned(changed);
        }
    }
    out
}

/// A log output layer that only ever sees scrubbed values.
pub struct Scrubbed<L> {
    inner: L,
}

impl<L> Scrubbed<L> {
    pub fn new(inner: L) -> Scrubbed<L> {
        Scrubbed { inner }
    }
}

/// A field value as recorded, with text scrubbed.
enum Value {
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
    Str(String),
    /// Debug or Display output: recorded again as Display, so it prints as before.
    Text(String),
}

#[derive(Default)]
struct Collect {
    values: Vec<(Field, Value)>,
    changed: bool,
}

impl Collect {
    fn text(&mut self, field: &Field, text: &str, as_str: bool) {
        let scrubbed = scrub(text);
        if matches!(scrubbed, Cow::Owned(_)) {
            self.changed = true;
        }
        let text = scrubbed.into_owned();
        let value = if as_str {
            Value::Str(text)
        } else {
            Value::Text(text)
        };
        self.values.push((field.clone(), value));
    }
}

impl Visit for Collect {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.values.push((field.clone(), Value::I64(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.values.push((field.clone(), Value::U64(value)));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.values.push((field.clone(), Value::I128(value)));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.values.push((field.clone(), Value::U128(value)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.values.push((field.clone(), Value::F64(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.values.push((field.clone(), Value::Bool(value)));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value, true);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, &value.to_string(), false);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.text(field, &format!("{value:?}"), false);
    }
}

/// The scrubbed values of `record`, or None when nothing needed scrubbing.
fn scrubbed(record: impl FnOnce(&mut Collect)) -> Option<Vec<(Field, Value)>> {
    let mut collect = Collect::default();
    record(&mut collect);
    collect.changed.then_some(collect.values)
}

/// tracing builds value sets from fixed-size arrays (at most 32 fields, as
/// its macros allow); unused slots repeat the first field without a value.
const MAX_FIELDS: usize = 32;

fn with_value_set<R>(
    meta: &'static Metadata<'static>,
    values: &[(Field, Value)],
    f: impl FnOnce(&tracing::field::ValueSet<'_>) -> R,
) -> Option<R> {
    let (first, _) = values.first()?;
    let shown: Vec<Box<dyn tracing::Value + '_>> = values
        .iter()
        .map(|(_, v)| -> Box<dyn tracing::Value + '_> {
            match v {
                Value::I64(x) => Box::new(*x),
                Value::U64(x) => Box::new(*x),
                Value::I128(x) => Box::new(*x),
                Value::U128(x) => Box::new(*x),
                Value::F64(x) => Box::new(*x),
                Value::Bool(x) => Box::new(*x),
                Value::Str(s) => Box::new(s.as_str()),
                Value::Text(s) => Box::new(tracing::field::display(s.as_str())),
            }
        })
        .collect();
    let slots: [(&Field, Option<&dyn tracing::Value>); MAX_FIELDS] =
        std::array::from_fn(|i| match (values.get(i), shown.get(i)) {
            (Some((field, _)), Some(value)) => (field, Some(value.as_ref())),
            _ => (first, None),
        });
    let set = meta.fields().value_set(&slots);
    Some(f(&set))
}

impl<S, L> Layer<S> for Scrubbed<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(values) = scrubbed(|c| attrs.record(c)) else {
            return self.inner.on_new_span(attrs, id, ctx);
        };
        let meta = attrs.metadata();
        let done = with_value_set(meta, &values, |set| {
            let clean = if attrs.is_root() {
                Attributes::new_root(meta, set)
            } else if let Some(parent) = attrs.parent() {
                Attributes::child_of(parent.clone(), meta, set)
            } else {
                Attributes::new(meta, set)
            };
            self.inner.on_new_span(&clean, id, ctx.clone());
        });
        if done.is_none() {
            self.inner.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let (Some(clean), Some(meta)) = (scrubbed(|c| values.record(c)), ctx.metadata(id)) else {
            return self.inner.on_record(id, values, ctx);
        };
        let done = with_value_set(meta, &clean, |set| {
            self.inner.on_record(id, &Record::new(set), ctx.clone());
        });
        if done.is_none() {
            self.inner.on_record(id, values, ctx);
        }
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(values) = scrubbed(|c| event.record(c)) else {
            return self.inner.on_event(event, ctx);
        };
        let meta = event.metadata();
        let done = with_value_set(meta, &values, |set| {
            let clean = if event.is_root() {
                Event::new_child_of(None, meta, set)
            } else if let Some(parent) = event.parent() {
                Event::new_child_of(parent.clone(), meta, set)
            } else {
                Event::new(meta, set)
            };
            self.inner.on_event(&clean, ctx.clone());
        });
        if done.is_none() {
            self.inner.on_event(event, ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_scrubbed() {
        let cases = [
            (
                "https://user:hunter2@lists.example/x.txt",
                "https://***@lists.example/x.txt",
            ),
            (
                "https://ghp_0123456789@lists.example/x.txt",
                "https://***@lists.example/x.txt",
            ),
            (
                "GET /batch?key=abc123&fields=x",
                "GET /batch?key=***&fields=x",
            ),
            (
                "url=http://h/p?token=t0k&a=1",
                "url=http://h/p?token=***&a=1",
            ),
            ("Authorization: Bearer abc.def", "Authorization: ***"),
            (
                r#"{"authorization": "Basic dXNlcjpwdw=="}"#,
                r#"{"authorization": "***"}"#,
            ),
            (
                r#"Login { password: "pw here", label: "x" }"#,
                r#"Login { password: ***, label: "x" }"#,
            ),
            (
                "old_password=abc new_password=def",
                "old_password=*** new_password=***",
            ),
            (
                "token bgt_0123456789abcdef0123456789abcdef seen",
                "token bgt_*** seen",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(scrub(text), want, "{text}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "wrong password",
            "the password must be 10 to 1024 characters",
            "fail2ban 1.0.2 is up with 3 jail(s)",
            "http://ip-api.com/batch",
            "banned 192.0.2.7 in sshd",
        ] {
            assert!(matches!(scrub(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn every_rule_compiles() {
        assert_eq!(RULES.len(), 5);
    }
}
