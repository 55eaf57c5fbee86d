//! `source-instagram login` end to end: the real binary, the fake Graph API standing in for every
//! Meta host (`--api-base-url`), and the test as the browser (it opens the printed URL, and
//! follows Meta's redirect to the binary's local port). A login writes a checked config with a
//! long-lived token that no output shows; every refusal is a `config_error` naming what to fix
//! and leaves the config file alone.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FAKE_APP_ID, FAKE_APP_SECRET, FakeOptions, TokenOptions};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `login`: the child and its stderr lines as they come.
struct Login {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Login {
    fn start(sb: &Sandbox, config: &std::path::Path, extra: &[&str]) -> Login {
        warm_cache();
        let base = sb.fake.base_url();
        let mut args = vec!["login", "--app-id", FAKE_APP_ID, "--port", "0", "--no-browser", "--api-base-url", &base];
        let config = config.to_str().unwrap();
        args.extend(["--config", config]);
        args.extend(extra);
        if !extra.contains(&"--app-secret") {
            args.extend(["--app-secret", FAKE_APP_SECRET]);
        }
        let mut child = Command::new(BIN)
            .args(&args)
            .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
            .env("SOURCE_INSTAGRAM_FAKE_NOW", &sb.now)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Login { child, lines, seen: Vec::new() }
    }

    /// The login URL the binary printed.
    fn url(&mut self) -> String {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(60)).expect("login prints its URL");
            self.seen.push(line.clone());
            if let Some((_, url)) = line.split_once("open this URL: ") {
                return url.to_string();
            }
        }
    }

    /// Wait for the end: (exit code, stdout messages, all of stderr).
    fn finish(mut self) -> (i32, Vec<Value>, String) {
        let out = self.child.wait_with_output().unwrap();
        self.seen.extend(self.lines.try_iter());
        let stdout = String::from_utf8(out.stdout).unwrap();
        let messages = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (out.status.code().unwrap_or(-1), messages, self.seen.join("\n") + "\n" + &stdout)
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).build()
}

/// GET `url` without following redirects: (status, Location without its fragment).
fn visit(url: &str) -> (u16, Option<String>) {
    let response = match agent().get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    (response.status(), response.header("location").map(|l| l.split('#').next().unwrap().to_string()))
}

/// The browser: open the login page, approve, follow Meta's redirect to the binary.
fn browse(url: &str) -> u16 {
    let (status, location) = visit(url);
    assert_eq!(status, 302, "the login page redirects");
    visit(&location.unwrap()).0
}

fn error_of(messages: &[Value]) -> &Value {
    let errors: Vec<&Value> = messages.iter().filter(|m| m["type"] == "TRACE").collect();
    assert_eq!(errors.len(), 1, "{messages:#?}");
    assert_eq!(errors[0]["trace"]["error"]["failure_type"], "config_error");
    &errors[0]["trace"]["error"]
}

fn sandbox(tokens: TokenOptions) -> Sandbox {
    Sandbox::start_with(DatasetSpec::small(), FakeOptions { tokens, ..FakeOptions::default() })
}

