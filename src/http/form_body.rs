//! HTML form bodies: `application/x-www-form-urlencoded` and
//! `multipart/form-data` read into one shape, so a page handler does not care
//! which encoding the browser chose.

use crate::attachments::Upload;
use crate::error::AppError;
use actix_web::error::PayloadError;
use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::HttpRequest;
use futures_util::{Stream, StreamExt, TryStreamExt};
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

/// After the limit is passed, up to this many more bytes (at least) are read
/// and thrown away, so that the client is still listening when the 413 page
/// arrives. Past it the connection is simply closed.
const MIN_DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// A submitted form: text fields in order, and the files that were chosen.
#[derive(Debug, Default)]
pub struct FormBody {
    fields: Vec<(String, String)>,
    files: Vec<(String, Upload)>,
}

impl FormBody {
    /// Reads the whole body, refusing more than `max_bytes` on the wire with
    /// `AppError::PayloadTooLarge`.
    pub async fn read(
        req: &HttpRequest,
        payload: Payload,
        max_bytes: usize,
    ) -> Result<FormBody, AppError> {
        let watch = Rc::new(BodyWatch::default());
        let body = capped(payload, max_bytes, watch.clone());
        let too_large = || {
            AppError::PayloadTooLarge(format!(
                "the form is larger than the limit of {}",
                crate::attachments::human_size(max_bytes)
            ))
        };
        let media_type = super::media_type(req);
        let read = match media_type.as_str() {
            "application/x-www-form-urlencoded" => read_urlencoded(body).await,
            "multipart/form-data" => read_multipart(req, body, &watch.ended).await,
            _ => {
                return Err(AppError::BadRequest(
                    "send the form as application/x-www-form-urlencoded or multipart/form-data"
                        .into(),
                ))
            }
        };
        match read {
            _ if watch.exceeded.get() => Err(too_large()),
            Ok(form) => form.refuse_nul().map(|()| form),
            Err(e) => Err(e),
        }
    }

    /// Every text field and file name is stored as text, which may not hold
    /// NUL (see `text_guard`): each offending field is named.
    fn refuse_nul(&self) -> Result<(), AppError> {
        let mut fields: Vec<&str> = self
            .fields
            .iter()
            .filter(|(_, value)| value.contains('\0'))
            .map(|(name, _)| name.as_str())
            .chain(
                self.files
                    .iter()
                    .filter(|(_, upload)| upload.filename.contains('\0'))
                    .map(|(name, _)| name.as_str()),
            )
            .collect();
        fields.dedup();
        if fields.is_empty() {
            return Ok(());
        }
        Err(AppError::Validation(
            fields.into_iter().map(super::text_guard::nul_in).collect(),
        ))
    }

