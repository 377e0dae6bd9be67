//! The listener-wide budget of gRPC request bytes being received (`grpc.max_inflight_request_bytes`).
//!
//! tonic reads each request body into its decode buffer as frames arrive, up to the message
//! limit, so the HTTP/2 windows bound only the bytes not yet read: an authenticated client with
//! many streams of large, slowly completed messages (and many connections) could otherwise make
//! the server hold `connections × max_concurrent_streams × max_message_bytes`. This layer wraps
//! every request body and charges the bytes it has delivered to one semaphore shared by the
//! listener; the charge is returned when the body is dropped, which tonic does as soon as it has
//! decoded the message (the decoded value then lives in the handler, and in the cache's own
//! budget once stored).
//!
//! Bodies are charged only once they pass [`CHARGE_ABOVE`] bytes, so ordinary requests never
//! touch the shared semaphore. A body that finds the budget spent waits for room (its stream
//! simply stops being read, so its client sees HTTP/2 flow control) for at most the configured
//! wait, then fails with RESOURCE_EXHAUSTED: uploads that together hold the whole budget and
//! each wait for more cannot wedge the listener for longer than that.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A body is charged for everything it delivered once that passes this many bytes.
pub const CHARGE_ABOVE: usize = 64 * 1024;

/// The budget one listener's request bodies share.
pub struct RequestBytesBudget {
    permits: Arc<Semaphore>,
    limit: usize,
    wait: Duration,
}

impl RequestBytesBudget {
    /// `limit` bytes at once; a body waits at most `wait` for room.
    pub fn new(limit: usize, wait: Duration) -> Arc<Self> {
        let limit = limit.min(Semaphore::MAX_PERMITS);
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            wait,
        })
    }
}

/// The tower layer: wraps each request's body in a [`BudgetedBody`].
#[derive(Clone)]
pub struct RequestBytesLayer {
    pub budget: Arc<RequestBytesBudget>,
}

impl<S> tower::Layer<S> for RequestBytesLayer {
    type Service = RequestBytes<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestBytes {
            inner,
            budget: self.budget.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequestBytes<S> {
    inner: S,
    budget: Arc<RequestBytesBudget>,
}

impl<S, B> tower::Service<http::Request<B>> for RequestBytes<S>
where
    S: tower::Service<http::Request<BudgetedBody<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> S::Future {
        let budget = self.budget.clone();
        self.inner.call(req.map(|b| BudgetedBody::new(b, budget)))
    }
}

type Acquire = Pin<
    Box<
        dyn Future<
                Output = Result<
                    Result<OwnedSemaphorePermit, tokio::sync::AcquireError>,
                    tokio::time::error::Elapsed,
                >,
            > + Send,
    >,
>;

/// A request body whose delivered bytes are charged to the listener's budget until it drops.
pub struct BudgetedBody<B> {
    inner: B,
    budget: Arc<RequestBytesBudget>,
    delivered: usize,
    /// Permits held for this body (`num_permits()` is what it is charged).
    held: Option<OwnedSemaphorePermit>,
    /// A frame that arrived while the budget was spent, and the wait for its room.
    waiting: Option<(Frame<Bytes>, Acquire)>,
}

impl<B> BudgetedBody<B> {
    fn new(inner: B, budget: Arc<RequestBytesBudget>) -> Self {
        Self {
            inner,
            budget,
            delivered: 0,
            held: None,
            waiting: None,
        }
    }

    fn charged(&self) -> usize {
        self.held.as_ref().map_or(0, |p| p.num_permits())
    }

    fn hold(&mut self, permit: OwnedSemaphorePermit) {
        match &mut self.held {
            Some(h) => h.merge(permit),
            None => self.held = Some(permit),
        }
    }

    fn exhausted(&self) -> tonic::Status {
        crate::grpc::errors::limit(
            crate::grpc::errors::ERR_THROUGHPUT,
            format!(
                "the server is receiving {} bytes of requests, its limit \
                 (grpc.max_inflight_request_bytes); retry later",
                self.budget.limit
            ),
        )
    }
}

impl<B> Body for BudgetedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<tower::BoxError>,
{
    type Data = Bytes;
    type Error = tower::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some((_, acquire)) = &mut this.waiting {
            let got = ready!(acquire.as_mut().poll(cx));
            let (frame, _) = this.waiting.take().expect("checked above");
            return match got {
                Ok(Ok(permit)) => {
                    this.hold(permit);
                    Poll::Ready(Some(Ok(frame)))
                }
                // Timed out (or the semaphore closed, which it never is).
                _ => Poll::Ready(Some(Err(this.exhausted().into()))),
            };
        }
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
            None => return Poll::Ready(None),
        };
        let Some(data) = frame.data_ref() else {
            return Poll::Ready(Some(Ok(frame)));
        };
        this.delivered += data.len();
        if this.delivered <= CHARGE_ABOVE {
            return Poll::Ready(Some(Ok(frame)));
        }
        let owed = this.delivered - this.charged();
        if this.delivered > this.budget.limit || owed > u32::MAX as usize {
            return Poll::Ready(Some(Err(this.exhausted().into())));
        }
        match this
            .budget
            .permits
            .clone()
            .try_acquire_many_owned(owed as u32)
        {
            Ok(permit) => {
                this.hold(permit);
                Poll::Ready(Some(Ok(frame)))
            }
            Err(_) => {
                let acquire = Box::pin(tokio::time::timeout(
                    this.budget.wait,
                    this.budget.permits.clone().acquire_many_owned(owed as u32),
                ));
                this.waiting = Some((frame, acquire));
                // Poll the wait once so this task is woken when room is made.
                Pin::new(this).poll_frame(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.waiting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
