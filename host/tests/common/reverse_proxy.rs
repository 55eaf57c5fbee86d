//! A reverse proxy in front of the fake Graph API, as a user's gateway or regional proxy
//! origin: HTTP on its own port of 127.0.0.1, serving the Graph API under a path prefix
//! (`http://127.0.0.1:PORT/PREFIX/v27.0/…`). Each request is forwarded to the fake with the
//! prefix taken off (method, path and query, headers, body) and the fake's answer is sent back
//! unchanged: bodies are not rewritten, so Meta-style absolute paging links reach the client
//! as the fake wrote them. Counts what it forwarded; stops when dropped.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct ReverseProxy {
    port: u16,
    prefix: String,
    forwarded: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ReverseProxy {
    /// Serve `upstream` (e.g. `http://127.0.0.1:PORT`) under `/{prefix}`.
    pub fn start(upstream: &str, prefix: &str) -> ReverseProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let forwarded = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let route = Arc::new((upstream.trim_end_matches('/').to_string(), format!("/{}", prefix.trim_matches('/'))));
        let counter = forwarded.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let (client, route, counter) = (client.clone(), route.clone(), counter.clone());
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |request| {
                                forward(client.clone(), route.clone(), counter.clone(), request)
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = stopped => {}
                    _ = serve => {}
                }
            });
        });
        ReverseProxy { port, prefix: prefix.trim_matches('/').to_string(), forwarded, stop: Some(stop) }
    }

    /// The proxy's base URL, prefix included (what a user puts in `api_base_url`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, self.prefix)
    }

    /// Requests forwarded to the fake so far.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::Relaxed)
    }
}

impl Drop for ReverseProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

type Reply = hyper::Response<Full<Bytes>>;

async fn forward(
    client: reqwest::Client,
    route: Arc<(String, String)>,
    counter: Arc<AtomicUsize>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<Reply, std::convert::Infallible> {
    let (upstream, prefix) = (&route.0, &route.1);
    let status = |code: u16, text: &str| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(text.to_string())));
        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
        Ok(r)
    };
    let (parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Some(rest) = path_and_query.strip_prefix(prefix.as_str()).filter(|r| r.starts_with('/')) else {
        return status(404, "reverse proxy: not under its prefix");
    };
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else { return status(400, "reverse proxy: bad body") };
    let mut out = client.request(parts.method.clone(), format!("{upstream}{rest}")).body(body);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    counter.fetch_add(1, Ordering::Relaxed);
    let Ok(answer) = out.send().await else { return status(502, "reverse proxy: the upstream did not answer") };
    let code = answer.status();
    let headers = answer.headers().clone();
    let Ok(bytes) = answer.bytes().await else { return status(502, "reverse proxy: the upstream's body broke") };
    let mut reply = hyper::Response::new(Full::new(bytes));
    *reply.status_mut() = code;
    for (name, value) in &headers {
        if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
            reply.headers_mut().append(name, value.clone());
        }
    }
    Ok(reply)
}
