//! Every request and response survives encode → decode, and no byte sequence
//! makes the decoder panic or allocate past the frame limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_proto::messages::*;
use bangui_proto::{
    ClientHello, HelloReply, MAX_FRAME_LEN, RequestFrame, ResponseFrame, decode, encode,
    frame_codec,
};
use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn run() -> RunRecord {
    RunRecord {
        run_id: "r1".into(),
        job_id: "session_cleanup".into(),
        trigger: Trigger::Manual,
        started_at: 1_700_000_000,
        finished_at: Some(1_700_000_001),
        duration_ms: Some(1200),
        outcome: Outcome::TimedOut,
        summary: "deleted 3".into(),
        error: Some("took too long".into()),
    }
}

fn session() -> SessionInfo {
    SessionInfo {
        id: "s1".into(),
        label: "web".into(),
        created_at: 1,
        last_seen_at: 2,
        expires_at: 3,
        created_by_uid: 1000,
    }
}

fn counts() -> JailCounts {
    JailCounts {
        name: "sshd".into(),
        currently_failed: 1,
        total_failed: 2,
        currently_banned: 3,
        total_banned: 4,
    }
}

fn covering() -> Covering {
    Covering {
        network: "192.0.2.0/24".into(),
        jails: vec!["bangui-blocklist".into()],
        sources: vec!["f".into()],
    }
}

fn enforcement() -> Enforcement {
    Enforcement {
        jail: "bangui-blocklist".into(),
        actions: vec!["bangui-nftables".into()],
        networks: NetworkSupport::Held,
        detail: None,
        kernel: Some(KernelSets {
            sets: "nftables table inet bangui-blocklist".into(),
            addresses_v4: 1,
            addresses_v6: 2,
            networks_v4: 3,
            networks_v6: 4,
            networks_banned: 8,
            pending: 0,
            errors: 1,
            last_error: Some("nft: no".into()),
        }),
    }
}

fn all_requests() -> Vec<Request> {
    vec![
        Request::Ping,
        Request::Status,
        Request::ListJobs,
        Request::RunJob(RunJob {
            job_id: "j".into(),
            wait: false,
        }),
        Request::ListRuns(ListRuns {
            job_id: Some("j".into()),
            limit: 5,
        }),
        Request::ShowRun(ShowRun { run_id: "r".into() }),
        Request::CreateSession(CreateSession {
            label: "l".into(),
            ttl_secs: None,
        }),
        Request::ValidateSession(ValidateSession { token: "t".into() }),
        Request::ListSessions(ListSessions { limit: 3 }),
        Request::ShowSession(ShowSession { id: "s".into() }),
        Request::RevokeSession(RevokeSession { id: "s".into() }),
        Request::Fail2banHealth(HealthQuery { live: true }),
        Request::JailStatus(JailStatusQuery {
            jail: "sshd".into(),
            limit: 10,
        }),
        Request::Ban(BanRequest {
            targets: vec!["192.0.2.1".into(), "198.51.100.0/24".into()],
            jail: None,
        }),
        Request::Unban(UnbanRequest {
            targets: vec!["192.0.2.1".into()],
            jail: Some("sshd".into()),
        }),
        Request::Banned(BannedQuery {
            addresses: vec!["192.0.2.1".into(), "45.33.32.156".into()],
        }),
        Request::GeoLookup(GeoLookup {
            addresses: vec!["192.0.2.1".into()],
            remote: true,
        }),
        Request::GeoStats,
        Request::GeoUnresolved(GeoUnresolvedQuery { limit: 5 }),
        Request::GeoFlush,
        Request::GeoForget(GeoForget {
            addresses: vec!["2001:db8::1".into()],
        }),
        Request::AddSource(AddSource {
            name: "firehol".into(),
            url: "https://example.net/list.txt".into(),
            interval_secs: Some(3600),
            jail: None,
            max_entries: Some(10),
            local: true,
            secret_path: false,
            format: ListFormat {
                json_field: Some("cidr".into()),
                min_score: Some(3),
                min_prefix_v4: None,
                min_prefix_v6: Some(29),
            },
        }),
        Request::ListSources,
        Request::ShowSource(SourceName { name: "f".into() }),
        Request::EnableSource(EnableSource {
            name: "f".into(),
            enabled: false,
        }),
        Request::RemoveSource(RemoveSource {
            name: "f".into(),
            unban: true,
        }),
        Request::RunImport(RunImport {
            name: None,
            wait: true,
        }),
        Request::ListImportRuns(ListImportRuns {
            source: Some("f".into()),
            running: false,
            limit: 5,
        }),
        Request::PlanImport(SourceName { name: "f".into() }),
        Request::HistoryList(HistoryQuery {
            ip: None,
            jail: Some("sshd".into()),
            country: Some("DE".into()),
            since: Some(1),
            until: None,
            before_id: Some(9),
            limit: 50,
        }),
        Request::HistoryIp(HistoryIpQuery {
            ip: "192.0.2.1".into(),
        }),
        Request::HistoryStats(HistoryGroupQuery {
            by: "jail".into(),
            since: None,
            limit: 10,
        }),
        Request::HistoryTop(HistoryGroupQuery {
            by: "ip".into(),
            since: Some(5),
            limit: 10,
        }),
        Request::Setup(Setup {
            password: "p".into(),
            force: true,
            old_password: Some("o".into()),
        }),
        Request::SetupStatus,
        Request::Login(Login {
            password: "p".into(),
            label: "web".into(),
        }),
        Request::Logout(Logout { token: "t".into() }),
        Request::ConfigShow,
        Request::ConfigSet(SetSetting {
            key: "sessions.default_ttl".into(),
            value: "2h".into(),
        }),
        Request::ConfigUnset(UnsetSetting {
            key: "sessions.default_ttl".into(),
        }),
        Request::Explain(ExplainQuery {
            target: "1.10.16.5".into(),
        }),
    ]
}

