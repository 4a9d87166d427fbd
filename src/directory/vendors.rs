//! Vendors: the outsourcing providers (or the in-house team).

use super::{check_vendor_visible, require_fields};
use crate::auth::Principal;
use crate::db::models::Vendor;
use crate::db::schema::{agents, queues, vendors};
use crate::db::{is_unique_violation, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::validate::Errors;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorInput {
    pub name: Option<String>,
    /// IANA time zone, e.g. `Asia/Manila`.
    pub timezone: Option<String>,
    /// Share of tickets the contract promises within SLA, 0..1.
    pub contracted_attainment: Option<f64>,
    /// Price per handled ticket in minor units (cents).
    pub price_per_ticket_cents: Option<i64>,
    /// ISO 4217 code such as `USD`.
    pub currency: Option<String>,
    pub mask_customer_pii: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub contracted_attainment: Option<f64>,
    pub price_per_ticket_cents: Option<i64>,
    pub currency: Option<String>,
    pub mask_customer_pii: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Vendor> for VendorView {
    fn from(v: Vendor) -> Self {
        VendorView {
            id: v.id,
            name: v.name,
            timezone: v.timezone,
            contracted_attainment: v.contracted_attainment,
            price_per_ticket_cents: v.price_per_ticket_cents,
            currency: v.currency,
            mask_customer_pii: v.mask_customer_pii,
            created_at: v.created_at.and_utc(),
            updated_at: v.updated_at.and_utc(),
        }
    }
}

/// Applies the given fields onto `vendor`, collecting every problem.
fn apply(vendor: &mut Vendor, input: &VendorInput) -> AppResult<()> {
    let mut errors = Errors::default();
    if let Some(name) = &input.name {
        vendor.name = errors.required_text("name", name, 200);
    }
    if let Some(tz) = &input.timezone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            errors.add(
                "timezone",
                format!("'{tz}' is not an IANA time zone such as Asia/Manila"),
            );
        }
        vendor.timezone = tz.clone();
    }
    if let Some(a) = input.contracted_attainment {
        if !(0.0..=1.0).contains(&a) {
            errors.add(
                "contracted_attainment",
                "must be between 0 and 1 (e.g. 0.95)",
            );
        }
        vendor.contracted_attainment = Some(a);
    }
    if let Some(price) = input.price_per_ticket_cents {
        if price < 0 {
            errors.add("price_per_ticket_cents", "must not be negative");
        }
        vendor.price_per_ticket_cents = Some(price);
    }
    if let Some(currency) = &input.currency {
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            errors.add("currency", "must be an ISO 4217 code such as USD");
        }
        vendor.currency = Some(currency.clone());
    }
    if let Some(mask) = input.mask_customer_pii {
        vendor.mask_customer_pii = mask;
    }
    if vendor.price_per_ticket_cents.is_some() && vendor.currency.is_none() {
        errors.add("currency", "is required with a price");
    }
    errors.finish().map_err(AppError::from)
}

fn duplicate_name(err: diesel::result::Error) -> AppError {
    if is_unique_violation(&err) {
        AppError::invalid("name", "another vendor has this name")
    } else {
        err.into()
    }
}

pub fn create(
    conn: &mut WriteConn<'_>,
    caller: &Principal,
    input: &VendorInput,
) -> AppResult<VendorView> {
    caller.require(Role::is_manager_or_above)?;
    require_fields(&[
        ("name", input.name.is_some()),
        ("timezone", input.timezone.is_some()),
    ])?;
    let at = conn.now();
    let mut vendor = Vendor {
        id: conn.new_id(),
        name: String::new(),
        timezone: String::new(),
        contracted_attainment: None,
        price_per_ticket_cents: None,
        currency: None,
        mask_customer_pii: false,
        created_at: at,
        updated_at: at,
    };
    apply(&mut vendor, input)?;
    diesel::insert_into(vendors::table)
        .values(&vendor)
        .execute(&mut **conn)
        .map_err(duplicate_name)?;
    Ok(vendor.into())
}

fn load(conn: &mut DbConnection, id: &str) -> AppResult<Vendor> {
    vendors::table
        .find(id)
        .select(Vendor::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("vendor"))
}

pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> AppResult<VendorView> {
    caller.require(Role::works_tickets)?;
    check_vendor_visible(caller, Some(id), "vendor")?;
    load(conn, id).map(Into::into)
}

pub fn list(conn: &mut DbConnection, caller: &Principal) -> AppResult<Vec<VendorView>> {
    caller.require(Role::works_tickets)?;
    let mut query = vendors::table
        .order(vendors::name.asc())
        .select(Vendor::as_select())
        .into_boxed();
    if let Some(own) = caller.vendor_scope() {
        query = query.filter(vendors::id.eq(own.to_string()));
    }
    Ok(query.load(conn)?.into_iter().map(Into::into).collect())
}

pub fn update(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    input: &VendorInput,
) -> AppResult<VendorView> {
    caller.require(Role::is_manager_or_above)?;
    write_tx(conn, |conn| {
        let mut vendor = load(conn, id)?;
        apply(&mut vendor, input)?;
        vendor.updated_at = conn.now();
        diesel::update(vendors::table.find(id))
            .set(&vendor)
            .execute(&mut **conn)
            .map_err(duplicate_name)?;
        Ok(vendor.into())
    })
}

/// Deletes a vendor that has no queues and no agents left.
pub fn delete(conn: &mut Conn, caller: &Principal, id: &str) -> AppResult<()> {
    caller.require(Role::is_manager_or_above)?;
    write_tx(conn, |conn| {
        load(conn, id)?;
        let queue_count: i64 = queues::table
            .filter(queues::vendor_id.eq(id))
            .count()
            .get_result(&mut **conn)?;
        let agent_count: i64 = agents::table
            .filter(agents::vendor_id.eq(id))
            .count()
            .get_result(&mut **conn)?;
        if queue_count + agent_count > 0 {
            return Err(AppError::Conflict(format!(
                "the vendor still has {queue_count} queue(s) and {agent_count} agent(s); move or delete them first"
            )));
        }
        diesel::delete(vendors::table.find(id)).execute(&mut **conn)?;
        Ok(())
    })
}
