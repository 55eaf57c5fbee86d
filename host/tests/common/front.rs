//! Network fronts for the transport tests, all on 127.0.0.1: a TLS (or plain TCP) front that
//! forwards to the fake Graph API and counts the connections it accepts (optionally delaying
//! each new one, as a TLS set-up far away would), a test CA made with rcgen, and a small
//! CONNECT proxy that records what it was asked and can refuse. Each runs on its own thread
//! with its own tokio runtime and stops when dropped.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA made for one test, and how to issue server certificates from it.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// What kind of server certificate to issue.
#[derive(Clone, Copy, PartialEq)]
pub enum Leaf {
    Valid,
    Expired,
    /// Valid, but for another host name.
    WrongName,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "source-instagram test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A certificate and key (DER) for 127.0.0.1 / localhost, signed by this CA.
    pub fn leaf(&self, kind: Leaf) -> (Vec<u8>, Vec<u8>) {
        let names = match kind {
            Leaf::WrongName => vec!["graph.example.invalid".to_string()],
            _ => vec!["localhost".to_string(), "127.0.0.1".to_string()],
        };
        let mut params = CertificateParams::new(names).unwrap();
        if kind == Leaf::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.der().to_vec(), key.serialize_der())
    }

    /// Write the CA's PEM to `dir` and return the path (for `SSL_CERT_FILE`).
    pub fn write_pem(&self, dir: &std::path::Path) -> String {
        let p = dir.join("test-ca.pem");
        std::fs::write(&p, &self.pem).unwrap();
        p.to_string_lossy().into_owned()
    }
}

/// Accepts connections on 127.0.0.1 and forwards them to a backend, optionally terminating
/// TLS first. Counts connections (by client port).
pub struct Front {
    port: u16,
    ports: Arc<Mutex<Vec<u16>>>,
    stop: Arc<AtomicBool>,
}

impl Front {
    /// Start forwarding to `backend`; with `tls`, terminate TLS with that certificate and
    /// key (ALPN http/1.1, as the fake speaks HTTP/1.1 only). `setup_delay` is added before
    /// each new connection is served.
    pub fn start(backend: SocketAddr, tls: Option<(Vec<u8>, Vec<u8>)>, setup_delay: Duration) -> Front {
        Front::start_on(0, backend, tls, setup_delay)
    }

    /// `start` on a given port of 127.0.0.1 (0: any free one).
    pub fn start_on(port: u16, backend: SocketAddr, tls: Option<(Vec<u8>, Vec<u8>)>, setup_delay: Duration) -> Front {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let ports = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (ports.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                let acceptor = tls.map(|(cert, key)| {
                    let mut config =
                        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                            .with_safe_default_protocol_versions()
                            .unwrap()
                            .with_no_client_auth()
                            .with_single_cert(vec![cert.into()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()))
                            .unwrap();
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    tokio_rustls::TlsAcceptor::from(Arc::new(config))
                });
                while !s.load(Ordering::Relaxed) {
                    let Ok(Ok((client, peer))) =
                        tokio::time::timeout(Duration::from_millis(50), listener.accept()).await
                    else {
                        continue;
                    };
                    p.lock().unwrap().push(peer.port());
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(setup_delay).await;
                        let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else { return };
                        match acceptor {
                            Some(a) => {
                                if let Ok(mut tls) = a.accept(client).await {
                                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                                }
                            }
                            None => {
                                let mut client = client;
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            }
                        }
                    });
                }
            });
        });
        Front { port, ports, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far (distinct client ports).
    pub fn connections(&self) -> usize {
        let mut ports = self.ports.lock().unwrap().clone();
        ports.sort();
        ports.dedup();
        ports.len()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Each tunnel's CONNECT line and `Proxy-Authorization`.
pub type Tunnels = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A CONNECT proxy: records each tunnel's target and `Proxy-Authorization`, then either
/// tunnels or refuses with 403.
pub struct ConnectProxy {
    port: u16,
    pub tunnels: Tunnels,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// What a proxy that refuses answers: 403 (an ACL), or 407 asking for credentials.
const FORBIDDEN: &[u8] = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n";
const AUTH_REQUIRED: &[u8] =
    b"HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm=\"corp\"\r\ncontent-length: 0\r\n\r\n";

impl ConnectProxy {
    /// A CONNECT proxy; `refuse`: it answers every request 403.
    pub fn start(refuse: bool) -> ConnectProxy {
        ConnectProxy::start_answering(refuse.then_some(FORBIDDEN))
    }

    /// A proxy that answers every request (CONNECT or a plain forwarded one) 407.
    pub fn asking_credentials() -> ConnectProxy {
        ConnectProxy::start_answering(Some(AUTH_REQUIRED))
    }

    fn start_answering(refusal: Option<&'static [u8]>) -> ConnectProxy {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, c, s) = (tunnels.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                while !s.load(Ordering::Relaxed) {
                    let Ok(Ok((mut client, _))) =
                        tokio::time::timeout(Duration::from_millis(50), listener.accept()).await
                    else {
                        continue;
                    };
                    c.fetch_add(1, Ordering::Relaxed);
                    let t = t.clone();
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match client.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let text = String::from_utf8_lossy(&head).to_string();
                        let mut lines = text.lines();
                        let first = lines.next().unwrap_or_default().to_string();
                        let auth = lines
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
                            .map(|(_, v)| v.trim().to_string());
                        let target = first.split_whitespace().nth(1).unwrap_or_default().to_string();
                        t.lock().unwrap().push((first.clone(), auth));
                        if refusal.is_some() || !first.starts_with("CONNECT ") {
                            let _ = client.write_all(refusal.unwrap_or(FORBIDDEN)).await;
                            return;
                        }
                        let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
                            return;
                        };
                        if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_ok() {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                    });
                }
            });
        });
        ConnectProxy { port, tunnels, connections, stop }
    }

    pub fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}127.0.0.1:{}", self.port)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
