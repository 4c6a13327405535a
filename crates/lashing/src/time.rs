//! RFC 3339 timestamps in UTC: with nanoseconds as runc writes a container's `created`, with
//! whole seconds as logrus prints a log line's `time`.

use std::time::{SystemTime, UNIX_EPOCH};

/// `secs` since the epoch as `YYYY-MM-DDThh:mm:ssZ`.
///
/// ```
/// assert_eq!(lashing::time::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
/// ```
pub fn rfc3339(secs: i64) -> String {
    let (date, rem) = date_and_rest(secs);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `secs` and `nanos` since the epoch as `YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ`.
///
/// ```
/// assert_eq!(lashing::time::rfc3339_nanos(0, 5), "1970-01-01T00:00:00.000000005Z");
/// ```
pub fn rfc3339_nanos(secs: i64, nanos: u32) -> String {
    let (date, rem) = date_and_rest(secs);
    format!(
        "{date}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time as [`rfc3339`] (whole seconds).
pub fn now_rfc3339() -> String {
    let (secs, _) = now();
    rfc3339(secs)
}

/// The current time as [`rfc3339_nanos`].
pub fn now_rfc3339_nanos() -> String {
    let (secs, nanos) = now();
    rfc3339_nanos(secs, nanos)
}

fn now() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// `YYYY-MM-DD` of the day of `secs`, and the seconds into that day.
fn date_and_rest(secs: i64) -> (String, i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    (format!("{y:04}-{m:02}-{d:02}"), secs.rem_euclid(86_400))
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01; Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_524_000), "2026-12-29T06:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_nanos(1_798_524_000, 123_456_789),
            "2026-12-29T06:00:00.123456789Z"
        );
    }

    proptest::proptest! {
        /// Every second from year 0 to 9999 formats as a valid date whose fields round-trip.
        #[test]
        fn fields_round_trip(secs in -62_167_219_200i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let s = rfc3339_nanos(secs, nanos);
            proptest::prop_assert_eq!(s.len(), 30, "{}", s);
            proptest::prop_assert!(s.starts_with(&rfc3339(secs)[..19]));
            let day = secs.div_euclid(86_400);
            let (y, m, d) = civil_from_days(day);
            proptest::prop_assert!((1..=12).contains(&m) && (1..=31).contains(&d));
            // The next day is the next date.
            let (y2, m2, d2) = civil_from_days(day + 1);
            proptest::prop_assert!((y2, m2, d2) > (y, m, d));
        }
    }
}
