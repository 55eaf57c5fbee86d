//! `wasi:http/types` and `wasi:http/outgoing-handler` as the connector sees them through the
//! policy. Fields, options and the server-side resources wrap the runtime's own; an outgoing
//! request is recorded and its body buffered, and it is sent (by `send`) once both the request
//! was handed to `handle` and its body finished; the answer the connector reads is the one the
//! policy settled, whole, from a buffer. It must not apply rules itself (see `send`).

use crate::bindings::exports::wasi::http::outgoing_handler;
use crate::bindings::exports::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, FutureTrailers, Guest, GuestFields, GuestFutureIncomingResponse,
    GuestFutureTrailers, GuestIncomingBody, GuestIncomingRequest, GuestIncomingResponse, GuestOutgoingBody,
    GuestOutgoingRequest, GuestOutgoingResponse, GuestRequestOptions, GuestResponseOutparam, HeaderError, Headers,
    IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest, OutgoingResponse, RequestOptions,
    ResponseOutparam, Scheme, StatusCode,
};
use crate::bindings::exports::wasi::io::streams::{InputStream, OutputStream};
use crate::bindings::wasi::http::types as host;
use crate::bindings::wasi::io::error::Error as IoError;
use crate::bindings::wasi::io::poll::Pollable;
use crate::convert::*;
use crate::send::{self, Answer, Call};
use crate::streams::{In, Out, ready};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

pub struct HFields(pub host::Fields);
pub struct Options(host::RequestOptions);
pub struct Incoming(host::IncomingRequest);
pub struct Outparam(host::ResponseOutparam);
pub struct Outgoing(host::OutgoingResponse);

/// One exchange of the connector: the request once handed over, its body, and its outcome.
#[derive(Default)]
pub struct Exchange {
    body: Rc<RefCell<Vec<u8>>>,
    body_taken: Cell<bool>,
    body_done: Cell<bool>,
    call: RefCell<Option<Call>>,
    state: RefCell<State>,
}

#[derive(Default)]
enum State {
    /// Waiting for `handle` or for the body's `finish`.
    #[default]
    Idle,
    InFlight(host::FutureIncomingResponse, Instant),
    Ready(Result<Answer, host::ErrorCode>),
    /// The answer was handed out. The first attempt's future is kept until the connector drops
    /// its own: the pollable the connector got from `subscribe` is that future's child.
    Taken(Option<host::FutureIncomingResponse>),
}

impl Exchange {
    /// Send once the request is handed over and its body finished (pacing may wait here).
    fn start_when_ready(&self) {
        if !matches!(*self.state.borrow(), State::Idle) {
            return;
        }
        let call = self.call.borrow();
        let Some(call) = call.as_ref() else { return };
        if self.body_taken.get() && !self.body_done.get() {
            return;
        }
        let body = self.body.borrow().clone();
        send::pace(&call.scope(&body));
        let started = Instant::now();
        *self.state.borrow_mut() = match send::attempt(call, &body) {
            Ok(future) => State::InFlight(future, started),
            Err(e) => State::Ready(send::settle(call, &body, Err(e), started.elapsed())),
        };
    }
}

pub struct Request {
    inner: host::OutgoingRequest,
    exchange: Rc<Exchange>,
}

pub enum Body {
    Request(RequestBody),
    Host(host::OutgoingBody),
}

/// A request's body, buffered.
pub struct RequestBody {
    exchange: Rc<Exchange>,
    finished: Cell<bool>,
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let RequestBody { exchange, finished } = self;
        if !finished.get() {
            let failed = host::ErrorCode::InternalError(Some("the request body was dropped unfinished".into()));
            *exchange.state.borrow_mut() = State::Ready(Err(failed));
        }
    }
}

pub struct Future(Rc<Exchange>);

pub struct Response {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: RefCell<Option<Vec<u8>>>,
}

pub struct ResponseBody(RefCell<Option<Vec<u8>>>);

pub struct Trailers(Cell<bool>);

fn fields_of(entries: &[(String, Vec<u8>)]) -> host::Fields {
    let fields = host::Fields::new();
    for (name, value) in entries {
        // Headers the runtime will not let a guest set (hop-by-hop ones) are left out.
        let _ = fields.append(name, value);
    }
    fields
}

impl Guest for crate::Policy {
    type Fields = HFields;
    type IncomingRequest = Incoming;
    type OutgoingRequest = Request;
    type RequestOptions = Options;
    type ResponseOutparam = Outparam;
    type IncomingResponse = Response;
    type IncomingBody = ResponseBody;
    type FutureTrailers = Trailers;
    type OutgoingResponse = Outgoing;
    type OutgoingBody = Body;
    type FutureIncomingResponse = Future;

    fn http_error_code(err: &IoError) -> Option<ErrorCode> {
        host::http_error_code(err).map(error_from_host)
    }
}

