//! The HTTP values the connector's copy of `wasi:http/types` and the runtime's copy share by
//! shape but not by type (method, scheme, header and error codes): conversions both ways. It
//! must hold no logic beyond that.

use crate::bindings::exports::wasi::http::types as ours;
use crate::bindings::wasi::http::types as host;

macro_rules! error_code {
    ($from:ident => $to:ident, $e:expr) => {{
        use $from::ErrorCode as F;
        use $to::ErrorCode as T;
        match $e {
            F::DnsTimeout => T::DnsTimeout,
            F::DnsError(p) => T::DnsError($to::DnsErrorPayload { rcode: p.rcode, info_code: p.info_code }),
            F::DestinationNotFound => T::DestinationNotFound,
            F::DestinationUnavailable => T::DestinationUnavailable,
            F::DestinationIpProhibited => T::DestinationIpProhibited,
            F::DestinationIpUnroutable => T::DestinationIpUnroutable,
            F::ConnectionRefused => T::ConnectionRefused,
            F::ConnectionTerminated => T::ConnectionTerminated,
            F::ConnectionTimeout => T::ConnectionTimeout,
            F::ConnectionReadTimeout => T::ConnectionReadTimeout,
            F::ConnectionWriteTimeout => T::ConnectionWriteTimeout,
            F::ConnectionLimitReached => T::ConnectionLimitReached,
            F::TlsProtocolError => T::TlsProtocolError,
            F::TlsCertificateError => T::TlsCertificateError,
            F::TlsAlertReceived(p) => T::TlsAlertReceived($to::TlsAlertReceivedPayload {
                alert_id: p.alert_id,
                alert_message: p.alert_message,
            }),
            F::HttpRequestDenied => T::HttpRequestDenied,
            F::HttpRequestLengthRequired => T::HttpRequestLengthRequired,
            F::HttpRequestBodySize(v) => T::HttpRequestBodySize(v),
            F::HttpRequestMethodInvalid => T::HttpRequestMethodInvalid,
            F::HttpRequestUriInvalid => T::HttpRequestUriInvalid,
            F::HttpRequestUriTooLong => T::HttpRequestUriTooLong,
            F::HttpRequestHeaderSectionSize(v) => T::HttpRequestHeaderSectionSize(v),
            F::HttpRequestHeaderSize(p) => T::HttpRequestHeaderSize(p.map(|p| $to::FieldSizePayload {
                field_name: p.field_name,
                field_size: p.field_size,
            })),
            F::HttpRequestTrailerSectionSize(v) => T::HttpRequestTrailerSectionSize(v),
            F::HttpRequestTrailerSize(p) => T::HttpRequestTrailerSize($to::FieldSizePayload {
                field_name: p.field_name,
                field_size: p.field_size,
            }),
            F::HttpResponseIncomplete => T::HttpResponseIncomplete,
            F::HttpResponseHeaderSectionSize(v) => T::HttpResponseHeaderSectionSize(v),
            F::HttpResponseHeaderSize(p) => T::HttpResponseHeaderSize($to::FieldSizePayload {
                field_name: p.field_name,
                field_size: p.field_size,
            }),
            F::HttpResponseBodySize(v) => T::HttpResponseBodySize(v),
            F::HttpResponseTrailerSectionSize(v) => T::HttpResponseTrailerSectionSize(v),
            F::HttpResponseTrailerSize(p) => T::HttpResponseTrailerSize($to::FieldSizePayload {
                field_name: p.field_name,
                field_size: p.field_size,
            }),
            F::HttpResponseTransferCoding(v) => T::HttpResponseTransferCoding(v),
            F::HttpResponseContentCoding(v) => T::HttpResponseContentCoding(v),
            F::HttpResponseTimeout => T::HttpResponseTimeout,
            F::HttpUpgradeFailed => T::HttpUpgradeFailed,
            F::HttpProtocolError => T::HttpProtocolError,
            F::LoopDetected => T::LoopDetected,
            F::ConfigurationError => T::ConfigurationError,
            F::InternalError(v) => T::InternalError(v),
        }
    }};
}

pub fn error_to_host(e: ours::ErrorCode) -> host::ErrorCode {
    error_code!(ours => host, e)
}

pub fn error_from_host(e: host::ErrorCode) -> ours::ErrorCode {
    error_code!(host => ours, e)
}

pub fn header_error(e: host::HeaderError) -> ours::HeaderError {
    match e {
        host::HeaderError::InvalidSyntax => ours::HeaderError::InvalidSyntax,
        host::HeaderError::Forbidden => ours::HeaderError::Forbidden,
        host::HeaderError::Immutable => ours::HeaderError::Immutable,
    }
}

pub fn method_to_host(m: ours::Method) -> host::Method {
    match m {
        ours::Method::Get => host::Method::Get,
        ours::Method::Head => host::Method::Head,
        ours::Method::Post => host::Method::Post,
        ours::Method::Put => host::Method::Put,
        ours::Method::Delete => host::Method::Delete,
        ours::Method::Connect => host::Method::Connect,
        ours::Method::Options => host::Method::Options,
        ours::Method::Trace => host::Method::Trace,
        ours::Method::Patch => host::Method::Patch,
        ours::Method::Other(s) => host::Method::Other(s),
    }
}

pub fn method_from_host(m: host::Method) -> ours::Method {
    match m {
        host::Method::Get => ours::Method::Get,
        host::Method::Head => ours::Method::Head,
        host::Method::Post => ours::Method::Post,
        host::Method::Put => ours::Method::Put,
        host::Method::Delete => ours::Method::Delete,
        host::Method::Connect => ours::Method::Connect,
        host::Method::Options => ours::Method::Options,
        host::Method::Trace => ours::Method::Trace,
        host::Method::Patch => ours::Method::Patch,
        host::Method::Other(s) => ours::Method::Other(s),
    }
}

pub fn scheme_to_host(s: ours::Scheme) -> host::Scheme {
    match s {
        ours::Scheme::Http => host::Scheme::Http,
        ours::Scheme::Https => host::Scheme::Https,
        ours::Scheme::Other(s) => host::Scheme::Other(s),
    }
}

pub fn scheme_from_host(s: host::Scheme) -> ours::Scheme {
    match s {
        host::Scheme::Http => ours::Scheme::Http,
        host::Scheme::Https => ours::Scheme::Https,
        host::Scheme::Other(s) => ours::Scheme::Other(s),
    }
}

/// The method as the host's rules name it.
pub fn method_name(m: &host::Method) -> http::Method {
    match m {
        host::Method::Get => http::Method::GET,
        host::Method::Head => http::Method::HEAD,
        host::Method::Post => http::Method::POST,
        host::Method::Put => http::Method::PUT,
        host::Method::Delete => http::Method::DELETE,
        host::Method::Connect => http::Method::CONNECT,
        host::Method::Options => http::Method::OPTIONS,
        host::Method::Trace => http::Method::TRACE,
        host::Method::Patch => http::Method::PATCH,
        host::Method::Other(s) => http::Method::from_bytes(s.as_bytes()).unwrap_or(http::Method::GET),
    }
}
