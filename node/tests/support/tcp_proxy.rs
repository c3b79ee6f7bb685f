//! A loopback TCP proxy in front of one endpoint the node talks to (L1 RPC, L2 RPC, engine,
//! driver, Raiko) that fails the way networks and servers do: it refuses connections (nothing
//! listens on the port), resets a connection in the middle of an answer, swallows requests and
//! never answers, answers 5xx without asking the server, or answers slowly. It works on bytes,
//! below HTTP, so the node's own HTTP client meets each failure as it would in production.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket, TcpStream},
    sync::watch,
};
use url::Url;

/// What the proxy does, from the moment it is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpFault {
    /// Forward both ways untouched.
    Pass,
    /// Nothing listens: connecting is refused, and open connections are closed.
    Refuse,
    /// Forward the request, then send half of the answer's first chunk and reset (RST).
    ResetMidResponse,
    /// Accept and read requests, never answer (connections are closed when the fault ends).
    Stall,
    /// Answer every request with this HTTP status without forwarding it.
    ServerError(u16),
    /// Forward, but hold each chunk of an answer this long first.
    Slow(Duration),
}

struct Shared {
    target: SocketAddr,
    fault: watch::Sender<TcpFault>,
    accepted: AtomicU64,
}

/// A running proxy; it stops with the test's runtime.
#[derive(Clone)]
pub struct TcpProxy {
    shared: Arc<Shared>,
    /// Where the node should connect instead of the endpoint.
    pub url: Url,
}

impl TcpProxy {
    /// A proxy on a free loopback port in front of `target` (an http URL), passing everything.
    pub async fn start(endpoint: &Url) -> Self {
        let host = endpoint.host_str().unwrap();
        let port = endpoint.port_or_known_default().unwrap();
        let target = tokio::net::lookup_host((host, port))
            .await
            .unwrap()
            .next()
            .unwrap();
        let listener = bind(0).await.unwrap();
        let local = listener.local_addr().unwrap();
        let mut url = Url::parse(&format!("http://{local}/")).unwrap();
        url.set_path(endpoint.path());
        let (fault, _) = watch::channel(TcpFault::Pass);
        let shared = Arc::new(Shared {
            target,
            fault,
            accepted: AtomicU64::new(0),
        });
        tokio::spawn(serve(shared.clone(), listener, local.port()));
        Self { shared, url }
    }

    /// The URL the node should use, as the env var wants it (no trailing slash).
    pub fn env_url(&self) -> String {
        self.url.as_str().trim_end_matches('/').to_string()
    }

    /// Sets the fault for what happens from now on.
    pub fn set(&self, fault: TcpFault) {
        self.shared.fault.send_replace(fault);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }
}

/// A listener on `port` (0: any) that can be bound again right after it was closed.
async fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(128)
}

/// Accepts while the fault is not `Refuse`; closes the port while it is.
async fn serve(shared: Arc<Shared>, first: TcpListener, port: u16) {
    let mut faults = shared.fault.subscribe();
    let mut listener = Some(first);
    loop {
        let refusing = *faults.borrow_and_update() == TcpFault::Refuse;
        if refusing {
            listener = None;
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(open) = listener.as_ref() else {
            // The port was closed: take it again (the kernel may need a moment).
            match bind(port).await {
                Ok(l) => listener = Some(l),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                if let Ok((client, _)) = accepted {
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = client.set_nodelay(true);
                    tokio::spawn(connection(shared.clone(), client));
                }
            }
            changed = faults.changed() => if changed.is_err() { return },
        }
    }
}

/// One client connection, relayed to its own upstream connection under the current fault.
async fn connection(shared: Arc<Shared>, client: TcpStream) {
    let mut faults = shared.fault.subscribe();
    let (mut client_rx, mut client_tx) = client.into_split();
    let mut upstream: Option<(
        tokio::net::tcp::OwnedReadHalf,
        tokio::net::tcp::OwnedWriteHalf,
    )> = None;
    let mut request = Vec::new();
    let mut from_client = vec![0u8; 64 * 1024];
    let mut from_server = vec![0u8; 64 * 1024];
    loop {
        let fault = faults.borrow_and_update().clone();
        if fault == TcpFault::Refuse {
            return;
        }
        let server_read = async {
            match upstream.as_mut() {
                Some((rx, _)) => rx.read(&mut from_server).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = client_rx.read(&mut from_client) => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                match &fault {
                    TcpFault::Stall => {}
                    TcpFault::ServerError(code) => {
                        request.extend_from_slice(&from_client[..n]);
                        if request_complete(&request) {
                            let body = format!("{{\"error\":\"injected {code}\"}}");
                            let answer = format!(
                                "HTTP/1.1 {code} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = client_tx.write_all(answer.as_bytes()).await;
                            return;
                        }
                    }
                    _ => {
                        if upstream.is_none() {
                            let Ok(server) = TcpStream::connect(shared.target).await else { return };
                            let _ = server.set_nodelay(true);
                            upstream = Some(server.into_split());
                        }
                        let Some((_, server_tx)) = upstream.as_mut() else { return };
                        if server_tx.write_all(&from_client[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
            read = server_read => {
                let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                match &fault {
                    TcpFault::Stall => {}
                    TcpFault::ResetMidResponse => {
                        let _ = client_tx.write_all(&from_server[..n.div_ceil(2)]).await;
                        let _ = client_tx.flush().await;
                        reset(client_rx, client_tx);
                        return;
                    }
                    TcpFault::Slow(hold) => {
                        tokio::time::sleep(*hold).await;
                        if client_tx.write_all(&from_server[..n]).await.is_err() { return }
                    }
                    _ => if client_tx.write_all(&from_server[..n]).await.is_err() { return },
                }
            }
            changed = faults.changed() => {
                if changed.is_err() || fault == TcpFault::Stall {
                    // A stalled connection ends with its fault: its requests were never sent on.
                    return;
                }
            }
        }
    }
}

/// Closes the connection with a TCP reset instead of a FIN.
fn reset(rx: tokio::net::tcp::OwnedReadHalf, tx: tokio::net::tcp::OwnedWriteHalf) {
    if let Ok(stream) = rx.reunite(tx) {
        // Deprecated because a non-zero linger blocks the thread on drop; zero never waits, it
        // is what makes the close a reset.
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
    }
}

/// Whether `bytes` hold a whole HTTP/1.1 request (headers and a `content-length` body).
fn request_complete(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let headers = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let length = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    bytes.len() >= end + 4 + length
}
