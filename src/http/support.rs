//! The customer's pages: the web form at `/support` and the private ticket
//! page at `/t/{access_token}`. Forms in, HTML out; every error is a page
//! (never a problem document), and a rejected form comes back with what the
//! customer typed and a message next to each field.

use super::client_key;
use super::form_body::FormBody;
use super::problem::ApiError;
use super::state::{acknowledgement, run_db, AppState};
use crate::attachments::{check_limits, human_size, Upload, UploadLimits};
use crate::config::Settings;
use crate::domain::validate::FieldError;
use crate::domain::{AuthorKind, Channel, Status};
use crate::error::AppError;
use crate::intake::customer_reply::{add_customer_reply, CustomerReply};
use crate::intake::public_fields::PublicFields;
use crate::intake::{
    self, CreateTicketRequest, CustomerInput, IntakeContext, RoutingHints, Submission,
};
use crate::tickets::conversation::{self, CustomerTicket};
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(support_form)
        .service(submit_support)
        .service(customer_page)
        .service(customer_reply)
        .service(customer_attachment);
}

// ---------------------------------------------------------------- handlers

#[get("/support")]
async fn support_form(state: web::Data<AppState>) -> HttpResponse {
    let page = SupportForm::new(&state.settings, &SupportInput::default(), Vec::new(), false);
    html(StatusCode::OK, &page)
}

#[post("/support")]
async fn submit_support(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let settings = &state.settings;
    if let Err(e) = state.check_public_rate(client_key(&req, settings)) {
        return error_page(&e);
    }
    let mut form = match FormBody::read(&req, payload, settings.intake.max_upload_bytes).await {
        Ok(form) => form,
        Err(e) => return support_failure(settings, &SupportInput::default(), false, e.into()),
    };
    let input = SupportInput::from_form(&form);
    if !input.website.trim().is_empty() {
        return error_page(&AppError::BadRequest(
            "This submission looked automated, so no request was created. If you filled in \
             the form yourself, go back, leave the field labelled \"leave this field empty\" \
             blank and send it again."
                .into(),
        ));
    }
    let uploads = form.take_files("attachments");
    let had_files = !uploads.is_empty();
    let submission = match input.check(&uploads, upload_limits(settings)) {
        Ok(submission) => submission,
        Err(failure) => return support_failure(settings, &input, had_files, failure),
    };
    let acknowledge = acknowledgement(&state, Channel::Web);
    let default_queue = settings.routing.default_queue.clone();
    let created = run_db(&state, move |conn| {
        intake::create_ticket(
            conn,
            &submission,
            &uploads,
            &IntakeContext {
                channel: Channel::Web,
                caller: None,
                idempotency: None,
                follow_up_of: None,
                mail: None,
                more_events: Vec::new(),
                after_create: acknowledge.as_deref(),
                routing: RoutingHints {
                    default_queue: default_queue.clone(),
                    ..Default::default()
                },
            },
        )
    })
    .await;
    match created {
        Ok(created) => {
            let base = settings.server.public_base_url.trim_end_matches('/');
            let page = SupportDone {
                number: created.ticket.number,
                link: created.access_token.map(|t| format!("{base}/t/{t}")),
            };
            html(StatusCode::OK, &page)
        }
        Err(ApiError(e)) => support_failure(settings, &input, had_files, e.into()),
    }
}

#[get("/t/{access_token}")]
async fn customer_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    show_ticket(
        &state,
        token.into_inner(),
        StatusCode::OK,
        ReplyDraft::default(),
    )
    .await
}

#[post("/t/{access_token}")]
async fn customer_reply(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let token = token.into_inner();
    let settings = &state.settings;
    if let Err(e) = state.check_public_rate(client_key(&req, settings)) {
        return error_page(&e);
    }
    let mut form = match FormBody::read(&req, payload, settings.intake.max_upload_bytes).await {
        Ok(form) => form,
        Err(e) => return reply_failure(&state, token, ReplyDraft::default(), e.into()).await,
    };
    let uploads = form.take_files("attachments");
    let draft = ReplyDraft {
        body: form.text("body").to_string(),
        had_files: !uploads.is_empty(),
        errors: Vec::new(),
    };
    if let Err(e) = check_limits(&uploads, upload_limits(settings)) {
        return reply_failure(&state, token, draft, e.into()).await;
    }
    let (reply_token, body) = (token.clone(), draft.body.clone());
    let replied = run_db(&state, move |conn| {
        add_customer_reply(conn, &reply_token, &body, &uploads, Channel::Web)
    })
    .await;
    match replied {
        Ok(CustomerReply::Appended) => see_other(&format!("/t/{token}")),
        Ok(CustomerReply::FollowUp { access_token, .. }) => {
            see_other(&format!("/t/{access_token}"))
        }
        Err(ApiError(e)) => reply_failure(&state, token, draft, e.into()).await,
    }
}

