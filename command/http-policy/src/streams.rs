//! `wasi:io/streams` as the connector sees it through the policy: a stream is either the
//! runtime's own (stdio, passed through call for call) or an in-memory buffer (a request body
//! being written, a settled answer being read). Also the `wasi:cli` stdio getters, which hand
//! out streams and so must hand out these. It must not know about HTTP (see `types`).

use crate::bindings::exports::wasi::cli::{stderr, stdin, stdout};
use crate::bindings::exports::wasi::io::streams::{
    Guest, GuestInputStream, GuestOutputStream, InputStream, InputStreamBorrow, OutputStream, StreamError,
};
use crate::bindings::wasi::cli::{stderr as host_stderr, stdin as host_stdin, stdout as host_stdout};
use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::io::poll::Pollable;
use crate::bindings::wasi::io::streams as host;
use std::cell::RefCell;
use std::rc::Rc;

/// Most a buffered output stream accepts per write (what `check-write` reports).
const WRITE_CHUNK: u64 = 64 * 1024;

pub enum In {
    Host(host::InputStream),
    /// The bytes and how many were read.
    Buf(RefCell<(Vec<u8>, usize)>),
}

pub enum Out {
    Host(host::OutputStream),
    Buf(Rc<RefCell<Vec<u8>>>),
}

fn err(e: host::StreamError) -> StreamError {
    match e {
        host::StreamError::LastOperationFailed(e) => StreamError::LastOperationFailed(e),
        host::StreamError::Closed => StreamError::Closed,
    }
}

/// A pollable that is ready at once (buffers never block).
pub fn ready() -> Pollable {
    monotonic_clock::subscribe_duration(0)
}

impl In {
    pub fn buffer(bytes: Vec<u8>) -> InputStream {
        InputStream::new(In::Buf(RefCell::new((bytes, 0))))
    }

    fn take(&self, len: u64) -> Result<Vec<u8>, StreamError> {
        match self {
            In::Host(s) => s.read(len).map_err(err),
            In::Buf(b) => {
                let (bytes, at) = &mut *b.borrow_mut();
                if *at >= bytes.len() {
                    return Err(StreamError::Closed);
                }
                let n = (bytes.len() - *at).min(len as usize);
                *at += n;
                Ok(bytes[*at - n..*at].to_vec())
            }
        }
    }
}

impl GuestInputStream for In {
    fn read(&self, len: u64) -> Result<Vec<u8>, StreamError> {
        self.take(len)
    }
    fn blocking_read(&self, len: u64) -> Result<Vec<u8>, StreamError> {
        match self {
            In::Host(s) => s.blocking_read(len).map_err(err),
            In::Buf(_) => self.take(len),
        }
    }
    fn skip(&self, len: u64) -> Result<u64, StreamError> {
        match self {
            In::Host(s) => s.skip(len).map_err(err),
            In::Buf(_) => self.take(len).map(|b| b.len() as u64),
        }
    }
    fn blocking_skip(&self, len: u64) -> Result<u64, StreamError> {
        match self {
            In::Host(s) => s.blocking_skip(len).map_err(err),
            In::Buf(_) => self.take(len).map(|b| b.len() as u64),
        }
    }
    fn subscribe(&self) -> Pollable {
        match self {
            In::Host(s) => s.subscribe(),
            In::Buf(_) => ready(),
        }
    }
}

impl Out {
    fn put(&self, bytes: &[u8]) -> Result<(), StreamError> {
        match self {
            Out::Host(s) => s.write(bytes).map_err(err),
            Out::Buf(b) => {
                b.borrow_mut().extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

impl GuestOutputStream for Out {
    fn check_write(&self) -> Result<u64, StreamError> {
        match self {
            Out::Host(s) => s.check_write().map_err(err),
            Out::Buf(_) => Ok(WRITE_CHUNK),
        }
    }
    fn write(&self, contents: Vec<u8>) -> Result<(), StreamError> {
        self.put(&contents)
    }
    fn blocking_write_and_flush(&self, contents: Vec<u8>) -> Result<(), StreamError> {
        match self {
            Out::Host(s) => s.blocking_write_and_flush(&contents).map_err(err),
            Out::Buf(_) => self.put(&contents),
        }
    }
    fn flush(&self) -> Result<(), StreamError> {
        match self {
            Out::Host(s) => s.flush().map_err(err),
            Out::Buf(_) => Ok(()),
        }
    }
    fn blocking_flush(&self) -> Result<(), StreamError> {
        match self {
            Out::Host(s) => s.blocking_flush().map_err(err),
            Out::Buf(_) => Ok(()),
        }
    }
    fn subscribe(&self) -> Pollable {
        match self {
            Out::Host(s) => s.subscribe(),
            Out::Buf(_) => ready(),
        }
    }
    fn write_zeroes(&self, len: u64) -> Result<(), StreamError> {
        match self {
            Out::Host(s) => s.write_zeroes(len).map_err(err),
            Out::Buf(_) => self.put(&vec![0; len as usize]),
        }
    }
    fn blocking_write_zeroes_and_flush(&self, len: u64) -> Result<(), StreamError> {
        match self {
            Out::Host(s) => s.blocking_write_zeroes_and_flush(len).map_err(err),
            Out::Buf(_) => self.put(&vec![0; len as usize]),
        }
    }
    fn splice(&self, src: InputStreamBorrow<'_>, len: u64) -> Result<u64, StreamError> {
        let src = src.get::<In>();
        if let (Out::Host(dst), In::Host(from)) = (self, src) {
            return dst.splice(from, len).map_err(err);
        }
        let room = self.check_write()?.min(len);
        let bytes = src.take(room)?;
        self.put(&bytes)?;
        Ok(bytes.len() as u64)
    }
    fn blocking_splice(&self, src: InputStreamBorrow<'_>, len: u64) -> Result<u64, StreamError> {
        let src = src.get::<In>();
        if let (Out::Host(dst), In::Host(from)) = (self, src) {
            return dst.blocking_splice(from, len).map_err(err);
        }
        let room = self.check_write()?.min(len);
        let bytes = match src {
            In::Host(s) => s.blocking_read(room).map_err(err)?,
            In::Buf(_) => src.take(room)?,
        };
        self.put(&bytes)?;
        if let Out::Host(s) = self {
            s.blocking_flush().map_err(err)?;
        }
        Ok(bytes.len() as u64)
    }
}

impl Guest for crate::Policy {
    type InputStream = In;
    type OutputStream = Out;
}

impl stdin::Guest for crate::Policy {
    fn get_stdin() -> InputStream {
        InputStream::new(In::Host(host_stdin::get_stdin()))
    }
}

impl stdout::Guest for crate::Policy {
    fn get_stdout() -> OutputStream {
        OutputStream::new(Out::Host(host_stdout::get_stdout()))
    }
}

impl stderr::Guest for crate::Policy {
    fn get_stderr() -> OutputStream {
        OutputStream::new(Out::Host(host_stderr::get_stderr()))
    }
}
