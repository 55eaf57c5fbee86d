//! Several HTTP requests in flight at once, over raw `wasi:http` pollables.
//!
//! `waki` (used for single requests) blocks on each one; this module starts every request of
//! a group, then waits on all their pollables together, so a group of batch requests costs one
//! round trip instead of one per request. It owns only transport: no Graph semantics, no
//! retries (the host does those); credentials only through `auth` (empty under our host).

/// One request of a group.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    /// Content type and bytes of the body, if any.
    pub body: Option<(&'static str, Vec<u8>)>,
}

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

/// Send `requests`, at most `in_flight` at a time; answers come back in request order.
pub fn send_all(requests: &[Request], in_flight: usize) -> Vec<Result<Response, String>> {
    let mut out = Vec::with_capacity(requests.len());
    for group in requests.chunks(in_flight.max(1)) {
        out.extend(imp::send_group(group));
    }
    out
}

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

    pub fn send_group(group: &[Request]) -> Vec<Result<Response, String>> {
        let mut results: Vec<Option<Result<Response, String>>> = (0..group.len()).map(|_| None).collect();
        let mut pending: Vec<(usize, FutureIncomingResponse)> = Vec::new();
        for (i, req) in group.iter().enumerate() {
            match start(req) {
                Ok(f) => pending.push((i, f)),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        while !pending.is_empty() {
            let ready = {
                let pollables: Vec<_> = pending.iter().map(|(_, f)| f.subscribe()).collect();
                let refs: Vec<_> = pollables.iter().collect();
                wasi::io::poll::poll(&refs)
            };
            let mut still = Vec::new();
            for (pos, (i, future)) in pending.into_iter().enumerate() {
                if !ready.contains(&(pos as u32)) {
                    still.push((i, future));
                    continue;
                }
                match future.get() {
                    Some(Ok(Ok(response))) => results[i] = Some(read(response)),
                    Some(Ok(Err(code))) => results[i] = Some(Err(format!("{code:?}"))),
                    Some(Err(())) => results[i] = Some(Err("the response was already taken".into())),
                    None => still.push((i, future)),
                }
            }
            pending = still;
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err("no response".into()))).collect()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Request, Response};

    /// Native builds (unit tests) have no `wasi:http`.
    pub fn send_group(group: &[Request]) -> Vec<Result<Response, String>> {
        group.iter().map(|_| Err("wasi:http is only available inside the component".to_string())).collect()
    }
}