/// A file of one of the ticket's public messages (internal notes' files
/// are staff-only): a download, as on the API.
#[get("/t/{access_token}/attachments/{id}")]
async fn customer_attachment(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (token, id) = path.into_inner();
    match run_db(&state, move |conn| {
        crate::attachments::download_for_customer(conn, &token, &id)
    })
    .await
    {
        Ok(download) => super::attachments::file_response(download),
        Err(ApiError(e)) => error_page(&e),
    }
}

async fn show_ticket(
    state: &web::Data<AppState>,
    token: String,
    status: StatusCode,
    draft: ReplyDraft,
) -> HttpResponse {
    let lookup = token.clone();
    match run_db(state, move |conn| {
        conversation::customer_view(conn, &lookup)
    })
    .await
    {
        Ok(view) => html(
            status,
            &CustomerPage::new(&state.settings, token, view, draft),
        ),
        Err(ApiError(e)) => error_page(&e),
    }
}

async fn reply_failure(
    state: &web::Data<AppState>,
    token: String,
    draft: ReplyDraft,
    failure: Failure,
) -> HttpResponse {
    match failure {
        Failure::Form { status, errors } => {
            show_ticket(state, token, status, ReplyDraft { errors, ..draft }).await
        }
        Failure::Page(e) => error_page(&e),
    }
}

fn support_failure(
    settings: &Settings,
    input: &SupportInput,
    had_files: bool,
    failure: Failure,
) -> HttpResponse {
    match failure {
        Failure::Form { status, errors } => html(
            status,
            &SupportForm::new(settings, input, errors, had_files),
        ),
        Failure::Page(e) => error_page(&e),
    }
}

// ----------------------------------------------------- what went wrong, and how it shows

/// A refused submission: either the form is shown again with field
/// messages, or a whole error page is.
enum Failure {
    Form {
        status: StatusCode,
        errors: Vec<FieldError>,
    },
    Page(AppError),
}

impl From<AppError> for Failure {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Validation(errors) => Failure::Form {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            },
            AppError::PayloadTooLarge(message) => Failure::Form {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                errors: vec![FieldError::new("attachments", message)],
            },
            other => Failure::Page(other),
        }
    }
}

impl Failure {
    /// Both problems at once, so the customer fixes everything in one go.
    fn and(self, other: Failure) -> Failure {
        match (self, other) {
            (
                Failure::Form { status, mut errors },
                Failure::Form {
                    status: other_status,
                    errors: more,
                },
            ) => {
                errors.extend(more);
                let status = if other_status == StatusCode::PAYLOAD_TOO_LARGE {
                    other_status
                } else {
                    status
                };
                Failure::Form { status, errors }
            }
            (page @ Failure::Page(_), _) | (_, page) => page,
        }
    }
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

/// An HTML answer. Every page may show personal data, so none is cached.
pub(super) fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            return HttpResponse::InternalServerError()
                .content_type("text/html; charset=utf-8")
                .body("<!doctype html><html lang=\"en\"><title>Error</title><h1>Something went wrong</h1></html>");
        }
    };
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP));
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.insert_header((header::RETRY_AFTER, "60"));
    }
    response.body(body)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Template)]
#[template(path = "error_page.html")]
struct ErrorPage {
    title: &'static str,
    message: String,
    back: Option<&'static str>,
}