fn history_row() -> HistoryRow {
    HistoryRow {
        id: 1,
        jail: "sshd".into(),
        ip: "192.0.2.1".into(),
        time_of_ban: 1_700_000_000,
        bantime: 600,
        bancount: 1,
        failures: Some(5),
        country_code: Some("DE".into()),
        asn: None,
        unbanned_at: Some(1_700_000_300),
    }
}

fn import_run() -> ImportRunInfo {
    ImportRunInfo {
        id: 7,
        source: "f".into(),
        jail: "bangui-blocklist".into(),
        trigger: "manual".into(),
        status: "completed".into(),
        started_at: 1,
        finished_at: Some(2),
        content_sha256: Some("ab".into()),
        download: Some("200, 10 B".into()),
        lines: 5,
        entries: 4,
        invalid: 1,
        duplicates: 0,
        too_broad: 0,
        below_score: 0,
        folded: 0,
        refused: 1,
        refused_by: vec![ReasonCount {
            reason: "private".into(),
            count: 1,
        }],
        over_cap: 0,
        lost: 0,
        to_ban: 3,
        banned: 3,
        to_unban: 0,
        unbanned: 0,
        deferred: 0,
        samples: vec!["line 2: `x`".into()],
        error: None,
    }
}

fn geo_info() -> GeoInfo {
    GeoInfo {
        address: "192.0.2.1".into(),
        country_code: Some("DE".into()),
        country: Some("Germany".into()),
        asn: Some(64_512),
        org: Some("Example".into()),
        source: "maxmind".into(),
        status: "resolved".into(),
        reason: None,
        updated_at: 1_700_000_000,
        attempts: 0,
    }
}

