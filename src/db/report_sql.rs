//! Report statements that diesel's query builder cannot express (window
//! functions over a grouped subquery, local-time buckets), written once
//! for both backends: the few spellings that differ (placeholders, epoch
//! seconds) come from [`Statement`], every value is bound.

use super::connection::MultiBackend;
use super::DbConnection;
use crate::domain::local_time::OffsetPiece;
use chrono::NaiveDateTime;
use diesel::query_builder::BoxedSqlQuery;
use diesel::query_dsl::RunQueryDsl;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::{QueryResult, QueryableByName};

/// One value bound to a placeholder.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Instant(NaiveDateTime),
    Integer(i64),
}

/// A statement's text and its binds, in placeholder order.
#[derive(Debug)]
pub struct Statement {
    postgres: bool,
    text: String,
    binds: Vec<Bind>,
}

impl Statement {
    pub fn for_connection(conn: &DbConnection) -> Statement {
        Statement {
            postgres: matches!(conn, DbConnection::Postgresql(_)),
            text: String::new(),
            binds: Vec::new(),
        }
    }

    pub fn sql(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        if self.postgres {
            self.text.push_str(&format!("${}", self.binds.len()));
        } else {
            self.text.push('?');
        }
        self
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.bind(Bind::Text(value.to_string()))
    }

    pub fn instant(&mut self, value: NaiveDateTime) -> &mut Self {
        self.bind(Bind::Instant(value))
    }

    pub fn integer(&mut self, value: i64) -> &mut Self {
        self.bind(Bind::Integer(value))
    }

    /// `(a, b, …)` of bound texts, for `IN`; never empty (callers test).
    pub fn text_list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.sql("(");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql(", ");
            }
            self.text(value);
        }
        self.sql(")")
    }

    /// Whole seconds since the epoch of a timestamp column, as a BIGINT.
    pub fn epoch_seconds(&mut self, column: &str) -> &mut Self {
        if self.postgres {
            self.sql(&format!(
                "CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"
            ))
        } else {
            self.sql(&format!("unixepoch({column})"))
        }
    }

    /// The column's local clock in epoch seconds: UTC plus the offset of
    /// the piece the instant falls in (pieces as bound instants).
    pub fn local_epoch_seconds(&mut self, column: &str, pieces: &[OffsetPiece]) -> &mut Self {
        self.sql("(");
        self.epoch_seconds(column);
        self.sql(" + ");
        match pieces {
            [] => self.sql("0"),
            [only] => self.integer(only.offset_seconds),
            [.., last] => {
                self.sql("CASE");
                for (piece, next) in pieces.iter().zip(&pieces[1..]) {
                    self.sql(&format!(" WHEN {column} < "))
                        .instant(next.from.naive_utc())
                        .sql(" THEN ")
                        .integer(piece.offset_seconds);
                }
                self.sql(" ELSE ").integer(last.offset_seconds).sql(" END")
            }
        };
        self.sql(")")
    }

    /// Runs the statement, reading its rows by column name.
    pub fn load<Row>(&self, conn: &mut DbConnection) -> QueryResult<Vec<Row>>
    where
        Row: QueryableByName<MultiBackend> + 'static,
    {
        let mut query: BoxedSqlQuery<'_, MultiBackend, _> =
            diesel::sql_query(self.text.clone()).into_boxed();
        for bind in &self.binds {
            query = match bind {
                Bind::Text(value) => query.bind::<Text, _>(value.clone()),
                Bind::Instant(value) => query.bind::<Timestamp, _>(*value),
                Bind::Integer(value) => query.bind::<BigInt, _>(*value),
            };
        }
        query.load(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_seconds_take_the_offset_of_the_piece_the_instant_is_in() {
        let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let mut statement = Statement {
            postgres: true,
            text: String::new(),
            binds: Vec::new(),
        };
        statement.local_epoch_seconds(
            "c.settled_at",
            &[
                OffsetPiece {
                    from: at("2026-01-01T00:00:00Z"),
                    offset_seconds: 0,
                },
                OffsetPiece {
                    from: at("2026-03-29T01:00:00Z"),
                    offset_seconds: 3600,
                },
            ],
        );
        assert_eq!(
            statement.text,
            "(CAST(FLOOR(EXTRACT(EPOCH FROM c.settled_at)) AS BIGINT) + CASE WHEN c.settled_at < $1 THEN $2 ELSE $3 END)"
        );
        assert_eq!(statement.binds.len(), 3);
    }
}