pub(super) fn error_page(err: &AppError) -> HttpResponse {
    use AppError::*;
    let (status, title, message) = match err {
        NotFound(_) => (
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address. If you followed a link from one of our \
             emails, check that you copied all of it."
                .to_string(),
        ),
        TooManyRequests(m) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            sentence(m),
        ),
        PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "Too large", sentence(m)),
        BadRequest(m) => (StatusCode::BAD_REQUEST, "This did not work", sentence(m)),
        Conflict(m) => (StatusCode::CONFLICT, "This cannot be done now", sentence(m)),
        Validation(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please check what you entered",
            errors
                .iter()
                .map(|e| sentence(&format!("{} {}", e.field, e.message)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Unavailable(_) => {
            tracing::error!(error = %crate::error::cause_chain(&err), "customer page failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "We cannot take requests right now. Please try again in a few minutes.".into(),
            )
        }
        _ => {
            tracing::error!(error = %crate::error::cause_chain(&err), "customer page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "We could not complete this. The problem has been logged; please try again \
                 later."
                    .into(),
            )
        }
    };
    html(
        status,
        &ErrorPage {
            title,
            message,
            back: (status != StatusCode::NOT_FOUND).then_some("/support"),
        },
    )
}

/// Capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

// ------------------------------------------------------------- page models

/// A form control's value and its message.
#[derive(Default)]
struct Field {
    value: String,
    error: Option<String>,
}

/// One line of the error summary above a form.
struct Problem {
    anchor: Option<&'static str>,
    text: String,
}

struct Limits {
    count: usize,
    size: String,
}

fn upload_limits(settings: &Settings) -> UploadLimits {
    UploadLimits {
        max_bytes: settings.intake.max_attachment_bytes,
        max_count: settings.intake.max_attachments,
    }
}

/// A form control that can show a message: the API field it stands for,
/// its id on the page and its label.
type Control = (&'static str, &'static str, &'static str);

const SUPPORT_CONTROLS: &[Control] = &[
    ("customer.name", "name", "Your name"),
    ("customer.email", "email", "Email address"),
    ("subject", "subject", "Subject"),
    ("body", "description", "Description"),
    ("attachments", "attachments", "Attachments"),
];

const REPLY_CONTROLS: &[Control] = &[
    ("body", "body", "Your message"),
    ("attachments", "attachments", "Attachments"),
];

/// Field messages sorted into a page's controls, and the summary above the form.
struct Messages {
    problems: Vec<Problem>,
}

impl Messages {
    fn new(errors: &[FieldError], controls: &[Control]) -> Messages {
        let mut errors: Vec<&FieldError> = errors.iter().collect();
        // In the order of the form, so the summary reads top to bottom.
        errors.sort_by_key(|e| {
            controls
                .iter()
                .position(|(field, ..)| *field == e.field)
                .unwrap_or(controls.len())
        });
        let problems = errors
            .into_iter()
            .map(|error| {
                let control = controls.iter().find(|(field, ..)| *field == error.field);
                // "must not be empty" reads best after the label; whole
                // sentences (attachment limits) stand alone.
                let text = match control {
                    Some((_, _, label)) if error.message.starts_with("must") => {
                        sentence(&format!("{label} {}", error.message))
                    }
                    Some(_) => sentence(&error.message),
                    None => sentence(&format!("{} {}", error.field, error.message)),
                };
                Problem {
                    anchor: control.map(|(_, id, _)| *id),
                    text,
                }
            })
            .collect();
        Messages { problems }
    }

    fn field(&self, anchor: &str, value: &str) -> Field {
        let texts: Vec<&str> = self
            .problems
            .iter()
            .filter(|p| p.anchor == Some(anchor))
            .map(|p| p.text.as_str())
            .collect();
        Field {
            value: value.to_string(),
            error: (!texts.is_empty()).then(|| texts.join(" ")),
        }
    }

    fn files_notice(&self, had_files: bool) -> Option<String> {
        (had_files && !self.problems.is_empty())
            .then(|| "Your files were not kept. Please choose them again.".to_string())
    }
}

fn limits(settings: &Settings) -> Limits {
    Limits {
        count: settings.intake.max_attachments,
        size: human_size(settings.intake.max_attachment_bytes),
    }
}

/// What the customer typed into the support form.
#[derive(Default)]
struct SupportInput {
    name: String,
    email: String,
    subject: String,
    description: String,
    /// The honeypot: people leave it empty, form-filling bots do not.
    website: String,
}

impl SupportInput {
    fn from_form(form: &FormBody) -> SupportInput {
        SupportInput {
            name: form.text("name").to_string(),
            email: form.text("email").to_string(),
            subject: form.text("subject").to_string(),
            description: form.text("description").to_string(),
            website: form.text("website").to_string(),
        }
    }

    /// The API's rules, and the attachment limits, reported together.
    fn check(&self, uploads: &[Upload], limits: UploadLimits) -> Result<Submission, Failure> {
        let request = CreateTicketRequest {
            subject: self.subject.clone(),
            body: self.description.clone(),
            customer: CustomerInput {
                email: self.email.clone(),
                name: Some(self.name.clone()),
            },
            priority: None,
            tags: Vec::new(),
            custom_fields: None,
            queue: None,
            language: None,
        };
        // The form sets none of the fields the public-fields setting opens,
        // so nothing needs it: with nothing public, any it set would be refused.
        let validated = request
            .validate(None, &PublicFields::default())
            .map_err(Failure::from);
        let limited = check_limits(uploads, limits).map_err(Failure::from);
        match (validated, limited) {
            (Ok(submission), Ok(())) => Ok(submission),
            (Err(a), Err(b)) => Err(a.and(b)),
            (Err(failure), Ok(())) | (Ok(_), Err(failure)) => Err(failure),
        }
    }
}

#[derive(Template)]
#[template(path = "support_form.html")]
struct SupportForm {
    name: Field,
    email: Field,
    subject: Field,
    description: Field,
    attachments: Field,
    problems: Vec<Problem>,
    notice: Option<String>,
    limits: Limits,
    max_subject: usize,
}

impl SupportForm {
    fn new(
        settings: &Settings,
        input: &SupportInput,
        errors: Vec<FieldError>,
        had_files: bool,
    ) -> SupportForm {
        let messages = Messages::new(&errors, SUPPORT_CONTROLS);
        SupportForm {
            name: messages.field("name", &input.name),
            email: messages.field("email", &input.email),
            subject: messages.field("subject", &input.subject),
            description: messages.field("description", &input.description),
            attachments: messages.field("attachments", ""),
            notice: messages.files_notice(had_files),
            problems: messages.problems,
            limits: limits(settings),
            max_subject: intake::MAX_SUBJECT,
        }
    }
}

#[derive(Template)]
#[template(path = "support_done.html")]
struct SupportDone {
    number: i64,
    link: Option<String>,
}

/// A reply that was not accepted, to show again.
#[derive(Default)]
struct ReplyDraft {
    body: String,
    had_files: bool,
    errors: Vec<FieldError>,
}

struct Stamp {
    iso: String,
    text: String,
}

impl From<DateTime<Utc>> for Stamp {
    fn from(at: DateTime<Utc>) -> Stamp {
        Stamp {
            iso: at.to_rfc3339_opts(SecondsFormat::Secs, true),
            text: at.format("%-d %B %Y, %H:%M UTC").to_string(),
        }
    }
}

struct FileItem {
    id: String,
    name: String,
    size: String,
}

struct MessageItem {
    author: &'static str,
    mine: bool,
    at: Stamp,
    body: String,
    files: Vec<FileItem>,
}

#[derive(Template)]
#[template(path = "customer_ticket.html")]
struct CustomerPage {
    token: String,
    number: i64,
    subject: String,
    status_key: &'static str,
    status_label: &'static str,
    opened: Stamp,
    follow_up: bool,
    closed: bool,
    messages: Vec<MessageItem>,
    body: Field,
    attachments: Field,
    problems: Vec<Problem>,
    notice: Option<String>,
    limits: Limits,
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::New => "Received",
        Status::Open => "Open",
        Status::Pending => "Waiting for your reply",
        Status::OnHold => "On hold",
        Status::Solved => "Solved",
        Status::Closed => "Closed",
    }
}

impl CustomerPage {
    fn new(
        settings: &Settings,
        token: String,
        view: CustomerTicket,
        draft: ReplyDraft,
    ) -> CustomerPage {
        let messages = Messages::new(&draft.errors, REPLY_CONTROLS);
        let ticket = view.ticket;
        CustomerPage {
            token,
            number: ticket.number,
            subject: ticket.subject,
            status_key: ticket.status.as_str(),
            status_label: status_label(ticket.status),
            opened: ticket.created_at.into(),
            follow_up: ticket.follow_up_of.is_some(),
            closed: ticket.status.is_final(),
            messages: view
                .messages
                .into_iter()
                .map(|m| {
                    let mine = m.author_kind == AuthorKind::Customer;
                    MessageItem {
                        author: if mine { "You" } else { "Support" },
                        mine,
                        at: m.created_at.into(),
                        body: m.body,
                        files: m
                            .attachments
                            .into_iter()
                            .map(|a| FileItem {
                                id: a.id,
                                size: human_size(usize::try_from(a.size).unwrap_or(0)),
                                name: a.filename,
                            })
                            .collect(),
                    }
                })
                .collect(),
            body: messages.field("body", &draft.body),
            attachments: messages.field("attachments", ""),
            notice: messages.files_notice(draft.had_files),
            problems: messages.problems,
            limits: limits(settings),
        }
    }
}
