//! `source-instagram login`: Meta's OAuth login for a person at a terminal, ending in a config
//! file with a long-lived token.
//!
//! Owns the steps: the login URL (Facebook Login's dialog, or Business Login for Instagram's
//! authorize page, with the permissions each login needs and a random `state`), printing it and
//! opening a browser, receiving the redirect on a local port (`callback`), exchanging the code
//! for a short-lived token and that for a long-lived one, checking the token (`check` on the
//! real component), and writing or updating the config file (mode 0600). Every refusal is a
//! `config_error` naming what to fix. It must never print a token or the app secret: they are
//! registered as secrets before anything is printed, and only the config file holds them.

mod callback;

use crate::commands::{self, RunEnv};
use crate::protocol::{Failure, Output};
use crate::runtime::Runtime;
use crate::settings::{self, Settings};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Which login (the config's `login`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginKind {
    /// Facebook Login: accounts linked to the Facebook Pages the token can see.
    Facebook,
    /// Business Login for Instagram: the token's own professional account.
    Instagram,
}

/// The permissions each login asks for (the same as `schemas/advanced_auth.json`).
pub const FACEBOOK_PERMISSIONS: &[&str] = &[
    "instagram_basic",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
    "business_management",
];
pub const INSTAGRAM_PERMISSIONS: &[&str] = &["instagram_business_basic", "instagram_business_manage_insights"];

/// What the command line gave.
pub struct LoginArgs {
    pub app_id: String,
    pub app_secret: String,
    pub login: LoginKind,
    pub config: PathBuf,
    pub port: u16,
    pub open_browser: bool,
    /// One origin for every Meta host (the fake Graph API); also written as `api_base_url`.
    pub api_base_url: Option<String>,
    pub timeout: Duration,
}

/// Where each step goes: the login page, the code exchange, the long-lived exchange.
struct Hosts {
    dialog: String,
    code: String,
    graph: String,
}

impl Hosts {
    fn of(kind: LoginKind, base: Option<&str>) -> Hosts {
        let [dialog, code, graph] = match (base, kind) {
            (Some(base), _) => [base; 3],
            (None, LoginKind::Facebook) => {
                ["https://www.facebook.com", "https://graph.facebook.com", "https://graph.facebook.com"]
            }
            (None, LoginKind::Instagram) => {
                ["https://www.instagram.com", "https://api.instagram.com", "https://graph.instagram.com"]
            }
        };
        Hosts { dialog: dialog.to_string(), code: code.to_string(), graph: graph.to_string() }
    }
}

fn version() -> &'static str {
    settings::spec_default("api_version").and_then(Value::as_str).unwrap_or("v27.0")
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    pairs.iter().for_each(|(k, v)| {
        q.append_pair(k, v);
    });
    q.finish()
}

/// The page the person opens to log in and approve.
fn authorize_url(kind: LoginKind, hosts: &Hosts, app_id: &str, redirect_uri: &str, state: &str) -> String {
    let scope = match kind {
        LoginKind::Facebook => FACEBOOK_PERMISSIONS.join(","),
        LoginKind::Instagram => INSTAGRAM_PERMISSIONS.join(","),
    };
    let q = query(&[
        ("client_id", app_id),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", &scope),
        ("state", state),
    ]);
    match kind {
        LoginKind::Facebook => format!("{}/{}/dialog/oauth?{q}", hosts.dialog, version()),
        LoginKind::Instagram => format!("{}/oauth/authorize?{q}", hosts.dialog),
    }
}

/// Meta's refusal, in words that say what to fix.
fn refusal(what: &str, status: u16, body: &Value, redirect_uri: &str) -> Failure {
    let fb = body.get("error");
    let message = fb
        .and_then(|e| e.get("message"))
        .or_else(|| body.get("error_message"))
        .and_then(Value::as_str)
        .unwrap_or("no error message");
    let code = fb.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let sub = fb.and_then(|e| e.get("error_subcode")).and_then(Value::as_i64);
    let lower = message.to_lowercase();
    let hint = if code == Some(1) || lower.contains("client secret") {
        " Check --app-secret: the app's secret (App settings > Basic; for Instagram Login, the Instagram app secret)."
    } else if code == Some(101) || lower.contains("platform app") || lower.contains("application id") {
        " Check --app-id: the app's id (for Instagram Login, the Instagram app id)."
    } else if sub == Some(36008) || lower.contains("redirect_uri") {
        " The app must list the redirect URI among its Valid OAuth Redirect URIs."
    } else if matches!(sub, Some(36007 | 36009)) || lower.contains("expired") || lower.contains("been used") {
        " A login code is valid for minutes and only once: run `login` again."
    } else {
        ""
    };
    let code = match (code, sub) {
        (Some(c), Some(s)) => format!(", code {c}/{s}"),
        (Some(c), None) => format!(", code {c}"),
        _ => String::new(),
    };
    let redirect = if hint.contains("Redirect URIs") { format!(" ({redirect_uri})") } else { String::new() };
    Failure::config(format!("Meta refused to {what}: {message} (HTTP {status}{code}).{hint}{redirect}"))
}