fn all_responses() -> Vec<Response> {
    vec![
        Response::Pong(Pong {
            daemon_version: "0.1.0".into(),
        }),
        Response::Status(StatusInfo {
            daemon_version: "0.1.0".into(),
            protocol_version: 1,
            pid: 42,
            started_at: 5,
            uptime_secs: 6,
            state_dir: "/var/lib/bangui".into(),
            socket: "/run/bangui/bangui.sock".into(),
            database: "/var/lib/bangui/bangui.db".into(),
            database_bytes: 4096,
            schema_version: 1,
            jobs_total: 2,
            jobs_running: 1,
            jobs_failing: 0,
            failing_jobs: vec![FailingJob {
                id: "history_sync".into(),
                failures_in_a_row: 3,
                error: Some("locked".into()),
            }],
            disk_full: true,
            peer: PeerInfo {
                uid: 0,
                gid: 0,
                pid: 7,
                admin: true,
            },
        }),
        Response::Jobs(vec![JobInfo {
            id: "session_cleanup".into(),
            interval_ms: 1,
            timeout_ms: 2,
            first_delay_ms: 3,
            enabled: true,
            running: Some(run()),
            last: Some(run()),
            next_run_at: Some(9),
            failures_in_a_row: 4,
        }]),
        Response::JobTriggered(JobTriggered {
            run: run(),
            already_running: true,
        }),
        Response::Runs(vec![run(), run()]),
        Response::Run(run()),
        Response::SessionCreated(SessionCreated {
            session: session(),
            token: "tok".into(),
        }),
        Response::Session(session()),
        Response::Sessions(vec![session()]),
        Response::SessionRevoked(session()),
        Response::Fail2banHealth(Fail2banHealth {
            state: Fail2banState::Down,
            socket: "/run/fail2ban/fail2ban.sock".into(),
            checked_at: Some(1),
            since: None,
            version: Some("1.0.2".into()),
            jails: vec![counts()],
            error: Some("gone".into()),
            missing_jails: vec!["bangui-manual".into()],
            hint: Some("reload".into()),
            enforcement: vec![enforcement()],
        }),
        Response::JailStatus(JailStatusInfo {
            counts: counts(),
            banned: vec!["192.0.2.1".into()],
            banned_total: 7,
            enforcement: None,
        }),
        Response::BanReport(BanReport {
            requested: 3,
            accepted: 2,
            jails: vec![JailChange {
                jail: "bangui-manual".into(),
                sent: 2,
                changed: 1,
            }],
            all_jails: true,
            refused: vec![Refused {
                target: "127.0.0.1".into(),
                reason: "loopback".into(),
                detail: "loopback range 127.0.0.0/8".into(),
            }],
            refused_total: 1,
            error: None,
        }),
        Response::BannedIn(vec![BannedIn {
            address: "192.0.2.1".into(),
            jails: vec!["sshd".into()],
            networks: vec![covering()],
        }]),
        Response::GeoRecords(vec![geo_info()]),
        Response::GeoStats(GeoStatsInfo {
            entries: 3,
            resolved: 1,
            unresolved: 1,
            not_routable: 1,
            dirty: 2,
            queued: 0,
            overflowed: 0,
            lookups: 9,
            cache_hits: 4,
            maxmind_hits: 3,
            ip_api_resolved: 1,
            ip_api_failed: 1,
            last_flush_at: Some(1_700_000_000),
            maxmind: vec![MaxMindInfo {
                role: "country".into(),
                path: Some("/var/lib/GeoIP/GeoLite2-Country.mmdb".into()),
                state: "loaded".into(),
                database_type: Some("GeoLite2-Country".into()),
                build_epoch: Some(1_700_000_000),
                error: None,
            }],
            ip_api: IpApiInfo {
                enabled: true,
                offline: false,
                url: "http://ip-api.com".into(),
                budget_left: 15,
                next_window_secs: 0,
                requests: 2,
                last_error: Some("timed out".into()),
            },
        }),
        Response::GeoFlushed(GeoFlushed {
            written: 2,
            dirty: 0,
        }),
        Response::GeoForgotten(GeoForgotten { forgotten: 1 }),
        Response::Source(SourceInfo {
            name: "f".into(),
            url: "https://example.net/list.txt".into(),
            jail: "bangui-blocklist".into(),
            interval_secs: 86_400,
            max_entries: 1_000_000,
            enabled: true,
            local: false,
            secret_path: true,
            format: ListFormat::default(),
            origin: "ctl".into(),
            listed: 4,
            banned: 3,
            failure_streak: 0,
            next_run_at: Some(3),
            last_success_at: Some(2),
            last_run: Some(import_run()),
            enforcement: Some(enforcement()),
        }),
        Response::Sources(vec![]),
        Response::SourceRemoved(SourceRemoved {
            name: "f".into(),
            unbanned: 3,
            deferred: 0,
            error: None,
        }),
        Response::ImportRuns(vec![import_run()]),
        Response::ImportPlan(ImportPlan {
            source: "f".into(),
            jail: "j".into(),
            download: None,
            lines: 1,
            entries: 1,
            invalid: 0,
            duplicates: 0,
            too_broad: 0,
            below_score: 0,
            folded: 0,
            refused: 0,
            refused_by: vec![],
            over_cap: 0,
            lost: 0,
            to_ban: 1,
            to_unban: 0,
            samples: vec![],
            error: None,
            enforcement: None,
        }),
        Response::HistoryPage(HistoryPage {
            rows: vec![history_row()],
            next_before_id: Some(1),
        }),
        Response::HistoryIp(HistoryIpInfo {
            ip: "192.0.2.1".into(),
            geo: Some(geo_info()),
            bans: vec![history_row()],
            total_bans: 1,
            blocklists: vec!["f".into()],
            blocklist_jails: vec![],
            covering: vec![covering()],
            geo_of_first_address: false,
        }),
        Response::HistoryStats(HistoryStatsInfo {
            by: "jail".into(),
            since: None,
            total_bans: 1,
            total_addresses: 1,
            groups: vec![HistoryGroup {
                key: "sshd".into(),
                bans: 1,
                addresses: 1,
            }],
            sync: HistorySyncInfo {
                dbfile: Some("/var/lib/fail2ban/fail2ban.sqlite3".into()),
                status: "ok".into(),
                detail: None,
                synced_at: Some(2),
                archived: 1,
                oldest: Some(1),
                newest: Some(2),
            },
        }),
        Response::SetupState(SetupState {
            complete: true,
            completed_at: Some(3),
        }),
        Response::Config(ConfigView {
            config_file: Some("/etc/bangui/bangui.toml".into()),
            entries: vec![ConfigEntry {
                key: "daemon.log_level".into(),
                value: "\"debug\"".into(),
                source: ValueSource::Persisted,
                settable: true,
                next_start: Some(PendingValue {
                    value: "\"info\"".into(),
                    source: ValueSource::File,
                }),
            }],
            file_sources: 2,
            ignored: vec![IgnoredSetting {
                key: "history.retention_days".into(),
                value: "0".into(),
                reason: "must be between 1 and 36500".into(),
            }],
        }),
        Response::SettingChanged(SettingChanged {
            key: "geo.queue_size".into(),
            persisted: Some("5000".into()),
            value: "5000".into(),
            source: ValueSource::Environment,
            applies: Applies::Shadowed(ValueSource::Flag),
        }),
        Response::Explanation(Explanation {
            target: "1.10.16.5".into(),
            bans: vec![ExplainedBan {
                jail: "bangui-blocklist".into(),
                banned: "1.10.16.0/20".into(),
                since: Some(1),
                until: Some(86_401),
                permanent: false,
            }],
            listings: vec![Listing {
                source: "spamhaus".into(),
                jail: "bangui-blocklist".into(),
                entry: "1.10.16.0/20".into(),
                since: None,
            }],
            refused: None,
            geo: Some(geo_info()),
            geo_of_first_address: false,
        }),
    ]
}

