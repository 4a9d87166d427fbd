//! The version of the routing configuration: rules, and the calendars and
//! queues they read. Every change bumps it in its transaction, so a Relay
//! process that compiled the rules notices a change (its own or another
//! process's) with one cheap read.

use crate::db::schema::routing_rule_set;
use crate::db::{DbConnection, WriteConn};
use crate::error::AppResult;
use diesel::prelude::*;

pub fn bump(conn: &mut WriteConn<'_>) -> AppResult<()> {
    let at = conn.now();
    diesel::update(routing_rule_set::table.find(1))
        .set((
            routing_rule_set::version.eq(routing_rule_set::version + 1),
            routing_rule_set::changed_at.eq(at),
        ))
        .execute(&mut **conn)?;
    Ok(())
}

pub fn current(conn: &mut DbConnection) -> AppResult<i64> {
    Ok(routing_rule_set::table
        .find(1)
        .select(routing_rule_set::version)
        .first(conn)?)
}
