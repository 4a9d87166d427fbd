//! Secrets generated once per installation and shared by every Relay
//! process through the database (no configuration to keep in sync).

use crate::db::models::AppSecret;
use crate::db::schema::app_secrets;
use crate::db::WriteConn;
use crate::error::AppResult;
use diesel::prelude::*;

/// The secret named `name`, created on first use. Concurrent first uses
/// agree: the first insert wins and everyone reads it back.
pub fn get_or_create(conn: &mut WriteConn<'_>, name: &str) -> AppResult<String> {
    let existing: Option<String> = app_secrets::table
        .find(name)
        .select(app_secrets::value)
        .first(&mut **conn)
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let fresh = AppSecret {
        name: name.to_string(),
        value: crate::auth::generate_secret(),
        created_at: conn.now(),
    };
    crate::insert_ignoring_conflicts!(conn, app_secrets::table, &fresh)?;
    Ok(app_secrets::table
        .find(name)
        .select(app_secrets::value)
        .first(&mut **conn)?)
}

/// Secrets never change once created, so a process reads each one once per
/// database instead of on every message. Keyed by the database URL as well,
/// because one process (a test run) may serve several databases.
pub fn cached(conn: &mut WriteConn<'_>, database_url: &str, name: &str) -> AppResult<String> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static CACHE: LazyLock<Mutex<HashMap<(String, String), String>>> =
        LazyLock::new(Default::default);
    let key = (database_url.to_string(), name.to_string());
    if let Some(value) = CACHE.lock().expect("secret cache").get(&key) {
        return Ok(value.clone());
    }
    let value = get_or_create(conn, name)?;
    CACHE
        .lock()
        .expect("secret cache")
        .insert(key, value.clone());
    Ok(value)
}
