//! No request body may take longer than `server.body_read_timeout_seconds`
//! to arrive. The deadline wraps the payload stream itself, so every reader
//! (`web::Bytes`, forms, multipart, raw mail) gets it without knowing; a
//! request whose body missed it answers 408 and loses its connection, because
//! the unread rest of the body would otherwise be taken for the next request.

use super::problem::problem_response;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep, Sleep};
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// How reading the body went, as far as the stream can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyRead {
    /// Still arriving, complete, or never read.
    Fine,
    /// The deadline passed before the body ended.
    TimedOut,
    /// The connection failed it (cut short, bad chunked encoding).
    Broken,
}

/// Middleware: puts the deadline on the request's payload and answers for it.
pub async fn enforce(
    limit: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let outcome = Rc::new(Cell::new(BodyRead::Fine));
    match req.take_payload() {
        // Nothing to wait for (GET, an empty body): no timer.
        Payload::None => {}
        payload => req.set_payload(Payload::Stream {
            payload: Box::pin(Deadline {
                payload,
                timer: Box::pin(sleep(limit)),
                outcome: outcome.clone(),
                ended: false,
            }),
        }),
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    match outcome.get() {
        BodyRead::Fine => {}
        BodyRead::TimedOut => {
            let detail = format!(
                "the request body did not arrive within {} seconds",
                limit.as_secs()
            );
            let answer = problem_response(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                detail,
                Vec::new(),
            );
            response = response.into_response(answer);
            close_after(&mut response);
        }
        // Whoever read the body answered for it (400); the connection's
        // framing is lost, so it is not reused.
        BodyRead::Broken => close_after(&mut response),
    }
    Ok(response)
}

fn close_after(response: &mut ServiceResponse<BoxBody>) {
    response
        .response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
}

/// The payload, failing with `TimedOut` once the timer fires before its end.
struct Deadline {
    payload: Payload,
    timer: Pin<Box<Sleep>>,
    outcome: Rc<Cell<BodyRead>>,
    ended: bool,
}

impl Deadline {
    fn timed_out(&mut self) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.ended = true;
        self.outcome.set(BodyRead::TimedOut);
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the request body did not arrive in time",
        )))))
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.payload).poll_next(cx) {
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                self.outcome.set(BodyRead::Broken);
                Poll::Ready(Some(Err(e)))
            }
            // A client dripping bytes never leaves the stream pending for
            // long, so the deadline is checked on data too.
            Poll::Ready(Some(Ok(_))) if self.timer.is_elapsed() => self.timed_out(),
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => self.timed_out(),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
