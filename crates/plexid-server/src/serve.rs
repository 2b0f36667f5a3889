//! Accepting connections, with the limits a server on the public internet needs (issue 7):
//!
//! * a request's headers must arrive within `PLEXID_HEADER_TIMEOUT` (hyper's header read timeout,
//!   which also runs while a keep-alive connection waits for its next request, so idle
//!   connections are closed after it too);
//! * a request's whole body must arrive within `PLEXID_BODY_TIMEOUT` of its headers
//!   ([`body_deadline`]: one deadline for the whole body, not a timeout that starts again at
//!   every chunk, so a client sending a byte every few seconds is cut off too), answered 408
//!   and the connection closed;
//! * at most `PLEXID_MAX_CONNECTIONS` connections are open; one more is answered
//!   `503 Service Unavailable` with `Retry-After` and closed.
//!
//! Connections are served by hyper's HTTP/1 server directly (axum's `serve` offers none of these
//! knobs); shutdown lets in-flight requests finish (hyper-util's graceful shutdown).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Request, Response, StatusCode};
use axum::middleware::Next;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The connection limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// How long shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn builder(limits: &Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    builder
}

/// The answer to a connection over the cap.
async fn busy(_: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let body = r#"{"detail":"Too many open connections. Please try again."}"#;
    let response = Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::RETRY_AFTER, "1")
        .header(header::CONNECTION, "close")
        .body(Body::from(body))
        .expect("a static response");
    Ok(response)
}

/// A request body that fails once its deadline has passed, however its bytes trickle in.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(Err(axum::Error::new("the request body did not arrive in time"))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: the request's body must be complete within `deadline` of its headers. A handler
/// whose body read failed at the deadline is answered `408 Request Timeout` whatever it made of
/// the failure, and the connection is closed (the rest of the body is never read).
pub async fn body_deadline(State(deadline): State<Duration>, request: Request<Body>, next: Next) -> Response<Body> {
    let expired = Arc::new(AtomicBool::new(false));
    let (parts, inner) = request.into_parts();
    let body = DeadlineBody { inner, deadline: Box::pin(tokio::time::sleep(deadline)), expired: Arc::clone(&expired) };
    let response = next.run(Request::from_parts(parts, Body::new(body))).await;
    if !expired.load(Ordering::SeqCst) {
        return response;
    }
    let body = r#"{"detail":"The request body did not arrive in time."}"#;
    Response::builder()
        .status(StatusCode::REQUEST_TIMEOUT)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::CONNECTION, "close")
        .body(Body::from(body))
        .expect("a static response")
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or similar: wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let io = TokioIo::new(stream);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let mut refuse = builder(&limits);
            refuse.keep_alive(false).header_read_timeout(Duration::from_secs(1));
            tokio::spawn(refuse.serve_connection(io, hyper::service::service_fn(busy)));
            continue;
        };
        let service = app.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            request
        });
        let connection = builder(&limits).serve_connection(io, TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("some connections were still busy after {SHUTDOWN_GRACE:?}; closing them");
    }
    Ok(())
}
