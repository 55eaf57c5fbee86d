//! The network as real users have it, end to end through the real host and component: HTTPS
//! with a CA made in the test, certificate problems as immediate config errors, a CONNECT
//! proxy from `HTTPS_PROXY` (and `NO_PROXY`), a refusing proxy, reused connections, and a
//! quick `check` against a host that cannot be reached; a proxy asking for credentials (407) and
//! proxy variables the client cannot use, each a config error naming the proxy or variable.

mod common;

use common::front::{ConnectProxy, Front, Leaf, TestCa};
use common::*;
use fake_graph::{DatasetSpec, FakeOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn records(r: &Run) -> Vec<Value> {
    r.all_records().into_iter().map(|m| json!({"stream": m["record"]["stream"], "data": m["record"]["data"]})).collect()
}

/// A fake Graph API behind a TLS front with a certificate of `kind` from `ca`; its paging
/// links point at the front.
struct HttpsSandbox {
    sb: Sandbox,
    front: Front,
}

impl HttpsSandbox {
    fn start(ca: &TestCa, kind: Leaf) -> HttpsSandbox {
        // Bind the front's port first, so the fake's paging links can name it.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let options =
            FakeOptions { paging_base_url: Some(format!("https://127.0.0.1:{port}")), ..FakeOptions::default() };
        let sb = Sandbox::start_with(DatasetSpec::small(), options);
        let backend = sb.fake.base_url().trim_start_matches("http://").parse().unwrap();
        let front = Front::start_on(port, backend, Some(ca.leaf(kind)), Duration::ZERO);
        HttpsSandbox { sb, front }
    }

    fn config(&self, extra: Value) -> String {
        let mut c =
            json!({"access_token": self.sb.token, "api_base_url": format!("https://127.0.0.1:{}", self.front.port())});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        self.sb.file(&format!("https-config-{}.json", fastrand::u32(..)), &c)
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = vec![("SOURCE_INSTAGRAM_TIME_SCALE", "60000")];
        all.extend_from_slice(env);
        run_env(args, Some(&self.sb.now), &self.sb.token, &all)
    }
}

/// Trusted through `SSL_CERT_FILE`, a full read over HTTPS equals the plain-HTTP read; the
/// connections it opens stay within `num_workers`.
#[test]
fn https_with_a_company_ca_reads_the_same() {
    let ca = TestCa::new();
    let https = HttpsSandbox::start(&ca, Leaf::Valid);
    let ca_file = ca.write_pem(https.sb.dir.path());
    let catalog = https.sb.catalog(ALL_STREAMS);
    let plain = https.sb.read(&https.sb.config(json!({})), &catalog, None);
    assert_eq!(plain.code, 0, "{}", plain.stdout);
    let r = https.run(
        &["read", "--config", &https.config(json!({"num_workers": 4})), "--catalog", &catalog],
        &[("SSL_CERT_FILE", &ca_file)],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(records(&r), records(&plain));
    let connections = https.front.connections();
    assert!((1..=4).contains(&connections), "keep-alive: {connections} TLS connections for a whole read");
}

/// Without trusting the CA (or with a bad certificate), check and read fail at once with a
/// config_error that names the host and the reason; nothing is retried.
#[test]
fn an_untrusted_certificate_is_a_config_error_at_once() {
    warm_cache();
    let ca = TestCa::new();
    for (kind, reason, trust) in [
        (Leaf::Valid, "unknown issuer", false),
        (Leaf::Expired, "expired", true),
        (Leaf::WrongName, "name mismatch", true),
    ] {
        let https = HttpsSandbox::start(&ca, kind);
        let ca_file = ca.write_pem(https.sb.dir.path());
        let env: Vec<(&str, &str)> = if trust { vec![("SSL_CERT_FILE", ca_file.as_str())] } else { vec![] };
        let config = https.config(json!({}));
        let started = Instant::now();
        let check = https.run(&["check", "--config", &config], &env);
        assert!(started.elapsed() < Duration::from_secs(2), "check took {:?}", started.elapsed());
        assert!(!check.of_type("CONNECTION_STATUS").is_empty(), "{}", check.stdout);
        let status = check.connection_status();
        assert_eq!(status["status"], "FAILED", "{status}");
        let m = status["message"].as_str().unwrap();
        assert!(m.contains("TLS certificate of 127.0.0.1 is not trusted") && m.contains(reason), "{m}");
        let started = Instant::now();
        let read = https.run(&["read", "--config", &config, "--catalog", &https.sb.catalog(&["users"])], &env);
        assert!(started.elapsed() < Duration::from_secs(2), "read took {:?}", started.elapsed());
        let error = read.error().expect("a TRACE ERROR");
        assert_eq!(error["failure_type"], "config_error", "{error}");
        assert!(error["message"].as_str().unwrap().contains(reason), "{error}");
        assert_eq!(https.front.connections(), 2, "one connection each for check and read, no retries");
    }
}

/// Through `HTTPS_PROXY` (credentials in its URL), a read is identical and the proxy saw every
/// connection; `NO_PROXY` bypasses it; a refusing proxy is a clear config error. The proxy
/// password is never printed.
#[test]
fn https_proxy_no_proxy_and_a_refusing_proxy() {
    warm_cache();
    let ca = TestCa::new();
    let https = HttpsSandbox::start(&ca, Leaf::Valid);
    let ca_file = ca.write_pem(https.sb.dir.path());
    let catalog = https.sb.catalog(ALL_STREAMS);
    let config = https.config(json!({}));
    let direct = https.run(&["read", "--config", &config, "--catalog", &catalog], &[("SSL_CERT_FILE", &ca_file)]);
    assert_eq!(direct.code, 0, "{}", direct.stdout);
    let direct_connections = https.front.connections();

    let proxy = ConnectProxy::start(false);
    let proxy_url = proxy.url("tenant:pr0xy-pa55@");
    let r = https.run(
        &["read", "--config", &config, "--catalog", &catalog],
        &[("SSL_CERT_FILE", &ca_file), ("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "")],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(records(&r), records(&direct));
    let through = https.front.connections() - direct_connections;
    assert!(through >= 1 && proxy.connections() == through, "proxy {} vs front {through}", proxy.connections());
    let tunnels = proxy.tunnels.lock().unwrap().clone();
    assert!(
        tunnels.iter().all(|(line, auth)| line.starts_with(&format!("CONNECT 127.0.0.1:{}", https.front.port()))
            && auth.as_deref() == Some("Basic dGVuYW50OnByMHh5LXBhNTU=")),
        "{tunnels:?}"
    );
    assert!(!r.stdout.contains("pr0xy-pa55") && !r.stderr.contains("pr0xy-pa55"));

    let bypass = https.run(
        &["check", "--config", &config],
        &[("SSL_CERT_FILE", &ca_file), ("https_proxy", &proxy_url), ("no_proxy", "127.0.0.1")],
    );
    assert_eq!(bypass.connection_status()["status"], "SUCCEEDED");
    assert_eq!(proxy.connections(), through, "NO_PROXY bypassed the proxy");

    let refusing = ConnectProxy::start(true);
    let started = Instant::now();
    let refused = https.run(
        &["check", "--config", &config],
        &[("SSL_CERT_FILE", &ca_file), ("HTTPS_PROXY", &refusing.url("u:refused-pa55@"))],
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let status = refused.connection_status();
    assert_eq!(status["status"], "FAILED", "{status}");
    let m = status["message"].as_str().unwrap();
    assert!(
        m.contains("the proxy http://127.0.0.1:") && m.contains("HTTPS_PROXY") && !m.contains("refused-pa55"),
        "{m}"
    );
}

/// Connections are kept alive and reused (the default): a full read of every stream opens at
/// most `num_workers` connections (plus one, see below), counted at the fake (no request is retried here). With
/// `SOURCE_INSTAGRAM_KEEPALIVE=0`, each request opens its own connection.
#[test]
fn connections_are_reused() {
    let sb = Sandbox::start_with(
        DatasetSpec::bench(),
        FakeOptions { latency: Duration::from_millis(20), ..FakeOptions::default() },
    );
    let catalog = sb.catalog(ALL_STREAMS);
    let mut reads = Vec::new();
    for workers in [1, 4] {
        let (before, requests_before) = (sb.fake.connections(), sb.fake.requests().len());
        let r = sb.read(&sb.config(json!({"num_workers": workers})), &catalog, None);
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert!(!r.logs().iter().any(|l| l.contains("Transient failure")), "no retries");
        let (connections, requests) = (sb.fake.connections() - before, sb.fake.requests().len() - requests_before);
        // One more than `num_workers` is allowed: a connection goes back to the pool on the
        // I/O worker just after its body is read, and the next request may check out first.
        assert!(
            (1..=workers as u64 + 1).contains(&connections),
            "num_workers {workers}: {connections} connections for {requests} requests"
        );
        reads.push(records(&r));
    }
    let (before, requests_before) = (sb.fake.connections(), sb.fake.requests().len());
    let unpooled = run_env(
        &["read", "--config", &sb.config(json!({"num_workers": 4})), "--catalog", &catalog],
        Some(&sb.now),
        &sb.token,
        &[("SOURCE_INSTAGRAM_KEEPALIVE", "0")],
    );
    assert_eq!(unpooled.code, 0, "{}", unpooled.stdout);
    let requests = (sb.fake.requests().len() - requests_before) as u64;
    assert_eq!(sb.fake.connections() - before, requests, "one connection per request without keep-alive");
    assert_eq!(records(&unpooled), reads[1]);
    assert_eq!(reads[0], reads[1]);
}

/// `check` against a host that cannot be reached answers within about 10 s (one quick retry).
#[test]
fn check_answers_quickly_when_the_host_is_unreachable() {
    warm_cache();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    // A port nothing listens on: refused at once; one quick retry, not five slow ones.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        &p,
        json!({"access_token": "unreachable-token", "api_base_url": format!("http://127.0.0.1:{port}")}).to_string(),
    )
    .unwrap();
    let started = Instant::now();
    // Real time: no scaled clock here.
    let r = run_env(&["check", "--config", p.to_str().unwrap()], None, "unreachable-token", &[]);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let m = r.error().expect("a TRACE ERROR")["message"].as_str().unwrap().to_string();
    assert!(m.contains("was refused"), "{m}");
}

/// A proxy asking for credentials (HTTP 407), whether it refuses a CONNECT tunnel (https) or
/// answers a forwarded request itself (http), is a `config_error` naming the proxy without its
/// credentials, never blamed on the Graph API, and not retried.
#[test]
fn a_proxy_asking_for_credentials_is_named() {
    warm_cache();
    let proxy = ConnectProxy::asking_credentials();
    let ca = TestCa::new();
    let https = HttpsSandbox::start(&ca, Leaf::Valid);
    let ca_file = ca.write_pem(https.sb.dir.path());
    let config = https.config(json!({}));
    let tunnel = https.run(
        &["check", "--config", &config],
        &[("SSL_CERT_FILE", &ca_file), ("HTTPS_PROXY", &proxy.url("u:wr0ng-pa55@")), ("NO_PROXY", "")],
    );
    let status = tunnel.connection_status();
    assert_eq!(status["status"], "FAILED", "{status}");
    let m = status["message"].as_str().unwrap();
    let shown = format!("the proxy {} (from HTTPS_PROXY)", proxy.url(""));
    assert!(m.contains(&shown) && m.contains("HTTP 407") && !m.contains("wr0ng-pa55"), "{m}");

    let sb = Sandbox::start(DatasetSpec::small());
    let (config, catalog) = (sb.config(json!({})), sb.catalog(&["users"]));
    let forwarded = run_env(
        &["read", "--config", &config, "--catalog", &catalog],
        Some(&sb.now),
        &sb.token,
        &[("SOURCE_INSTAGRAM_TIME_SCALE", "60000"), ("HTTP_PROXY", &proxy.url("u:wr0ng-pa55@")), ("NO_PROXY", "")],
    );
    let error = forwarded.error().unwrap_or_else(|| panic!("a TRACE ERROR: {}", forwarded.stdout));
    assert_eq!(error["failure_type"], "config_error", "{error}");
    let m = error["message"].as_str().unwrap();
    let shown = format!("the proxy {} (from HTTP_PROXY)", proxy.url(""));
    assert!(m.contains(&shown) && m.contains("HTTP 407") && !m.contains("Graph API answered"), "{m}");
    assert!(!forwarded.stdout.contains("wr0ng-pa55") && !forwarded.stderr.contains("wr0ng-pa55"));
    assert!(sb.fake.requests().is_empty(), "nothing went around the proxy");
    let asked = proxy.tunnels.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "one request each, not retried: {asked:?}");
    assert!(asked[1].0.starts_with(&format!("GET {}/", sb.fake.base_url())), "{asked:?}");
}

/// A proxy variable the HTTP client could not use (an unknown scheme, a malformed URL, no
/// scheme) is refused as a `config_error` naming the variable, never its value; no request
/// goes around the proxy.
#[test]
fn a_proxy_variable_that_cannot_be_used_is_refused() {
    let sb = Sandbox::start(DatasetSpec::small());
    let (config, catalog) = (sb.config(json!({})), sb.catalog(&["users"]));
    for (name, value, words) in [
        ("HTTPS_PROXY", "socks4://u:s3cret-pa55@127.0.0.1:1080", "names the scheme `socks4`"),
        ("http_proxy", "http://u:s3cret-pa55@proxy:notaport", "is not a valid URL (invalid port number)"),
        ("ALL_PROXY", "u:s3cret-pa55@proxy.corp:3128", "has no scheme"),
    ] {
        let r = run_env(
            &["read", "--config", &config, "--catalog", &catalog],
            Some(&sb.now),
            &sb.token,
            &[("SOURCE_INSTAGRAM_TIME_SCALE", "60000"), (name, value)],
        );
        let error = r.error().unwrap_or_else(|| panic!("{name}: a TRACE ERROR: {}", r.stdout));
        assert_eq!(error["failure_type"], "config_error", "{error}");
        let m = error["message"].as_str().unwrap();
        assert!(m.contains(&format!("the proxy variable {name} {words}")), "{m}");
        assert!(!r.stdout.contains("s3cret-pa55") && !r.stderr.contains("s3cret-pa55"), "{name}");
        assert_eq!(r.code, 1);
    }
    assert!(sb.fake.requests().is_empty(), "no request went around the proxy");
}