/// Facebook Login, then Instagram Login into an existing config: the file holds the checked
/// long-lived token (the last one the fake issued), the app's id and secret and the login
/// (other fields kept); no output shows a token or the secret; `check` works with the file.
#[test]
fn login_writes_a_checked_long_lived_token_for_both_logins() {
    for (login, extra) in [("facebook", vec![]), ("instagram", vec!["--login", "instagram"])] {
        let sb = sandbox(TokenOptions::default());
        let config = sb.dir.path().join("config.json");
        std::fs::write(&config, r#"{"start_date": "2025-01-01T00:00:00Z"}"#).unwrap();
        let mut session = Login::start(&sb, &config, &extra);
        let url = session.url();
        let expected = if login == "facebook" { "/v27.0/dialog/oauth?" } else { "/oauth/authorize?" };
        assert!(url.starts_with(&format!("{}{expected}", sb.fake.base_url())), "{url}");
        assert_eq!(browse(&url), 200);
        let (code, messages, output) = session.finish();
        assert_eq!(code, 0, "{login}: {output}");
        assert!(messages.is_empty(), "nothing on stdout: {messages:#?}");

        let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        let long = sb.fake.renewed_tokens().pop().expect("a long-lived token");
        assert_eq!(written["access_token"], long.as_str(), "{login}");
        assert_eq!(
            (&written["client_id"], &written["client_secret"], &written["login"]),
            (&json!(FAKE_APP_ID), &json!(FAKE_APP_SECRET), &json!(login))
        );
        assert_eq!(written["api_base_url"], sb.fake.base_url().as_str());
        assert_eq!(written["start_date"], "2025-01-01T00:00:00Z", "other fields are kept");
        assert!(written["access_token_renewed_at"].is_string());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // Only the file holds them: neither the long-lived token, nor the short one it replaced
        // (both tokens the fake saw as Bearer), nor the secret is in any output.
        let bearers: Vec<String> = sb
            .fake
            .requests()
            .iter()
            .filter_map(|q| q.header("authorization").map(|a| a.trim_start_matches("Bearer ").to_string()))
            .collect();
        assert!(bearers.contains(&long), "the login's check used the new token");
        for secret in bearers.iter().map(String::as_str).chain([long.as_str(), FAKE_APP_SECRET]) {
            assert!(!output.contains(secret), "{login}: a secret in the output: {output}");
        }
        let check = run(&["check", "--config", config.to_str().unwrap()], Some(&sb.now), &long);
        assert_eq!(check.connection_status()["status"], "SUCCEEDED");
        assert!(check.of_type("CONTROL").is_empty(), "nothing left to exchange or renew");
    }
}

/// Meta's refusals and a login that never completes are each a `config_error` saying what to
/// fix; the config file is left alone.
#[test]
fn every_refusal_is_a_clear_config_error() {
    let check = |sb: &Sandbox, extra: &[&str], browser: &dyn Fn(&str), needle: &str| {
        let config = sb.dir.path().join(format!("config-{}.json", needle.len()));
        let mut session = Login::start(sb, &config, extra);
        if !extra.contains(&"--timeout-secs") {
            let url = session.url();
            browser(&url);
        }
        let (code, messages, output) = session.finish();
        assert_eq!(code, 1, "{output}");
        let message = error_of(&messages)["message"].as_str().unwrap().to_string();
        assert!(message.contains(needle), "wanted {needle:?} in {message:?}");
        assert!(!output.contains(FAKE_APP_SECRET));
        assert!(!config.exists(), "no config written");
        message
    };
    let approve = |url: &str| {
        browse(url);
    };

    let sb = sandbox(TokenOptions::default());
    let m = check(&sb, &["--app-secret", "wrong-app-secret-0000"], &approve, "Check --app-secret");
    assert!(m.contains("Error validating client secret."), "{m}");
    check(&sb, &["--timeout-secs", "1"], &|_| {}, "No login came back within 1 s");
    // A forged redirect: the right code with another state.
    check(
        &sb,
        &[],
        &|url| {
            let (_, location) = visit(url);
            let location = location.unwrap().replace("state=", "state=x");
            visit(&location);
        },
        "`state` is not this login's",
    );
    // A code Meta issued for another redirect URI, delivered to this one.
    check(
        &sb,
        &[],
        &|url| {
            let (_, location) = visit(url);
            let ours = url::Url::parse(&location.unwrap()).unwrap();
            let mut other = url::Url::parse(url).unwrap();
            let pairs: Vec<(String, String)> = other
                .query_pairs()
                .into_owned()
                .map(|(k, v)| if k == "redirect_uri" { (k, "http://127.0.0.1:9/elsewhere".into()) } else { (k, v) })
                .collect();
            other.query_pairs_mut().clear().extend_pairs(pairs);
            let (_, foreign) = visit(other.as_str());
            let code = url::Url::parse(&foreign.unwrap())
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "code")
                .unwrap()
                .1
                .into_owned();
            let mut delivered = ours.clone();
            let state = ours.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
            delivered.query_pairs_mut().clear().append_pair("code", &code).append_pair("state", &state);
            visit(delivered.as_str());
        },
        "Valid OAuth Redirect URIs",
    );

    let declining = sandbox(TokenOptions { deny_consent: true, ..TokenOptions::default() });
    check(&declining, &[], &approve, "not approved at Meta (access_denied");
    let expiring = sandbox(TokenOptions { code_lifetime: Duration::ZERO, ..TokenOptions::default() });
    check(&expiring, &["--login", "instagram"], &approve, "run `login` again");

    // Bad arguments are refused before anything is sent.
    let r = run(&["login", "--app-id", "my-app", "--app-secret", "s3cr3t-value", "--no-browser"], None, "s3cr3t-value");
    assert_eq!(r.code, 1);
    assert!(error_of(&r.messages)["message"].as_str().unwrap().contains("--app-id must be the app's numeric id"));
}
