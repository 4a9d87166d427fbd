//! Field validation shared by every intake path.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The longest subject a ticket may have, in characters.
pub const MAX_SUBJECT: usize = 250;
/// The longest message body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Custom fields travel with every copy of a ticket (answers, lists, event
/// data), so their total size is bounded wherever they are set.
pub const MAX_CUSTOM_FIELDS_JSON: usize = 16 * 1024;
/// RFC 5646 recommends room for tags of at least 35 characters.
pub const MAX_LANGUAGE_TAG: usize = 35;

/// One problem with one input field, as shown to API clients and on forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors so a client learns about all of them at once.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded, else every recorded error.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    /// Trimmed text that must be present and at most `max` characters long.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, "must not be empty");
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        value.to_string()
    }

    /// Optional text: absent or blank becomes `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        Some(value.to_string())
    }

    /// A normalised (lower-cased) email address, or an error.
    pub fn email(&mut self, field: &str, value: &str) -> String {
        let value = value.trim();
        match normalize_email(value) {
            Some(email) => email,
            None => {
                self.add(
                    field,
                    "must be a valid email address such as name@example.com",
                );
                value.to_string()
            }
        }
    }

    /// Custom fields as they will be stored (JSON), recording an error when
    /// they are over [`MAX_CUSTOM_FIELDS_JSON`].
    pub fn custom_fields(&mut self, field: &str, fields: &Map<String, Value>) -> String {
        let encoded = serde_json::to_string(fields).expect("JSON values serialise");
        if encoded.len() > MAX_CUSTOM_FIELDS_JSON {
            self.add(
                field,
                format!("must be at most {MAX_CUSTOM_FIELDS_JSON} bytes as JSON"),
            );
        }
        encoded
    }

    /// An optional language tag such as `en` or `es-CO` (well-formed BCP 47):
    /// absent or blank becomes `None`.
    pub fn language(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let tag = value.map(str::trim).filter(|v| !v.is_empty())?;
        if tag.len() > MAX_LANGUAGE_TAG || language_tags::LanguageTag::parse(tag).is_err() {
            self.add(
                field,
                format!(
                    "must be a language tag such as en or es-CO (at most {MAX_LANGUAGE_TAG} characters)"
                ),
            );
        }
        Some(tag.to_string())
    }

    /// Parse a value with `FromStr`, recording its message on failure.
    pub fn parse<T: std::str::FromStr<Err = String>>(
        &mut self,
        field: &str,
        value: &str,
    ) -> Option<T> {
        match value.parse() {
            Ok(v) => Some(v),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }
}

/// Addresses are compared case-insensitively; we store them lower-cased.
/// This is deliberately the pragmatic subset of RFC 5321 that mail systems
/// accept in practice: one `@`, a non-empty local part without spaces, and a
/// domain with a dot and no empty labels. Invisible characters (bidi
/// controls, zero-width ones) are refused: they make an address look like
/// another one to the agent reading it.
pub fn normalize_email(value: &str) -> Option<String> {
    let value = value.trim();
    if value.len() > 254
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c))
    {
        return None;
    }
    let (local, domain) = value.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(['<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']']);
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    (local_ok && domain_ok).then(|| value.to_lowercase())
}

/// Unicode format characters (general category Cf) that change how text
/// is shown without being seen: bidi embeddings, overrides and isolates,
/// zero-width spaces and joiners, the byte-order mark, tag characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Tags are short lower-case words; we normalise instead of refusing case.
pub fn normalize_tags(errors: &mut Errors, field: &str, tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty()
            || tag.len() > 64
            || !tag
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:.".contains(c))
        {
            errors.add(
                field,
                format!(
                    "'{tag}' is not a valid tag (letters, digits and - _ : . up to 64 characters)"
                ),
            );
        } else if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > 50 {
        errors.add(field, "at most 50 tags");
    }
    out
}

/// For `#[serde(default, deserialize_with = "present")]` on an
/// `Option<Option<T>>`: tells an absent field (leave as is) from `null`
/// (clear it).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_them() {
        assert_eq!(
            normalize_email(" Ana.Cruz+vip@Example.COM ").as_deref(),
            Some("ana.cruz+vip@example.com")
        );
        assert_eq!(
            normalize_email("josé@correo.co").as_deref(),
            Some("josé@correo.co")
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "plain",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "@x.com",
            "a@.com",
            "a@x..com",
            "<a@x.com>",
            "a@-x.com",
            // Bidi override: shows as "moc.elpmaxe@ana" reversed.
            "ana@\u{202E}example.com",
            "an\u{200B}a@example.com",
            "ana@exa\u{200D}mple.com",
            "\u{2066}ana@example.com\u{2069}",
            "ana@example.com\u{FEFF}",
        ] {
            assert!(normalize_email(bad).is_none(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn language_tags_must_be_well_formed() {
        let mut errors = Errors::default();
        for good in ["en", "es-CO", "pt-BR", "zh-Hant-TW", "sr-Latn", "x-klingon"] {
            assert_eq!(
                errors.language("language", Some(good)).as_deref(),
                Some(good)
            );
        }
        assert!(errors.is_empty(), "{:?}", errors.0);
        assert_eq!(errors.language("language", Some("  ")), None);
        let too_long = format!("en-{}", ["abcdefgh"; 4].join("-"));
        for bad in [
            "<script>",
            "en_US",
            "e",
            "en--US",
            "toolongprimary",
            "en-",
            &too_long,
        ] {
            let mut errors = Errors::default();
            errors.language("language", Some(bad));
            assert_eq!(errors.0.len(), 1, "{bad:?} should be refused");
        }
    }

    #[test]
    fn custom_fields_are_bounded_as_stored_json() {
        let mut errors = Errors::default();
        let mut fields = Map::new();
        fields.insert("order".into(), Value::String("A-1".into()));
        assert_eq!(
            errors.custom_fields("custom_fields", &fields),
            r#"{"order":"A-1"}"#
        );
        assert!(errors.is_empty());
        let room = MAX_CUSTOM_FIELDS_JSON - r#"{"order":""}"#.len();
        fields.insert("order".into(), Value::String("x".repeat(room)));
        errors.custom_fields("custom_fields", &fields);
        assert!(errors.is_empty(), "exactly the limit is allowed");
        fields.insert("order".into(), Value::String("x".repeat(room + 1)));
        errors.custom_fields("custom_fields", &fields);
        assert_eq!(errors.0[0].field, "custom_fields");
    }

    #[test]
    fn tags_are_normalised_deduplicated_and_checked() {
        let mut errors = Errors::default();
        let tags = normalize_tags(
            &mut errors,
            "tags",
            &["VIP".into(), "vip".into(), "billing".into()],
        );
        assert_eq!(tags, vec!["vip", "billing"]);
        assert!(errors.is_empty());
        normalize_tags(&mut errors, "tags", &["has space".into()]);
        assert_eq!(errors.0.len(), 1);
    }
}
