//! The local end of the login's redirect: a one-shot HTTP listener on `localhost` that takes
//! the query of the first request to `/callback` (Meta's redirect with `code` and `state`, or
//! `error`) and answers the browser with a short page.
//!
//! Owns only receiving that one redirect (hyper, HTTP/1.1). It does not read or check what the
//! query says (see `login`), and it never serves anything but `/callback`.

use bytes::Bytes;
use http_body_util::Full;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Where the first redirect's query goes (taken once).
type Sender = Arc<Mutex<Option<oneshot::Sender<HashMap<String, String>>>>>;

/// The path Meta redirects to.
pub const PATH: &str = "/callback";

/// A bound listener (IPv4, plus IPv6 where the machine has it: `localhost` may resolve to
/// either in the browser).
pub struct Listener {
    v4: TcpListener,
    v6: Option<TcpListener>,
    pub port: u16,
}

impl Listener {
    /// Bind `127.0.0.1:port` (0: any free port) and the same port on `[::1]` if possible.
    pub async fn bind(port: u16) -> std::io::Result<Listener> {
        let v4 = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = v4.local_addr()?.port();
        let v6 = TcpListener::bind(("::1", port)).await.ok();
        Ok(Listener { v4, v6, port })
    }

    /// The redirect URI to register with Meta and send in the login URL.
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}{PATH}", self.port)
    }

    /// Serve until the first request to `/callback`; its query parameters.
    pub async fn wait(self) -> HashMap<String, String> {
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let serve = |listener: TcpListener, tx: Sender| async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(request, &tx)) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        };
        let v4 = tokio::spawn(serve(self.v4, tx.clone()));
        let v6 = self.v6.map(|l| tokio::spawn(serve(l, tx.clone())));
        let query = rx.await.unwrap_or_default();
        v4.abort();
        if let Some(v6) = v6 {
            v6.abort();
        }
        query
    }
}

fn answer(request: hyper::Request<hyper::body::Incoming>, tx: &Sender) -> hyper::Response<Full<Bytes>> {
    let page = |status: u16, text: &str| {
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>source-instagram login</title></head><body><p>{text}</p></body></html>"
        );
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/html; charset=utf-8"));
        response
    };
    if request.uri().path() != PATH {
        return page(404, "Not found.");
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let Some(tx) = tx.lock().unwrap().take() else {
        return page(409, "This login was already received; you can close this window.");
    };
    let text = if query.contains_key("error") {
        "The login did not complete; the terminal says why. You can close this window."
    } else {
        "Received; source-instagram finishes the login in the terminal. You can close this window."
    };
    let _ = tx.send(query);
    page(200, text)
}
