//! The bridge's one text form of time, and reading Statuspage's forms.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Parses the ISO 8601 forms Statuspage uses (`2013-05-29T15:08:51-06:00`,
/// `2021-10-06T14:05:09.873Z`), plus a zone-less form read as UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

/// A time a person typed (filters, `prune --before`, `silence add
/// --until`): any `parse_time` form, `2025-03-04T10:15` (with `Z` or an
/// offset, or neither: UTC), or a date (its midnight, UTC).
pub fn parse_moment(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    parse_time(s)
        .or_else(|| {
            NaiveDateTime::parse_from_str(s.strip_suffix('Z').unwrap_or(s), "%Y-%m-%dT%H:%M")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z")
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// The one text form of a time everywhere in the database: UTC, milliseconds,
/// `Z` suffix — so text order is time order.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_normalised_to_utc() {
        let t = parse_time("2013-05-29T15:08:51-06:00").unwrap();
        assert_eq!(format_time(t), "2013-05-29T21:08:51.000Z");
        let t = parse_time("2021-10-06T14:05:09.873Z").unwrap();
        assert_eq!(format_time(t), "2021-10-06T14:05:09.873Z");
        let t = parse_time("2021-10-06 14:05:09").unwrap();
        assert_eq!(format_time(t), "2021-10-06T14:05:09.000Z");
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn typed_moments_read_as_utc() {
        for (typed, stored) in [
            ("2025-03-04", "2025-03-04T00:00:00.000Z"),
            ("2025-03-04T10:15", "2025-03-04T10:15:00.000Z"),
            ("2025-03-04T10:15:00+02:00", "2025-03-04T08:15:00.000Z"),
            ("2026-12-01T18:00Z", "2026-12-01T18:00:00.000Z"),
            ("2026-12-01T18:00+01:00", "2026-12-01T17:00:00.000Z"),
        ] {
            assert_eq!(
                parse_moment(typed).map(format_time).as_deref(),
                Some(stored)
            );
        }
        assert_eq!(parse_moment("last week"), None);
    }
}
