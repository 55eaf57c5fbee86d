//! Non-blocking HTTP over raw `wasi:http` pollables: start a request, wait until any of several
//! has answered, take an answer.
//!
//! `waki` (used for single requests) blocks on each one; this module lets the
//! [`crate::scheduler`] keep several in flight. It owns only transport: no Graph semantics, no
//! ordering, no retries (the host does those), credentials only through `auth` (empty under our host).

/// One request of a group.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    /// Content type and bytes of the body, if any.
    pub body: Option<(&'static str, Vec<u8>)>,
    /// The Instagram account the request is about, told to the host (which paces and pauses
    /// per account, and removes the header) where the URL does not say it (media ids).
    pub account: Option<String>,
}

/// The header that carries [`Request::account`] to the host.
pub const ACCOUNT_HINT: &str = "x-source-instagram-account";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An answer: status and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Starts requests and reports which have answered; the [`crate::scheduler`] drives it.
pub trait Transport {
    /// A request on its way.
    type Pending;
    /// Send `request` (returns at once).
    fn start(&mut self, request: &Request) -> Result<Self::Pending, String>;
    /// Block until at least one of `pending` has an answer, or `timeout` has passed; the
    /// indexes of those ready (none after a timeout).
    fn wait_any(&mut self, pending: &[&Self::Pending], timeout: Option<std::time::Duration>) -> Vec<usize>;
    /// The answer of a ready request (its whole body); `None` if it was not ready after all.
    fn finish(&mut self, pending: &Self::Pending) -> Option<Result<Response, String>>;
}

/// The component's transport: `wasi:http`, which the host polices, paces and retries.
pub struct WasiHttp;

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{Method, Request, Response};
    use wasi::http::outgoing_handler;
    use wasi::http::types::{
        Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method as WasiMethod, OutgoingBody,
        OutgoingRequest, Scheme,
    };
    use wasi::io::streams::StreamError;

    fn start(req: &Request) -> Result<FutureIncomingResponse, String> {
        let url = url::Url::parse(&req.url).map_err(|e| format!("invalid URL {}: {e}", req.url))?;
        let host = url.host_str().ok_or_else(|| format!("URL without a host: {}", req.url))?;
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some((content_type, _)) = &req.body {
            headers.push(("content-type".into(), content_type.as_bytes().to_vec()));
        }
        if let Some(account) = &req.account {
            headers.push((super::ACCOUNT_HINT.into(), account.as_bytes().to_vec()));
        }
        headers.extend(crate::auth::headers_for(&req.url).into_iter().map(|(k, v)| (k.to_string(), v.into_bytes())));
        let fields = Fields::from_list(&headers).map_err(|e| format!("bad header: {e:?}"))?;
        let outgoing = OutgoingRequest::new(fields);
        let method = match req.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
        };
        outgoing.set_method(&method).map_err(|_| "cannot set the method".to_string())?;
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => Scheme::Other(other.to_string()),
        };
        outgoing.set_scheme(Some(&scheme)).map_err(|_| "cannot set the scheme".to_string())?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        outgoing.set_authority(Some(&authority)).map_err(|_| "cannot set the authority".to_string())?;
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        outgoing.set_path_with_query(Some(&path)).map_err(|_| "cannot set the path".to_string())?;
        let body = outgoing.body().map_err(|_| "the request body is unavailable".to_string())?;
        let future = outgoing_handler::handle(outgoing, None).map_err(|e| format!("{e:?}"))?;
        {
            let stream = body.write().map_err(|_| "the request body stream is unavailable".to_string())?;
            if let Some((_, bytes)) = &req.body {
                for chunk in bytes.chunks(4096) {
                    stream.blocking_write_and_flush(chunk).map_err(|e| format!("writing the request body: {e:?}"))?;
                }
            }
        }
        OutgoingBody::finish(body, None).map_err(|e| format!("finishing the request body: {e:?}"))?;
        Ok(future)
    }

    fn read(response: IncomingResponse) -> Result<Response, String> {
        let status = response.status();
        let body = response.consume().map_err(|_| "the response body is unavailable".to_string())?;
        let mut bytes = Vec::new();
        {
            let stream = body.stream().map_err(|_| "the response body stream is unavailable".to_string())?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => bytes.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(format!("reading the response body: {e:?}")),
                }
            }
        }
        drop(IncomingBody::finish(body));
        Ok(Response { status, body: bytes })
    }

    impl super::Transport for super::WasiHttp {
        type Pending = FutureIncomingResponse;

        fn start(&mut self, request: &Request) -> Result<FutureIncomingResponse, String> {
            start(request)
        }

        fn wait_any(
            &mut self,
            pending: &[&FutureIncomingResponse],
            timeout: Option<std::time::Duration>,
        ) -> Vec<usize> {
            let mut pollables: Vec<_> = pending.iter().map(|f| f.subscribe()).collect();
            if let Some(t) = timeout {
                pollables.push(wasi::clocks::monotonic_clock::subscribe_duration(t.as_nanos() as u64));
            }
            let refs: Vec<_> = pollables.iter().collect();
            wasi::io::poll::poll(&refs).into_iter().map(|i| i as usize).filter(|i| *i < pending.len()).collect()
        }

        fn finish(&mut self, future: &FutureIncomingResponse) -> Option<Result<Response, String>> {
            match future.get()? {
                Ok(Ok(response)) => Some(read(response)),
                Ok(Err(code)) => Some(Err(format!("{code:?}"))),
                Err(()) => Some(Err("the response was already taken".into())),
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Request, Response};

    /// Native builds (unit tests) have no `wasi:http`: every request fails at once.
    impl super::Transport for super::WasiHttp {
        type Pending = ();
        fn start(&mut self, _: &Request) -> Result<(), String> {
            Err("wasi:http is only available inside the component".to_string())
        }
        fn wait_any(&mut self, pending: &[&()], _: Option<std::time::Duration>) -> Vec<usize> {
            (0..pending.len()).collect()
        }
        fn finish(&mut self, _: &()) -> Option<Result<Response, String>> {
            None
        }
    }
}
