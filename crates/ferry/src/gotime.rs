//! Go's `time.Time` as Helm prints it: release records hold RFC 3339 timestamps, and
//! `helm history`/`status` print them with `time.ANSIC`, `helm list` with `Time.String()`.

/// A timestamp as written in a release record (`2026-11-24T02:17:32.123456789+01:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// Offset from UTC in seconds; `None` for `Z`.
    offset: Option<i32>,
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl GoTime {
    /// Parses RFC 3339 with optional fractional seconds, as Go's JSON decoding of time.Time.
    pub fn parse(s: &str) -> Option<GoTime> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let t = s.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())
                .flatten()
        };
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
            return None;
        }
        let mut t = GoTime {
            year: i64::from(num(0..4)?),
            month: num(5..7)?,
            day: num(8..10)?,
            hour: num(11..13)?,
            minute: num(14..16)?,
            second: num(17..19)?,
            nanos: 0,
            offset: None,
        };
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let frac = &s[start..i];
            if frac.is_empty() || frac.len() > 9 {
                return None;
            }
            t.nanos = format!("{frac:0<9}").parse().ok()?;
        }
        match &s[i..] {
            "Z" => {}
            z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
                let h = num(i + 1..i + 3)? as i32;
                let m = num(i + 4..i + 6)? as i32;
                let sign = if z.starts_with('-') { -1 } else { 1 };
                t.offset = Some(sign * (h * 3600 + m * 60));
            }
            _ => return None,
        }
        if !(1..=12).contains(&t.month) || !(1..=31).contains(&t.day) {
            return None;
        }
        Some(t)
    }

    /// The time now, in UTC, as Helm writes it (`time.Now()` marshalled; nanoseconds).
    pub fn now_utc() -> GoTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = d.as_secs() as i64;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        GoTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            nanos: d.subsec_nanos(),
            offset: None,
        }
    }

    /// RFC 3339 with nanoseconds, trailing zeros trimmed (Go's `time.RFC3339Nano`).
    pub fn rfc3339_nano(&self) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.nanos != 0 {
            let f = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(f.trim_end_matches('0'));
        }
        s.push_str(&self.zone_suffix(true));
        s
    }

    fn zone_suffix(&self, rfc: bool) -> String {
        match self.offset {
            None if rfc => "Z".into(),
            None => "+0000".into(),
            Some(o) => {
                let sign = if o < 0 { '-' } else { '+' };
                let o = o.abs();
                if rfc {
                    format!("{sign}{:02}:{:02}", o / 3600, o % 3600 / 60)
                } else {
                    format!("{sign}{:02}{:02}", o / 3600, o % 3600 / 60)
                }
            }
        }
    }

    fn weekday(&self) -> &'static str {
        let days = days_from_civil(self.year, self.month, self.day);
        DAYS[(days + 4).rem_euclid(7) as usize] // 1970-01-01 was a Thursday
    }

    /// `time.ANSIC`: `Mon Jan _2 15:04:05 2006`.
    pub fn ansic(&self) -> String {
        format!(
            "{} {} {:>2} {:02}:{:02}:{:02} {}",
            self.weekday(),
            MONTHS[self.month as usize - 1],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }

    /// `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST` (a parsed `Z` time is in
    /// UTC; a parsed numeric offset has no zone name, so Go repeats the offset).
    pub fn go_string(&self) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.nanos != 0 {
            let f = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(f.trim_end_matches('0'));
        }
        let off = self.zone_suffix(false);
        match self.offset {
            None => s.push_str(" +0000 UTC"),
            Some(_) => {
                s.push(' ');
                s.push_str(&off);
                s.push(' ');
                s.push_str(&off);
            }
        }
        s
    }

    /// Whether this is Go's zero time (`0001-01-01T00:00:00Z`), which Helm treats as unset.
    pub fn is_zero(&self) -> bool {
        self.year == 1
            && self.month == 1
            && self.day == 1
            && self.hour == 0
            && self.minute == 0
            && self.second == 0
            && self.nanos == 0
            && self.offset.unwrap_or(0) == 0
    }
}

// Howard Hinnant's days-from-civil algorithms.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
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
    fn formats_as_go() {
        // Go: time.Parse(time.RFC3339Nano, ...).Format(time.ANSIC) / .String()
        let t = GoTime::parse("2016-10-03T10:15:13.5Z").unwrap();
        assert_eq!(t.ansic(), "Mon Oct  3 10:15:13 2016");
        assert_eq!(t.go_string(), "2016-10-03 10:15:13.5 +0000 UTC");
        assert_eq!(t.rfc3339_nano(), "2016-10-03T10:15:13.5Z");
        let t = GoTime::parse("2026-11-24T02:17:32.123456789+01:00").unwrap();
        assert_eq!(t.ansic(), "Tue Nov 24 02:17:32 2026");
        assert_eq!(t.go_string(), "2026-11-24 02:17:32.123456789 +0100 +0100");
        assert_eq!(t.rfc3339_nano(), "2026-11-24T02:17:32.123456789+01:00");
        assert!(GoTime::parse("0001-01-01T00:00:00Z").unwrap().is_zero());
        assert!(GoTime::parse("2026-13-01T00:00:00Z").is_none());
        assert!(GoTime::parse("yesterday").is_none());
    }

    #[test]
    fn now_round_trips() {
        let now = GoTime::now_utc();
        assert_eq!(GoTime::parse(&now.rfc3339_nano()), Some(now));
        for days in [-719_468i64, 0, 11_016, 20_000, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