    /// The first value of a text field, or "" when it was not sent.
    pub fn text(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The files sent in the field `name`. File inputs left empty (browsers
    /// send a part with an empty file name and no content) are not included.
    pub fn take_files(&mut self, name: &str) -> Vec<Upload> {
        let (wanted, rest) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.files = rest;
        wanted.into_iter().map(|(_, upload)| upload).collect()
    }
}

/// What the body stream went through, read by the form readers.
#[derive(Default)]
struct BodyWatch {
    /// The limit was passed.
    exceeded: Cell<bool>,
    /// The client's body has ended; no more bytes will come.
    ended: Cell<bool>,
}

/// The body stream, cut off with `PayloadError::Overflow` past `limit`
/// bytes (and `exceeded` set), after draining a bounded tail.
fn capped(
    payload: Payload,
    limit: usize,
    watch: Rc<BodyWatch>,
) -> impl Stream<Item = Result<Bytes, PayloadError>> + Unpin + 'static {
    struct State {
        payload: Payload,
        seen: usize,
        done: bool,
    }
    let state = State {
        payload,
        seen: 0,
        done: false,
    };
    Box::pin(
        futures_util::stream::unfold(state, move |mut st| {
            let watch = watch.clone();
            async move {
                if st.done {
                    return None;
                }
                let Some(next) = st.payload.next().await else {
                    watch.ended.set(true);
                    return None;
                };
                match next {
                    Err(e) => {
                        st.done = true;
                        Some((Err(e), st))
                    }
                    Ok(chunk) => {
                        st.seen += chunk.len();
                        if st.seen <= limit {
                            return Some((Ok(chunk), st));
                        }
                        watch.exceeded.set(true);
                        st.done = true;
                        let mut drained = 0;
                        while drained <= limit.max(MIN_DRAIN_BYTES) {
                            match st.payload.next().await {
                                Some(Ok(more)) => drained += more.len(),
                                _ => break,
                            }
                        }
                        Some((Err(PayloadError::Overflow), st))
                    }
                }
            }
        })
        // The multipart reader may poll again after the end; unfold must not be.
        .fuse(),
    )
}

async fn read_urlencoded(
    mut body: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin,
) -> Result<FormBody, AppError> {
    let mut raw = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("could not read the form: {e}")))?;
        raw.extend_from_slice(&chunk);
    }
    Ok(FormBody {
        fields: url::form_urlencoded::parse(&raw).into_owned().collect(),
        files: Vec::new(),
    })
}

async fn read_multipart(
    req: &HttpRequest,
    body: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin + 'static,
    body_ended: &Cell<bool>,
) -> Result<FormBody, AppError> {
    let malformed = |e: actix_multipart::MultipartError| {
        AppError::BadRequest(format!("the form data is malformed: {e}"))
    };
    let mut parts = actix_multipart::Multipart::new(req.headers(), body);
    let mut form = FormBody::default();
    while let Some(mut part) = unless_starved(body_ended, parts.try_next())
        .await?
        .map_err(malformed)?
    {
        let disposition = part.content_disposition().cloned();
        let name = disposition
            .as_ref()
            .and_then(|d| d.get_name())
            .unwrap_or_default()
            .to_string();
        let filename = disposition.as_ref().and_then(|d| {
            d.get_filename().map(str::to_string).or_else(|| {
                d.get_filename_ext()
                    .map(|ext| String::from_utf8_lossy(&ext.value).into_owned())
            })
        });
        let content_type = part
            .content_type()
            .map_or_else(|| "application/octet-stream".to_string(), |m| m.to_string());
        let mut bytes = Vec::new();
        while let Some(chunk) = unless_starved(body_ended, part.try_next())
            .await?
            .map_err(malformed)?
        {
            bytes.extend_from_slice(&chunk);
        }
        match filename {
            // An empty file input.
            Some(filename) if filename.is_empty() && bytes.is_empty() => {}
            Some(filename) => form.files.push((
                name,
                Upload {
                    filename,
                    content_type,
                    bytes,
                },
            )),
            None => form
                .fields
                .push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    Ok(form)
}

/// One step of the multipart parser, or 400 when it waits on a body that has
/// ended. actix-multipart 0.7 can wait forever there: when all that is left
/// after a part's content is a bare CRLF or the start of a boundary
/// (`\r\n--bou`), `InnerField::read_stream` (its `field.rs`) answers
/// `Pending` for want of the bytes that would tell content from boundary,
/// although the stream has ended and nothing will ever wake it. So a body
/// missing its closing boundary hung, and its socket stayed in CLOSE-WAIT
/// after the client left. A parser still pending once the body has ended is
/// waiting for bytes that cannot come: the form was cut short.
async fn unless_starved<T>(
    body_ended: &Cell<bool>,
    step: impl Future<Output = T>,
) -> Result<T, AppError> {
    let mut step = std::pin::pin!(step);
    std::future::poll_fn(|cx| match step.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Ok(out)),
        Poll::Pending if body_ended.get() => Poll::Ready(Err(AppError::BadRequest(
            "the form data ends before its closing boundary".into(),
        ))),
        Poll::Pending => Poll::Pending,
    })
    .await
}