// Exhaustive matches: adding a variant without adding it to the samples above
// stops this file compiling or fails the coverage assertions below.
fn request_index(r: &Request) -> usize {
    match r {
        Request::Ping => 0,
        Request::Status => 1,
        Request::ListJobs => 2,
        Request::RunJob(_) => 3,
        Request::ListRuns(_) => 4,
        Request::ShowRun(_) => 5,
        Request::CreateSession(_) => 6,
        Request::ValidateSession(_) => 7,
        Request::ListSessions(_) => 8,
        Request::ShowSession(_) => 9,
        Request::RevokeSession(_) => 10,
        Request::Fail2banHealth(_) => 11,
        Request::JailStatus(_) => 12,
        Request::Ban(_) => 13,
        Request::Unban(_) => 14,
        Request::Banned(_) => 15,
        Request::GeoLookup(_) => 16,
        Request::GeoStats => 17,
        Request::GeoUnresolved(_) => 18,
        Request::GeoFlush => 19,
        Request::GeoForget(_) => 20,
        Request::AddSource(_) => 21,
        Request::ListSources => 22,
        Request::ShowSource(_) => 23,
        Request::EnableSource(_) => 24,
        Request::RemoveSource(_) => 25,
        Request::RunImport(_) => 26,
        Request::ListImportRuns(_) => 27,
        Request::PlanImport(_) => 28,
        Request::HistoryList(_) => 29,
        Request::HistoryIp(_) => 30,
        Request::HistoryStats(_) => 31,
        Request::HistoryTop(_) => 32,
        Request::Setup(_) => 33,
        Request::SetupStatus => 34,
        Request::Login(_) => 35,
        Request::Logout(_) => 36,
        Request::ConfigShow => 37,
        Request::ConfigSet(_) => 38,
        Request::ConfigUnset(_) => 39,
        Request::Explain(_) => 40,
    }
}

fn response_index(r: &Response) -> usize {
    match r {
        Response::Pong(_) => 0,
        Response::Status(_) => 1,
        Response::Jobs(_) => 2,
        Response::JobTriggered(_) => 3,
        Response::Runs(_) => 4,
        Response::Run(_) => 5,
        Response::SessionCreated(_) => 6,
        Response::Session(_) => 7,
        Response::Sessions(_) => 8,
        Response::SessionRevoked(_) => 9,
        Response::Fail2banHealth(_) => 10,
        Response::JailStatus(_) => 11,
        Response::BanReport(_) => 12,
        Response::BannedIn(_) => 13,
        Response::GeoRecords(_) => 14,
        Response::GeoStats(_) => 15,
        Response::GeoFlushed(_) => 16,
        Response::GeoForgotten(_) => 17,
        Response::Source(_) => 18,
        Response::Sources(_) => 19,
        Response::SourceRemoved(_) => 20,
        Response::ImportRuns(_) => 21,
        Response::ImportPlan(_) => 22,
        Response::HistoryPage(_) => 23,
        Response::HistoryIp(_) => 24,
        Response::HistoryStats(_) => 25,
        Response::SetupState(_) => 26,
        Response::Config(_) => 27,
        Response::SettingChanged(_) => 28,
        Response::Explanation(_) => 29,
    }
}

