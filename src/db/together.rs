//! Two writes in one statement on PostgreSQL.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `WITH first AS (A) B`: PostgreSQL runs a data-modifying `WITH` whether
/// or not the statement reads it, so both writes happen, in one round
/// trip, and the statement stays prepared when both parts do. The two see
/// one snapshot: neither may depend on what the other writes (a foreign
/// key from one to the other would fail). The count executed is `B`'s.
pub struct Together<A, B>(pub A, pub B);

impl<A, B> QueryFragment<Pg> for Together<A, B>
where
    A: QueryFragment<Pg>,
    B: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH first AS (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.1.walk_ast(out.reborrow())
    }
}

impl<A: QueryId, B: QueryId> QueryId for Together<A, B> {
    type QueryId = Together<A::QueryId, B::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = A::HAS_STATIC_QUERY_ID && B::HAS_STATIC_QUERY_ID;
}

impl<A, B, Conn> RunQueryDsl<Conn> for Together<A, B> {}
