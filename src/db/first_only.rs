//! A query's first row with `LIMIT 1` written into the statement's text.
//!
//! diesel binds a limit as a parameter (`.first()`, `.limit(1)`). For a
//! prepared statement with a bound limit PostgreSQL compares each custom
//! plan (which knows the limit is 1) with the generic one (which must
//! assume a tenth of the rows): for an ordered index range such as the
//! claim's, the custom plan always looks far cheaper, so the statement is
//! planned again on every execution (seen in the claim's statement log as
//! a fifth of a millisecond in every bind). With the 1 in the text both
//! plans are the same and the generic one is kept.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};
use std::marker::PhantomData;

/// What follows the query: its limit, and the row lock where one is taken.
pub trait Tail: 'static {
    const SQL: &'static str;
}

/// The first row.
pub struct Only;

impl Tail for Only {
    const SQL: &'static str = " LIMIT 1";
}

/// The first row that no other transaction holds, locked until this one
/// ends (PostgreSQL).
pub struct OnlyUnlocked;

impl Tail for OnlyUnlocked {
    const SQL: &'static str = " LIMIT 1 FOR UPDATE SKIP LOCKED";
}

/// `query` followed by `T`'s SQL; `query` must have no limit or lock of
/// its own.
pub struct FirstOnly<Q, T> {
    query: Q,
    tail: PhantomData<T>,
}

pub fn first_only<Q, T: Tail>(query: Q) -> FirstOnly<Q, T> {
    FirstOnly {
        query,
        tail: PhantomData,
    }
}

impl<Q: Query, T> Query for FirstOnly<Q, T> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryId, T: Tail> QueryId for FirstOnly<Q, T> {
    type QueryId = FirstOnly<Q::QueryId, T>;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q, T, DB> QueryFragment<DB> for FirstOnly<Q, T>
where
    Q: QueryFragment<DB>,
    T: Tail,
    DB: Backend,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(T::SQL);
        Ok(())
    }
}

impl<Q, T, Conn> RunQueryDsl<Conn> for FirstOnly<Q, T> {}