impl GuestFields for HFields {
    fn new() -> Self {
        HFields(host::Fields::new())
    }
    fn from_list(entries: Vec<(String, Vec<u8>)>) -> Result<Fields, HeaderError> {
        host::Fields::from_list(&entries).map(|f| Fields::new(HFields(f))).map_err(header_error)
    }
    fn get(&self, name: String) -> Vec<Vec<u8>> {
        self.0.get(&name)
    }
    fn has(&self, name: String) -> bool {
        self.0.has(&name)
    }
    fn set(&self, name: String, value: Vec<Vec<u8>>) -> Result<(), HeaderError> {
        self.0.set(&name, &value).map_err(header_error)
    }
    fn delete(&self, name: String) -> Result<(), HeaderError> {
        self.0.delete(&name).map_err(header_error)
    }
    fn append(&self, name: String, value: Vec<u8>) -> Result<(), HeaderError> {
        self.0.append(&name, &value).map_err(header_error)
    }
    fn entries(&self) -> Vec<(String, Vec<u8>)> {
        self.0.entries()
    }
    fn clone(&self) -> Fields {
        Fields::new(HFields(self.0.clone()))
    }
}

impl GuestOutgoingRequest for Request {
    fn new(headers: Headers) -> Self {
        Request { inner: host::OutgoingRequest::new(headers.into_inner::<HFields>().0), exchange: Rc::default() }
    }
    fn body(&self) -> Result<OutgoingBody, ()> {
        if self.exchange.body_taken.replace(true) {
            return Err(());
        }
        Ok(OutgoingBody::new(Body::Request(RequestBody {
            exchange: self.exchange.clone(),
            finished: Cell::new(false),
        })))
    }
    fn method(&self) -> Method {
        method_from_host(self.inner.method())
    }
    fn set_method(&self, method: Method) -> Result<(), ()> {
        self.inner.set_method(&method_to_host(method))
    }
    fn path_with_query(&self) -> Option<String> {
        self.inner.path_with_query()
    }
    fn set_path_with_query(&self, path_with_query: Option<String>) -> Result<(), ()> {
        self.inner.set_path_with_query(path_with_query.as_deref())
    }
    fn scheme(&self) -> Option<Scheme> {
        self.inner.scheme().map(scheme_from_host)
    }
    fn set_scheme(&self, scheme: Option<Scheme>) -> Result<(), ()> {
        self.inner.set_scheme(scheme.map(scheme_to_host).as_ref())
    }
    fn authority(&self) -> Option<String> {
        self.inner.authority()
    }
    fn set_authority(&self, authority: Option<String>) -> Result<(), ()> {
        self.inner.set_authority(authority.as_deref())
    }
    fn headers(&self) -> Headers {
        Fields::new(HFields(self.inner.headers()))
    }
}

impl outgoing_handler::Guest for crate::Policy {
    fn handle(request: OutgoingRequest, _options: Option<RequestOptions>) -> Result<FutureIncomingResponse, ErrorCode> {
        let Request { inner, exchange } = request.into_inner::<Request>();
        let scheme = inner.scheme().unwrap_or(host::Scheme::Https);
        let scheme_name = match &scheme {
            host::Scheme::Http => "http".to_string(),
            host::Scheme::Https => "https".to_string(),
            host::Scheme::Other(s) => s.clone(),
        };
        let authority = inner.authority().unwrap_or_default();
        if !send::permits(&scheme_name, &authority) {
            return Err(ErrorCode::HttpRequestDenied);
        }
        let call = Call {
            method: inner.method(),
            scheme,
            authority,
            path: inner.path_with_query().unwrap_or_else(|| "/".into()),
            headers: inner.headers().entries(),
        };
        *exchange.call.borrow_mut() = Some(call);
        exchange.start_when_ready();
        Ok(FutureIncomingResponse::new(Future(exchange)))
    }
}

impl GuestOutgoingBody for Body {
    fn write(&self) -> Result<OutputStream, ()> {
        match self {
            Body::Request(body) => Ok(OutputStream::new(Out::Buf(body.exchange.body.clone()))),
            Body::Host(b) => b.write().map(|s| OutputStream::new(Out::Host(s))),
        }
    }
    fn finish(this: OutgoingBody, trailers: Option<Fields>) -> Result<(), ErrorCode> {
        match this.into_inner::<Body>() {
            Body::Request(body) => {
                body.finished.set(true);
                body.exchange.body_done.set(true);
                body.exchange.start_when_ready();
                Ok(())
            }
            Body::Host(inner) => host::OutgoingBody::finish(inner, trailers.map(|t| t.into_inner::<HFields>().0))
                .map_err(error_from_host),
        }
    }
}

