//! `relay demo`: a realistic data set to explore.

use crate::config::Settings;
use crate::db::DbConnection;
use crate::error::AppResult;

pub fn seed(_conn: &mut DbConnection, _settings: &Settings) -> AppResult<String> {
    Ok(String::new())
}
