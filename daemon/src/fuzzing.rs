//! Entry points for the fuzz targets in `fuzz/` and for the stable test that
//! replays their corpora (`tests/tests/fuzz_corpora.rs`): each takes arbitrary
//! bytes and must return without panicking, whatever they are.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use bangui_proto::messages::{Request, RequestFrame};
use bangui_proto::paths::DefaultPaths;

use crate::config::{Config, Overrides};

/// The daemon's side of the wire: a frame stream through the length codec,
/// then each payload as a hello or a request.
pub fn frames(data: &[u8]) {
    use tokio_util::codec::Decoder;
    let mut codec = bangui_proto::frame_codec();
    let mut buf = bytes::BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        let _ = bangui_proto::decode::<bangui_proto::ClientHello>(&frame);
        if let Ok(frame) = bangui_proto::decode::<RequestFrame>(&frame) {
            let _ = frame.request.is_mutating();
            let _: &Request = &frame.request;
        }
    }
    let _ = bangui_proto::decode::<RequestFrame>(data);
}

/// A fail2ban reply: the pickle decoder, then every typed reading of it.
pub fn fail2ban_reply(data: &[u8]) {
    use crate::fail2ban::{pickle, reply};
    let Ok(value) = pickle::decode(data) else {
        return;
    };
    let _ = reply::jail_list(value.clone());
    let _ = reply::jail_status(value.clone());
    let _ = reply::strings(value.clone(), "fuzz");
    let _ = reply::int(value.clone(), "fuzz");
    let _ = reply::string(value.clone(), "fuzz");
    let _ = reply::error(value);
}

/// A downloaded blocklist body: parsed whole, then told apart by content
/// (plain, gzip, zip) and fed in chunks whose size the first byte picks,
/// with the default format and with a scored, JSON-field one.
pub fn blocklist(data: &[u8]) {
    use crate::blocklist::decode::Body;
    use crate::blocklist::parse::{Format, Parser, parse};
    let _ = parse(data);
    let chunk = usize::from(data.first().copied().unwrap_or(0)).max(1);
    let scored = Format {
        json_field: Some("ip".into()),
        min_score: Some(2),
        floor_v4: 16,
        floor_v6: 32,
    };
    for format in [Format::default(), scored] {
        let mut body = Body::new(Parser::with_size_hint(format, 0), 1 << 20);
        if data.chunks(chunk).all(|part| body.feed(part).is_ok()) {
            let _ = body.finish();
        }
    }
}

/// An ip-api batch answer to a fixed question of three addresses.
pub fn ip_api(data: &[u8]) {
    let asked = [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
        "2001:db8::3"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ];
    let _ = crate::geo::ipapi::parse_batch(data, &asked);
}

/// A config file, then every key of the result set back through `config set`.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let defaults = DefaultPaths {
        config_file: "/etc/bangui/bangui.toml".into(),
        state_dir: "/var/lib/bangui".into(),
        socket: "/run/bangui/bangui.sock".into(),
    };
    let jobs = crate::jobs::defaults(false);
    let origin = Path::new("/etc/bangui/bangui.toml");
    if let Ok(config) = Config::from_toml(&defaults, &Overrides::default(), origin, text, &jobs) {
        for entry in config.entries().into_iter().take(8) {
            let _ = config.with_setting(&entry.key, Some(crate::config::parse_value(text)));
        }
    }
}