impl GuestFutureIncomingResponse for Future {
    fn subscribe(&self) -> Pollable {
        match &*self.0.state.borrow() {
            State::InFlight(future, _) => future.subscribe(),
            _ => ready(),
        }
    }
    fn get(&self) -> Option<Result<Result<IncomingResponse, ErrorCode>, ()>> {
        let state = std::mem::take(&mut *self.0.state.borrow_mut());
        let mut first_future = None;
        let settled = match state {
            State::Idle => return None,
            State::Taken(future) => {
                *self.0.state.borrow_mut() = State::Taken(future);
                return Some(Err(()));
            }
            State::Ready(outcome) => outcome,
            State::InFlight(future, started) => match future.get() {
                None => {
                    *self.0.state.borrow_mut() = State::InFlight(future, started);
                    return None;
                }
                Some(outcome) => {
                    let first = match outcome {
                        Ok(Ok(response)) => send::read(response),
                        Ok(Err(e)) => Err(e),
                        Err(()) => Err(host::ErrorCode::InternalError(None)),
                    };
                    first_future = Some(future);
                    let call = self.0.call.borrow();
                    let call = call.as_ref().expect("a request in flight was handed over");
                    send::settle(call, &self.0.body.borrow(), first, started.elapsed())
                }
            },
        };
        *self.0.state.borrow_mut() = State::Taken(first_future);
        Some(Ok(settled
            .map(|a| {
                IncomingResponse::new(Response {
                    status: a.status,
                    headers: a.headers,
                    body: RefCell::new(Some(a.body)),
                })
            })
            .map_err(error_from_host)))
    }
}

impl GuestIncomingResponse for Response {
    fn status(&self) -> StatusCode {
        self.status
    }
    fn headers(&self) -> Headers {
        Fields::new(HFields(fields_of(&self.headers)))
    }
    fn consume(&self) -> Result<IncomingBody, ()> {
        let body = self.body.borrow_mut().take().ok_or(())?;
        Ok(IncomingBody::new(ResponseBody(RefCell::new(Some(body)))))
    }
}

impl GuestIncomingBody for ResponseBody {
    fn stream(&self) -> Result<InputStream, ()> {
        self.0.borrow_mut().take().map(In::buffer).ok_or(())
    }
    fn finish(_this: IncomingBody) -> FutureTrailers {
        FutureTrailers::new(Trailers(Cell::new(false)))
    }
}

impl GuestFutureTrailers for Trailers {
    fn subscribe(&self) -> Pollable {
        ready()
    }
    fn get(&self) -> Option<Result<Result<Option<Fields>, ErrorCode>, ()>> {
        if self.0.replace(true) { Some(Err(())) } else { Some(Ok(Ok(None))) }
    }
}

impl GuestRequestOptions for Options {
    fn new() -> Self {
        Options(host::RequestOptions::new())
    }
    fn connect_timeout(&self) -> Option<u64> {
        self.0.connect_timeout()
    }
    fn set_connect_timeout(&self, duration: Option<u64>) -> Result<(), ()> {
        self.0.set_connect_timeout(duration)
    }
    fn first_byte_timeout(&self) -> Option<u64> {
        self.0.first_byte_timeout()
    }
    fn set_first_byte_timeout(&self, duration: Option<u64>) -> Result<(), ()> {
        self.0.set_first_byte_timeout(duration)
    }
    fn between_bytes_timeout(&self) -> Option<u64> {
        self.0.between_bytes_timeout()
    }
    fn set_between_bytes_timeout(&self, duration: Option<u64>) -> Result<(), ()> {
        self.0.set_between_bytes_timeout(duration)
    }
}

// The server side of `wasi:http/types`, which a connector never reaches: passed through
// (reading an incoming request's body is refused).

impl GuestIncomingRequest for Incoming {
    fn method(&self) -> Method {
        method_from_host(self.0.method())
    }
    fn path_with_query(&self) -> Option<String> {
        self.0.path_with_query()
    }
    fn scheme(&self) -> Option<Scheme> {
        self.0.scheme().map(scheme_from_host)
    }
    fn authority(&self) -> Option<String> {
        self.0.authority()
    }
    fn headers(&self) -> Headers {
        Fields::new(HFields(self.0.headers()))
    }
    fn consume(&self) -> Result<IncomingBody, ()> {
        Err(())
    }
}

impl GuestResponseOutparam for Outparam {
    fn set(param: ResponseOutparam, response: Result<OutgoingResponse, ErrorCode>) {
        let response = response.map(|r| r.into_inner::<Outgoing>().0).map_err(error_to_host);
        host::ResponseOutparam::set(param.into_inner::<Outparam>().0, response)
    }
}

impl GuestOutgoingResponse for Outgoing {
    fn new(headers: Headers) -> Self {
        Outgoing(host::OutgoingResponse::new(headers.into_inner::<HFields>().0))
    }
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }
    fn set_status_code(&self, status_code: StatusCode) -> Result<(), ()> {
        self.0.set_status_code(status_code)
    }
    fn headers(&self) -> Headers {
        Fields::new(HFields(self.0.headers()))
    }
    fn body(&self) -> Result<OutgoingBody, ()> {
        self.0.body().map(|b| OutgoingBody::new(Body::Host(b)))
    }
}