/// Send one request to Meta; its JSON answer holding a token, or the refusal.
async fn call(request: reqwest::RequestBuilder, what: &str, redirect_uri: &str) -> Result<(String, Value), Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::config(format!("Could not reach Meta to {what}: {}", e.without_url())))?;
    let status = response.status().as_u16();
    let body: Value = response.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let token = body
        .get("access_token")
        .or_else(|| body.get("data").and_then(|d| d.get(0)).and_then(|d| d.get("access_token")))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    match token {
        Some(token) if status == 200 => Ok((token.to_string(), body.clone())),
        _ => Err(refusal(what, status, &body, redirect_uri)),
    }
}

/// An HTTPS client trusting Mozilla's roots and the system's.
fn client() -> Result<reqwest::Client, Failure> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let tls =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Failure::system("Could not set up TLS", e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Failure::system("Could not set up the HTTP client", e.to_string()))
}

/// Run the login; on success the config file holds the long-lived token.
pub async fn run(args: &LoginArgs, runtime: &Runtime, output: &Output, env: &RunEnv) -> Result<(), Failure> {
    output.add_secret(&args.app_secret);
    let say = |text: &str| eprintln!("{}", output.redact(text));
    if args.app_id.trim().is_empty() || !args.app_id.trim().chars().all(|c| c.is_ascii_digit()) {
        return Err(Failure::config("--app-id must be the app's numeric id (App settings > Basic)"));
    }
    if args.app_secret.trim().is_empty() {
        return Err(Failure::config("--app-secret must be the app's secret (App settings > Basic)"));
    }
    let (app_id, app_secret) = (args.app_id.trim(), args.app_secret.trim());
    let mut config = match std::fs::metadata(&args.config) {
        Ok(_) => match settings::read_json_file(&args.config, "config")? {
            Value::Object(o) => Value::Object(o),
            _ => {
                return Err(Failure::config(format!("The config file {} is not a JSON object", args.config.display())));
            }
        },
        Err(_) => json!({}),
    };
    let hosts = Hosts::of(args.login, args.api_base_url.as_deref().map(|b| b.trim_end_matches('/')));
    let listener = callback::Listener::bind(args.port).await.map_err(|e| {
        Failure::config(format!(
            "Could not listen on localhost:{} for the login's redirect ({e}); pass another --port",
            args.port
        ))
    })?;
    let redirect_uri = listener.redirect_uri();
    let state: String = std::iter::repeat_with(fastrand::alphanumeric).take(24).collect();
    let url = authorize_url(args.login, &hosts, app_id, &redirect_uri, &state);
    let name = match args.login {
        LoginKind::Facebook => "Facebook Login",
        LoginKind::Instagram => "Business Login for Instagram",
    };
    say(&format!("Log in with {name} and approve the access in a browser; open this URL: {url}"));
    say(&format!(
        "Waiting for Meta's redirect to {redirect_uri} (the app must list it among its Valid OAuth Redirect URIs)."
    ));
    if args.open_browser && open::that_detached(&url).is_err() {
        say("(No browser could be opened here: open the URL above yourself.)");
    }
    let answer = tokio::time::timeout(args.timeout, listener.wait()).await.map_err(|_| {
        Failure::config(format!(
            "No login came back within {} s: open the URL, log in and approve, or raise --timeout-secs",
            args.timeout.as_secs()
        ))
    })?;
    if let Some(error) = answer.get("error") {
        let why = [answer.get("error_reason"), answer.get("error_description")];
        let why: Vec<&str> = why.into_iter().flatten().map(String::as_str).collect();
        return Err(Failure::config(format!(
            "The login was not approved at Meta ({error}: {}); run `login` again and approve the access",
            why.join(": ")
        )));
    }
    if answer.get("state") != Some(&state) {
        return Err(Failure::config(
            "The redirect's `state` is not this login's (a stale or forged redirect); run `login` again",
        ));
    }
    let Some(code) = answer.get("code").filter(|c| !c.is_empty()) else {
        return Err(Failure::config("Meta's redirect carried no `code`; run `login` again"));
    };
    let http = client()?;
    let exchange = match args.login {
        LoginKind::Facebook => http.get(format!(
            "{}/{}/oauth/access_token?{}",
            hosts.code,
            version(),
            query(&[
                ("client_id", app_id),
                ("redirect_uri", &redirect_uri),
                ("client_secret", app_secret),
                ("code", code)
            ])
        )),
        LoginKind::Instagram => http.post(format!("{}/oauth/access_token", hosts.code)).form(&[
            ("client_id", app_id),
            ("client_secret", app_secret),
            ("grant_type", "authorization_code"),
            ("redirect_uri", &redirect_uri),
            ("code", code),
        ]),
    };
    let (short, _) = call(exchange, "exchange the login's code for a token", &redirect_uri).await?;
    output.add_secret(&short);
    let long_lived = match args.login {
        LoginKind::Facebook => http.get(format!(
            "{}/{}/oauth/access_token?{}",
            hosts.graph,
            version(),
            query(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", app_id),
                ("client_secret", app_secret),
                ("fb_exchange_token", &short)
            ])
        )),
        LoginKind::Instagram => http.get(format!(
            "{}/access_token?{}",
            hosts.graph,
            query(&[("grant_type", "ig_exchange_token"), ("client_secret", app_secret), ("access_token", &short)])
        )),
    };
    let (token, answer) = call(long_lived, "exchange the token for a long-lived one", &redirect_uri).await?;
    output.add_secret(&token);

    let now = env.now.unwrap_or_else(chrono::Utc::now);
    config["access_token"] = json!(token);
    config["client_id"] = json!(app_id);
    config["client_secret"] = json!(app_secret);
    config["login"] = json!(if args.login == LoginKind::Instagram { "instagram" } else { "facebook" });
    config[crate::renewal::RENEWED_AT_FIELD] = json!(now.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    if let Some(base) = &args.api_base_url {
        config["api_base_url"] = json!(base);
    }
    // The token is checked like `check` does, on the real component, before the file changes.
    let quiet = Output::new(Box::new(std::io::sink()));
    let checked = commands::check(runtime, &quiet, Settings::from_value_for(config.clone(), &quiet), env).await;
    if let Some(failure) = checked.failure {
        return Err(Failure {
            message: output.redact(&format!(
                "Logged in, but `check` fails with the new token, so {} was not changed: {}",
                args.config.display(),
                failure.message
            )),
            ..failure
        });
    }
    write_config(&args.config, &config)?;
    let days =
        answer.get("expires_in").and_then(Value::as_i64).map(|s| format!(", valid for about {} days", s / 86_400));
    say(&format!(
        "Logged in with {name}: `check` succeeded, and {} holds the long-lived token{} and the app's id and secret (the connector renews the token weekly).",
        args.config.display(),
        days.unwrap_or_default()
    ));
    Ok(())
}