#[test]
fn every_request_round_trips() {
    let requests = all_requests();
    let indices: Vec<usize> = requests.iter().map(request_index).collect();
    assert_eq!(indices, (0..requests.len()).collect::<Vec<_>>());
    for (id, request) in requests.into_iter().enumerate() {
        let frame = RequestFrame {
            id: id as u64,
            request,
        };
        let bytes = encode(&frame).unwrap();
        // The variant index is the byte after the one-byte id.
        assert_eq!(bytes[1] as usize, id);
        assert_eq!(decode::<RequestFrame>(&bytes).unwrap(), frame);
    }
}

#[test]
fn every_response_round_trips() {
    let responses = all_responses();
    let indices: Vec<usize> = responses.iter().map(response_index).collect();
    assert_eq!(indices, (0..responses.len()).collect::<Vec<_>>());
    for response in responses {
        let frame = ResponseFrame {
            id: 1,
            result: Ok(response),
        };
        let bytes = encode(&frame).unwrap();
        assert_eq!(decode::<ResponseFrame>(&bytes).unwrap(), frame);
    }
}

#[test]
fn outcome_and_trigger_names_parse_back() {
    for o in Outcome::ALL {
        assert_eq!(Outcome::parse(o.as_str()), Some(o));
    }
    for t in Trigger::ALL {
        assert_eq!(Trigger::parse(t.as_str()), Some(t));
    }
    assert_eq!(Outcome::parse("bogus"), None);
}

#[test]
fn four_gib_frame_header_is_refused_before_allocating() {
    let mut codec = frame_codec();
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3][..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(err.to_string().contains("frame size too big"), "{err}");
    // Nothing was reserved for the announced 4 GiB.
    assert!(buf.capacity() < 1024, "capacity grew to {}", buf.capacity());
}

#[test]
fn oversize_messages_are_refused_on_encode() {
    let huge = Request::ValidateSession(ValidateSession {
        token: "x".repeat(MAX_FRAME_LEN + 1),
    });
    let err = encode(&RequestFrame {
        id: 1,
        request: huge,
    })
    .unwrap_err();
    assert!(err.to_string().contains("frame limit"), "{err}");
}

#[test]
fn claimed_huge_string_is_refused_by_the_allocation_limit() {
    // id 1, ValidateSession (7), then a string length of u64::MAX as a varint.
    let mut bytes = vec![1u8, 7, 253];
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode::<RequestFrame>(&bytes).is_err());
}

#[test]
fn trailing_bytes_are_an_error() {
    assert!(decode::<RequestFrame>(&[1, 0, 0]).is_err());
}

#[test]
fn unknown_variants_are_recognised() {
    let err = decode::<RequestFrame>(&[1, 200]).unwrap_err();
    assert!(err.is_unknown_variant(), "{err}");
    assert_eq!(bangui_proto::decode_prefix::<u64>(&[1, 200]).unwrap(), 1);
}

proptest! {
    #[test]
    fn random_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<RequestFrame>(&bytes);
        let _ = decode::<ResponseFrame>(&bytes);
        let _ = decode::<ClientHello>(&bytes);
        let _ = decode::<HelloReply>(&bytes);
    }

    #[test]
    fn truncated_frames_never_panic(cut in 0usize..64, which in 0usize..16) {
        let request = all_requests().swap_remove(which);
        let payload = encode(&RequestFrame { id: 3, request }).unwrap();
        let mut framed = BytesMut::new();
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(&payload);
        let cut = cut.min(framed.len());
        let mut partial = BytesMut::from(&framed[..cut]);
        let mut codec = frame_codec();
        // A short buffer is "not yet": no frame, no error, no panic.
        if cut < framed.len() {
            prop_assert!(codec.decode(&mut partial).unwrap().is_none());
        }
        let _ = decode::<RequestFrame>(&payload[..cut.min(payload.len())]);
    }

    #[test]
    fn random_streams_through_the_framer_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut codec = frame_codec();
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(frame)) = codec.decode(&mut buf) {
            let _ = decode::<RequestFrame>(&frame);
        }
    }
}
