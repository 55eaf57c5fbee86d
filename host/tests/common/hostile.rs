//! A small hostile HTTP server for the hardening tests: it accepts connections and then
//! misbehaves (never answers, trickles its body, or sends a canned answer with odd headers).
//! Every connection thread is bounded in time and stops when the server is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the server does once it has read a request's head.
#[derive(Clone)]
pub enum Behaviour {
    /// Never answer (the connection stays open).
    Silent,
    /// Send a 200 head announcing a large body, then one byte per `every`.
    Trickle { every: Duration },
    /// Answer every request with this status, extra headers and body (`{base}` in the body
    /// becomes the server's base URL).
    Canned { status: u16, headers: Vec<(String, String)>, body: String },
}

/// The longest any connection is kept (the tests end long before).
const MAX_CONNECTION_LIFE: Duration = Duration::from_secs(60);

pub struct HostileServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HostileServer {
    pub fn start(behaviour: Behaviour) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !s.load(Ordering::Relaxed) && started.elapsed() < MAX_CONNECTION_LIFE * 2 {
                match listener.accept() {
                    Ok((stream, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        let b = match &behaviour {
                            Behaviour::Canned { status, headers, body } => Behaviour::Canned {
                                status: *status,
                                headers: headers.clone(),
                                body: body.replace("{base}", &format!("http://127.0.0.1:{port}")),
                            },
                            other => other.clone(),
                        };
                        let s = s.clone();
                        std::thread::spawn(move || serve(stream, b, s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HostileServer { port, connections, stop }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut stream: TcpStream, behaviour: Behaviour, stop: Arc<AtomicBool>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let started = Instant::now();
    let alive = || !stop.load(Ordering::Relaxed) && started.elapsed() < MAX_CONNECTION_LIFE;
    loop {
        // Read one request head (the body, if any, is ignored).
        let mut head = Vec::new();
        let mut byte = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            if !alive() {
                return;
            }
            match stream.read(&mut byte) {
                Ok(0) => return,
                Ok(n) => head.extend_from_slice(&byte[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
        match &behaviour {
            Behaviour::Silent => {
                while alive() {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            Behaviour::Trickle { every } => {
                if stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n")
                    .is_err()
                {
                    return;
                }
                while alive() {
                    if stream.write_all(b" ").and_then(|_| stream.flush()).is_err() {
                        return;
                    }
                    std::thread::sleep(*every);
                }
                return;
            }
            Behaviour::Canned { status, headers, body } => {
                let mut answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    answer += &format!("{k}: {v}\r\n");
                }
                answer += "\r\n";
                answer += body;
                if stream.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}
