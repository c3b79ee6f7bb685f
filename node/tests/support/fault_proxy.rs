//! A proxy between the node and a devnet stand-in that injects the faults a real engine or
//! driver can produce: malformed answers, 4xx/5xx, and answers that arrive too late (the request
//! is still forwarded, so the block may be inserted although the node timed out).

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use url::Url;

/// What the proxy does with the next matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward untouched.
    Pass,
    /// Answer 200 with this body instead of forwarding.
    Body(String),
    /// Answer this status with a short body instead of forwarding.
    Status(u16),
    /// Forward, but only after holding the request this many ms.
    Delay(u64),
}

struct Shared {
    requests: std::sync::atomic::AtomicU64,
    target: Url,
    /// Only requests whose path contains this are faulted (empty: all).
    path: String,
    fault: Mutex<Fault>,
    http: reqwest::Client,
}

/// Handle to a running proxy.
#[derive(Clone)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    /// Where the node should connect.
    pub url: Url,
}

impl FaultProxy {
    /// Serves a proxy to `target`, faulting requests whose path contains `path`.
    pub async fn start(target: Url, path: &str) -> Self {
        let shared = Arc::new(Shared {
            requests: std::sync::atomic::AtomicU64::new(0),
            target,
            path: path.to_string(),
            fault: Mutex::new(Fault::Pass),
            http: reqwest::Client::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let app = Router::new().fallback(forward).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { shared, url }
    }

    /// Sets the fault for the following requests.
    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let fault = if uri.path().contains(&shared.path) {
        shared.fault.lock().unwrap().clone()
    } else {
        Fault::Pass
    };
    let delay = match fault {
        Fault::Body(text) => return (StatusCode::OK, text).into_response(),
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            return (status, format!("{{\"error\":\"injected {code}\"}}")).into_response();
        }
        Fault::Delay(ms) => std::time::Duration::from_millis(ms),
        Fault::Pass => std::time::Duration::ZERO,
    };
    // Forward on a detached task: like a real server, the request is processed even when the
    // client gives up waiting (hyper drops this handler when the client disconnects).
    let task = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        send(&shared, method, uri, headers, body).await
    });
    task.await
        .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}

async fn send(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!(
        "{}{}",
        shared.target.as_str().trim_end_matches('/'),
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut request = shared.http.request(method, url).body(body);
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
