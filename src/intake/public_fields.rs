//! Which ticket fields the public channel may set. Anonymous callers are
//! untrusted: by default they send a subject, a body and who they are, and
//! staff decide the rest (priority, tags, custom fields). A manager may open
//! some of these to the public. The setting lives in the database so every
//! Relay process agrees on it at once.

use crate::auth::Principal;
use crate::db::models::AppSetting;
use crate::db::schema::app_settings;
use crate::db::{write_tx, Conn, DbConnection};
use crate::domain::validate::Errors;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `app_settings` row that holds this setting.
const SETTING_NAME: &str = "public_fields";
const MAX_CUSTOM_FIELD_NAMES: usize = 100;
const MAX_CUSTOM_FIELD_NAME: usize = 200;

/// `GET`/`PUT /api/v1/intake/public-fields`: what anonymous callers may set
/// on `POST /api/v1/tickets`. Absent fields are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicFields {
    /// Anonymous callers may choose the priority.
    #[serde(default)]
    pub priority: bool,
    /// Anonymous callers may send tags.
    #[serde(default)]
    pub tags: bool,
    /// The custom fields, by name, anonymous callers may set.
    #[serde(default)]
    pub custom_fields: Vec<String>,
}

/// A field of a create request that only staff may set unless it is public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestrictedField<'a> {
    Priority,
    Tags,
    Custom(&'a str),
}

impl RestrictedField<'_> {
    /// The field's name in a validation error.
    pub fn error_name(&self) -> String {
        match self {
            RestrictedField::Priority => "priority".into(),
            RestrictedField::Tags => "tags".into(),
            RestrictedField::Custom(name) => format!("custom_fields.{name}"),
        }
    }
}

impl PublicFields {
    pub fn allows(&self, field: RestrictedField<'_>) -> bool {
        match field {
            RestrictedField::Priority => self.priority,
            RestrictedField::Tags => self.tags,
            RestrictedField::Custom(name) => self.custom_fields.iter().any(|n| n == name),
        }
    }

    /// Records an error for each of `fields` that is not public.
    pub fn refuse_others<'a>(
        &self,
        errors: &mut Errors,
        fields: impl Iterator<Item = RestrictedField<'a>>,
    ) {
        for field in fields.filter(|f| !self.allows(*f)) {
            errors.add(
                &field.error_name(),
                "may not be set on the public channel; staff set it, or a manager makes it public",
            );
        }
    }

    /// Trimmed, de-duplicated names, or every problem with them.
    fn normalised(mut self) -> AppResult<Self> {
        let mut errors = Errors::default();
        let mut names: Vec<String> = Vec::new();
        for name in &self.custom_fields {
            let name = errors.required_text("custom_fields", name, MAX_CUSTOM_FIELD_NAME);
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        if names.len() > MAX_CUSTOM_FIELD_NAMES {
            errors.add(
                "custom_fields",
                format!("at most {MAX_CUSTOM_FIELD_NAMES} names"),
            );
        }
        errors.finish()?;
        self.custom_fields = names;
        Ok(self)
    }
}

/// The setting as stored; nothing is public until a manager says so.
pub fn load(conn: &mut DbConnection) -> AppResult<PublicFields> {
    let stored: Option<String> = app_settings::table
        .find(SETTING_NAME)
        .select(app_settings::value)
        .first(conn)
        .optional()?;
    match stored {
        None => Ok(PublicFields::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            AppError::failed(format!("stored setting {SETTING_NAME} is unreadable"), e)
        }),
    }
}

/// The setting, for managers and admins.
pub fn get(conn: &mut DbConnection, caller: &Principal) -> AppResult<PublicFields> {
    caller.require(Role::is_manager_or_above)?;
    load(conn)
}

/// Replaces the setting (managers and admins); answers what is now stored.
pub fn put(conn: &mut Conn, caller: &Principal, input: PublicFields) -> AppResult<PublicFields> {
    caller.require(Role::is_manager_or_above)?;
    let setting = input.normalised()?;
    let row = AppSetting {
        name: SETTING_NAME.into(),
        value: serde_json::to_string(&setting).expect("the setting serialises"),
        updated_at: conn.now(),
    };
    // Insert-or-ignore, then update: race-free on both backends without
    // an upsert clause (the multi-connection cannot express one).
    write_tx(conn, |conn| {
        crate::insert_ignoring_conflicts!(conn, app_settings::table, &row)?;
        diesel::update(app_settings::table.find(SETTING_NAME))
            .set((
                app_settings::value.eq(&row.value),
                app_settings::updated_at.eq(row.updated_at),
            ))
            .execute(&mut **conn)?;
        Ok::<_, AppError>(())
    })?;
    Ok(setting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_public_by_default() {
        let none = PublicFields::default();
        assert!(!none.allows(RestrictedField::Priority));
        assert!(!none.allows(RestrictedField::Tags));
        assert!(!none.allows(RestrictedField::Custom("order_number")));
    }

    #[test]
    fn only_named_custom_fields_are_public() {
        let some = PublicFields {
            custom_fields: vec!["order_number".into()],
            ..PublicFields::default()
        };
        let mut errors = Errors::default();
        some.refuse_others(
            &mut errors,
            [
                RestrictedField::Custom("order_number"),
                RestrictedField::Custom("secret_flag"),
                RestrictedField::Priority,
            ]
            .into_iter(),
        );
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["custom_fields.secret_flag", "priority"]);
    }

    #[test]
    fn names_are_trimmed_deduplicated_and_checked() {
        let input = PublicFields {
            custom_fields: vec![" order ".into(), "order".into()],
            ..PublicFields::default()
        };
        assert_eq!(input.normalised().unwrap().custom_fields, ["order"]);
        let blank = PublicFields {
            custom_fields: vec!["  ".into()],
            ..PublicFields::default()
        };
        assert!(matches!(blank.normalised(), Err(AppError::Validation(_))));
    }
}
