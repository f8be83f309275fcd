//! Geo figures: MaxMind lookups for addresses not in the cache, cache hits,
//! flushing 100,000 dirty entries, and loading 1,000,000 cached entries at
//! start with the memory they take. Prints figures; asserts nothing.
//!
//! Run with `scripts/bench.sh` (or `cargo bench -p bangui-tests --bench geo`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Only for the counting allocator below, which measures bytes per entry.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bangui_daemon::clock::Clock;
use bangui_daemon::config::{GeoConfig, MaxMindPath};
use bangui_daemon::geo::{Geo, Reach};
use bangui_daemon::store::Db;
use bangui_tests::geo::{write_asn_db, write_country_db};

/// Counts live heap bytes, for bytes per cache entry.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const NETWORKS: u32 = 200_000;
const COUNTRIES: u32 = 250;
const ORGS: u32 = 20_000;
const ADDRESSES: u32 = 1_000_000;
const FLUSH: u32 = 100_000;

/// The i-th network: /24s spread over 11.0.0.0/8 and beyond, all public.
fn network(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0b00_0000 + i * 256 * 3)
}

/// A public address inside some generated network.
fn address(i: u32) -> IpAddr {
    let net = u32::from(network(i % NETWORKS));
    IpAddr::V4(Ipv4Addr::from(net + 1 + (i / NETWORKS) % 250))
}

fn write_databases(dir: &Path) -> (MaxMindPath, MaxMindPath) {
    let countries: Vec<(String, String, String)> = (0..NETWORKS)
        .map(|i| {
            let c = i % COUNTRIES;
            let code = format!(
                "{}{}",
                (b'A' + (c / 26) as u8) as char,
                (b'A' + (c % 26) as u8) as char
            );
            (format!("{}/24", network(i)), code, format!("Country {c}"))
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = countries
        .iter()
        .map(|(n, c, name)| (n.as_str(), c.as_str(), name.as_str()))
        .collect();
    let country = dir.join("Country.mmdb");
    write_country_db(&country, &refs);
    let orgs: Vec<(String, u32, String)> = (0..NETWORKS)
        .map(|i| {
            let o = i % ORGS;
            (
                format!("{}/24", network(i)),
                64_512 + o,
                format!("Organisation {o}"),
            )
        })
        .collect();
    let refs: Vec<(&str, u32, &str)> = orgs
        .iter()
        .map(|(n, a, o)| (n.as_str(), *a, o.as_str()))
        .collect();
    let asn = dir.join("ASN.mmdb");
    write_asn_db(&asn, &refs);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() / 1024;
    println!(
        "generated MaxMind files: country {} KiB, asn {} KiB, {NETWORKS} networks each",
        size(&country),
        size(&asn)
    );
    let path = |p: std::path::PathBuf| MaxMindPath {
        path: Some(p),
        explicit: true,
    };
    (path(country), path(asn))
}

fn config(country: MaxMindPath, asn: MaxMindPath) -> GeoConfig {
    GeoConfig {
        maxmind_db: country,
        maxmind_asn_db: asn,
        ip_api: false,
        ip_api_url: "http://127.0.0.1:9".into(),
        ip_api_timeout: Duration::from_secs(1),
        offline: true,
        queue_size: 100_000,
        cache_max_entries: 2_000_000,
        ip_api_window: Duration::from_secs(60),
    }
}

async fn open_db(path: &Path) -> Db {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || Db::open(&path))
        .await
        .unwrap()
        .unwrap()
        .0
}

const LOCAL: Reach = Reach {
    remote: false,
    force: false,
    record_misses: true,
};

fn rate(n: u32, elapsed: Duration) -> String {
    format!("{:.2} M/s", f64::from(n) / elapsed.as_secs_f64() / 1e6)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (country, asn) = write_databases(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ips: Vec<IpAddr> = (0..ADDRESSES).map(address).collect();

    runtime.block_on(async {
        let db = open_db(&dir.path().join("bench.db")).await;
        let geo = Geo::load(&config(country.clone(), asn.clone()), db.clone(), Clock::System)
            .await
            .unwrap();

        // One core, addresses not in the cache: tree walks in both files plus
        // the cache insert, in batches as the queue hands them over.
        let started = Instant::now();
        for batch in ips.chunks(10_000) {
            geo.resolve_local(batch, LOCAL);
        }
        let elapsed = started.elapsed();
        let counts = geo.counts();
        println!(
            "MaxMind lookups, not cached (country + ASN + cache insert): {} addresses in {:?} = {} (resolved {})",
            ADDRESSES,
            elapsed,
            rate(ADDRESSES, elapsed),
            counts.resolved
        );

        // Cache hits as the resolver takes them: a batch under one read lock.
        let rounds = 5;
        let started = Instant::now();
        for _ in 0..rounds {
            for batch in ips.chunks(10_000) {
                let misses = geo.resolve_local(batch, LOCAL);
                assert!(misses.is_empty());
            }
        }
        let elapsed = started.elapsed();
        println!(
            "cache hits through the resolver, 1,000,000 distinct addresses: {} in {elapsed:?} = {}",
            ADDRESSES * rounds,
            rate(ADDRESSES * rounds, elapsed)
        );
        // One address at a time, each taking the lock: a hot set of 10,000
        // (the same attackers come back) and the whole million (memory-bound).
        for (label, set) in [("10,000 hot", &ips[..10_000]), ("1,000,000", &ips[..])] {
            let total = 5_000_000u32;
            let started = Instant::now();
            let mut hits = 0u32;
            for ip in set.iter().cycle().take(total as usize) {
                hits += u32::from(geo.cached(*ip).is_some());
            }
            let elapsed = started.elapsed();
            println!(
                "single cache lookups over {label} addresses: {hits} hits in {elapsed:?} = {}",
                rate(total, elapsed)
            );
        }

        // The dirty set holds all 1,000,000; flush the first 100,000 alone.
        let fresh_db = open_db(&dir.path().join("flush.db")).await;
        let small = Geo::load(&config(country.clone(), asn.clone()), fresh_db, Clock::System)
            .await
            .unwrap();
        small.resolve_local(&ips[..FLUSH as usize], LOCAL);
        let started = Instant::now();
        let flushed = small.flush().await.unwrap();
        println!(
            "flush of {} dirty entries: {:?}",
            flushed.written,
            started.elapsed()
        );

        let started = Instant::now();
        let flushed = geo.flush().await.unwrap();
        println!(
            "flush of {} dirty entries: {:?}",
            flushed.written,
            started.elapsed()
        );
        drop(geo);
        drop(small);

        let before = LIVE.load(Ordering::Relaxed);
        let started = Instant::now();
        let loaded = Geo::load(&config(country, asn), db, Clock::System)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        let bytes = LIVE.load(Ordering::Relaxed) - before;
        let entries = loaded.counts().entries;
        println!(
            "load of {entries} cached entries at start: {elapsed:?}, heap {} MiB = {} bytes per entry",
            bytes / (1024 * 1024),
            bytes as u64 / entries.max(1)
        );
    });
}
