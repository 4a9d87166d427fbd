//! A report's period and time zone: `from`/`to` as instants or local
//! dates, `tz` an IANA zone, and the zone's offset pieces over the period
//! (see [`crate::domain::local_time`]).

use crate::domain::calendar::parse_zone;
use crate::domain::local_time::{offset_pieces, start_of_day, OffsetPiece};
use crate::domain::validate::Errors;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

/// The default period: the 30 days up to now.
const DEFAULT_DAYS: i64 = 30;
/// The longest period a report covers (about three years of days).
pub const MAX_DAYS: i64 = 1_100;

#[derive(Debug, Clone)]
pub struct Period {
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
    pub zone: Tz,
    pub pieces: Vec<OffsetPiece>,
}

impl Period {
    /// Reads `from`, `to` and `tz`, recording every problem in `errors`.
    /// An instant is RFC 3339 (`2026-03-01T00:00:00Z`); a date
    /// (`2026-03-01`) is that local day in `tz`: from its start, or to the
    /// end of it (a `to` date is included). Without `to` the period ends
    /// now; without `from` it starts 30 days before its end; `tz` is UTC
    /// unless named.
    pub fn parse(
        errors: &mut Errors,
        from: Option<&str>,
        to: Option<&str>,
        tz: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<Period> {
        let zone = match tz {
            None => Some(Tz::UTC),
            Some(name) => {
                let zone = parse_zone(name);
                if zone.is_none() {
                    errors.add("tz", "must be an IANA time zone such as Europe/London");
                }
                zone
            }
        }?;
        let to = match to {
            None => Some(now),
            Some(text) => bound(errors, "to", text, zone, Edge::End),
        };
        let from = match from {
            None => to.map(|to| to - Duration::days(DEFAULT_DAYS)),
            Some(text) => bound(errors, "from", text, zone, Edge::Start),
        };
        let (from, to) = (from?, to?);
        if from >= to {
            errors.add("from", "must be before to");
            return None;
        }
        if to - from > Duration::days(MAX_DAYS) {
            errors.add("to", format!("the period may be at most {MAX_DAYS} days"));
            return None;
        }
        Some(Period {
            from,
            to,
            zone,
            pieces: offset_pieces(zone, from, to),
        })
    }
}

#[derive(Clone, Copy)]
enum Edge {
    Start,
    End,
}

fn bound(
    errors: &mut Errors,
    field: &str,
    text: &str,
    zone: Tz,
    edge: Edge,
) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    match (NaiveDate::parse_from_str(text, "%Y-%m-%d"), edge) {
        (Ok(date), Edge::Start) => Some(start_of_day(zone, date)),
        (Ok(date), Edge::End) => date.succ_opt().map(|next| start_of_day(zone, next)),
        (Err(_), _) => {
            errors.add(field, "must be an RFC 3339 instant or a date (YYYY-MM-DD)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-04T12:00:00Z".parse().unwrap()
    }

    fn parse(from: Option<&str>, to: Option<&str>, tz: Option<&str>) -> Result<Period, Errors> {
        let mut errors = Errors::default();
        match Period::parse(&mut errors, from, to, tz, now()) {
            Some(period) if errors.is_empty() => Ok(period),
            _ => Err(errors),
        }
    }

    #[test]
    fn dates_are_local_days_and_a_to_date_is_included() {
        let period = parse(
            Some("2026-10-01"),
            Some("2026-10-31"),
            Some("Europe/London"),
        )
        .unwrap();
        assert_eq!(
            period.from,
            "2026-09-30T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            period.to,
            "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(period.pieces.len(), 2, "summer time ends inside October");
    }

    #[test]
    fn without_bounds_it_is_the_last_30_days_in_utc() {
        let period = parse(None, None, None).unwrap();
        assert_eq!(period.to, now());
        assert_eq!(period.from, now() - Duration::days(30));
        assert_eq!(period.zone, Tz::UTC);
    }

    #[test]
    fn bad_bounds_and_zones_name_their_field() {
        let fields = |errors: Errors| errors.0.into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert_eq!(
            fields(parse(Some("yesterday"), None, None).unwrap_err()),
            ["from"]
        );
        assert_eq!(
            fields(parse(None, None, Some("Mars/Olympus")).unwrap_err()),
            ["tz"]
        );
        assert_eq!(
            fields(parse(Some("2026-12-05"), Some("2026-12-01"), None).unwrap_err()),
            ["from"]
        );
        assert_eq!(
            fields(parse(Some("2020-01-01"), Some("2026-01-01"), None).unwrap_err()),
            ["to"]
        );
    }
}