/// Write the config (readable by its owner only), replacing the file at once.
fn write_config(path: &std::path::Path, config: &Value) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::config(format!("Could not write the config file {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string_pretty(config).expect("a JSON value serializes") + "\n";
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permissions and pages are the same as the platform's flow declares.
    #[test]
    fn same_permissions_as_the_declared_flow() {
        let auth: Value = serde_json::from_str(include_str!("../../../schemas/advanced_auth.json")).unwrap();
        let consent =
            auth["oauth_config_specification"]["oauth_connector_input_specification"]["consent_url"].as_str().unwrap();
        for list in [FACEBOOK_PERMISSIONS, INSTAGRAM_PERMISSIONS] {
            assert!(consent.contains(&format!("scope={}&", list.join("%2C"))), "{list:?}");
        }
        let hosts = Hosts::of(LoginKind::Instagram, None);
        let url = authorize_url(LoginKind::Instagram, &hosts, "1", "http://localhost:1/callback", "s");
        assert_eq!(
            url,
            "https://www.instagram.com/oauth/authorize?client_id=1&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcallback&response_type=code&scope=instagram_business_basic%2Cinstagram_business_manage_insights&state=s"
        );
    }

    /// Meta's refusals name what to fix.
    #[test]
    fn refusals_say_what_to_fix() {
        let fb = json!({"error": {"message": "Error validating client secret.", "code": 1}});
        assert!(refusal("x", 400, &fb, "r").message.contains("Check --app-secret"));
        let ig = json!({"error_type": "OAuthException", "code": 400, "error_message": "Invalid platform app"});
        assert!(refusal("x", 400, &ig, "r").message.contains("Check --app-id"));
        let redirect =
            json!({"error": {"message": "Error validating verification code.", "code": 100, "error_subcode": 36008}});
        let m = refusal("x", 400, &redirect, "http://localhost:9/callback").message;
        assert!(m.contains("Valid OAuth Redirect URIs") && m.contains("http://localhost:9/callback"), "{m}");
        assert_eq!(refusal("x", 400, &redirect, "r").failure_type, crate::protocol::FailureType::Config);
    }
}
