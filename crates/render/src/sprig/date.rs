//! Sprig's date functions (`date.go`): `now`, `date`, `dateInZone`, `htmlDate`,
//! `htmlDateInZone`, `dateModify`, `toDate`, `unixEpoch`, `duration`, `durationRound`, `ago`,
//! over a model of Go's `time.Time` with Go's reference-layout formatting and parsing
//! (`"2006-01-02T15:04:05Z07:00"`) and `time.ParseDuration` / `Duration.String`.
//!
//! Time zones: UTC and fixed offsets. The process's local zone (`Local`, which `date`,
//! `htmlDate` and `toDate` use) is taken as UTC, and zone names other than `UTC`/`Local`
//! fall back to UTC as Go does when it cannot load them.

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ferry_gotmpl::{FuncError, Funcs, Function, Signature, Struct, Type, TypeInfo, Value};

const TYPE_NAME: &str = "time.Time";

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A Go `time.Time`: an instant plus the zone it is shown in.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GoTime {
    /// Seconds since the Unix epoch.
    pub sec: i64,
    /// Nanoseconds within the second, `0..1e9`.
    pub nsec: i64,
    /// Zone offset east of UTC, in seconds.
    pub offset: i64,
    /// Zone abbreviation (`UTC`, `MST`); empty for an unnamed fixed offset.
    pub zone: String,
    /// Monotonic reading (seconds since process start) for times from `now`.
    pub mono: Option<f64>,
}

impl GoTime {
    fn utc(sec: i64, nsec: i64) -> GoTime {
        GoTime {
            sec,
            nsec,
            offset: 0,
            zone: "UTC".into(),
            mono: None,
        }
    }

    /// The UTC time at Unix seconds `sec`.
    pub(crate) fn utc_at(sec: i64) -> GoTime {
        GoTime::utc(sec, 0)
    }

    /// Go's zero `time.Time{}`: January 1, year 1, 00:00:00 UTC.
    fn zero() -> GoTime {
        GoTime::utc(days_from_civil(1, 1, 1) * 86400, 0)
    }

    fn now() -> GoTime {
        static START: OnceLock<Instant> = OnceLock::new();
        let start = *START.get_or_init(Instant::now);
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut t = GoTime::utc(d.as_secs() as i64, d.subsec_nanos() as i64);
        t.mono = Some(start.elapsed().as_secs_f64());
        t
    }

    fn in_utc(&self) -> GoTime {
        GoTime::utc(self.sec, self.nsec)
    }

    fn add_nanos(&self, d: i64) -> GoTime {
        let total = self.nsec as i128 + d as i128;
        let secs = total.div_euclid(NANOS_PER_SEC as i128);
        let mut t = self.clone();
        t.sec = (self.sec as i128 + secs) as i64;
        t.nsec = total.rem_euclid(NANOS_PER_SEC as i128) as i64;
        if let Some(m) = t.mono {
            t.mono = Some(m + d as f64 / 1e9);
        }
        t
    }

    /// Nanoseconds since `other` (Go's `Sub`, saturating).
    fn since(&self, other: &GoTime) -> i64 {
        let d = (self.sec as i128 - other.sec as i128) * NANOS_PER_SEC as i128
            + (self.nsec - other.nsec) as i128;
        d.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    fn local_secs(&self) -> i64 {
        self.sec + self.offset
    }

    /// `Format` with a Go reference layout.
    pub(crate) fn format(&self, layout: &str) -> String {
        let local = self.local_secs();
        let days = local.div_euclid(86400);
        let secs_of_day = local.rem_euclid(86400);
        let (year, month, day) = civil_from_days(days);
        let yday = days - days_from_civil(year, 1, 1) + 1;
        let weekday = (days + 4).rem_euclid(7) as usize;
        let (hour, min, sec) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
        let mut b = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        loop {
            let (prefix, std, suffix) = next_std_chunk(rest);
            b.push_str(prefix);
            let Some(std) = std else { break };
            rest = suffix;
            match std {
                Std::Year => pad(&mut b, year.abs() % 100, 2),
                Std::LongYear => {
                    if year < 0 {
                        b.push('-');
                    }
                    pad(&mut b, year.abs(), 4);
                }
                Std::Month => b.push_str(&MONTHS[month as usize - 1][..3]),
                Std::LongMonth => b.push_str(MONTHS[month as usize - 1]),
                Std::NumMonth => pad(&mut b, month, 0),
                Std::ZeroMonth => pad(&mut b, month, 2),
                Std::WeekDay => b.push_str(&DAYS[weekday][..3]),
                Std::LongWeekDay => b.push_str(DAYS[weekday]),
                Std::Day => pad(&mut b, day, 0),
                Std::UnderDay => {
                    if day < 10 {
                        b.push(' ');
                    }
                    pad(&mut b, day, 0);
                }
                Std::ZeroDay => pad(&mut b, day, 2),
                Std::UnderYearDay => {
                    if yday < 100 {
                        b.push(' ');
                        if yday < 10 {
                            b.push(' ');
                        }
                    }
                    pad(&mut b, yday, 0);
                }
                Std::ZeroYearDay => pad(&mut b, yday, 3),
                Std::Hour => pad(&mut b, hour, 2),
                Std::Hour12 | Std::ZeroHour12 => {
                    let hr = if hour % 12 == 0 { 12 } else { hour % 12 };
                    pad(&mut b, hr, if std == Std::Hour12 { 0 } else { 2 });
                }
                Std::Minute => pad(&mut b, min, 0),
                Std::ZeroMinute => pad(&mut b, min, 2),
                Std::Second => pad(&mut b, sec, 0),
                Std::ZeroSecond => pad(&mut b, sec, 2),
                Std::PM => b.push_str(if hour >= 12 { "PM" } else { "AM" }),
                Std::Pm => b.push_str(if hour >= 12 { "pm" } else { "am" }),
                Std::Tz(kind) => {
                    if kind.iso && self.offset == 0 {
                        b.push('Z');
                        continue;
                    }
                    let mut zone = self.offset / 60;
                    let mut abs = self.offset;
                    if zone < 0 {
                        b.push('-');
                        zone = -zone;
                        abs = -abs;
                    } else {
                        b.push('+');
                    }
                    pad(&mut b, zone / 60, 2);
                    if kind.colon {
                        b.push(':');
                    }
                    if !kind.short {
                        pad(&mut b, zone % 60, 2);
                    }
                    if kind.seconds {
                        if kind.colon {
                            b.push(':');
                        }
                        pad(&mut b, abs % 60, 2);
                    }
                }
                Std::TzName => {
                    if !self.zone.is_empty() {
                        b.push_str(&self.zone);
                        continue;
                    }
                    let mut zone = self.offset / 60;
                    if zone < 0 {
                        b.push('-');
                        zone = -zone;
                    } else {
                        b.push('+');
                    }
                    pad(&mut b, zone / 60, 2);
                    pad(&mut b, zone % 60, 2);
                }
                Std::Frac { digits, trim, sep } => {
                    let s = format!("{:09}", self.nsec);
                    let mut n = digits.min(9);
                    if trim {
                        while n > 0 && s.as_bytes()[n - 1] == b'0' {
                            n -= 1;
                        }
                        if n == 0 {
                            continue;
                        }
                    }
                    b.push(sep);
                    b.push_str(&s[..n]);
                }
            }
        }
        b
    }

    /// Go's `String()`.
    fn go_string(&self) -> String {
        let mut s = self.format("2006-01-02 15:04:05.999999999 -0700 MST");
        if let Some(m) = self.mono {
            s.push_str(&format!(" m=+{m:.9}"));
        }
        s
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn pad(b: &mut String, v: i64, width: usize) {
    b.push_str(&format!("{v:0width$}"));
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TzKind {
    iso: bool,
    colon: bool,
    short: bool,
    seconds: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TzName,
    Tz(TzKind),
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

/// Go's `nextStdChunk`: the literal text before the first layout element, the element,
/// and the rest.
fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let has = |i: usize, s: &str| layout[i..].starts_with(s);
    let tz = |iso, colon, short, seconds| {
        Std::Tz(TzKind {
            iso,
            colon,
            short,
            seconds,
        })
    };
    for i in 0..b.len() {
        let hit = |std: Std, len: usize| Some((&layout[..i], Some(std), &layout[i + len..]));
        let r = match b[i] {
            b'J' if has(i, "January") => hit(Std::LongMonth, 7),
            b'J' if has(i, "Jan") => hit(Std::Month, 3),
            b'M' if has(i, "Monday") => hit(Std::LongWeekDay, 6),
            b'M' if has(i, "Mon") => hit(Std::WeekDay, 3),
            b'M' if has(i, "MST") => hit(Std::TzName, 3),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => {
                let std = [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(b[i + 1] - b'1') as usize];
                hit(std, 2)
            }
            b'0' if has(i, "002") => hit(Std::ZeroYearDay, 3),
            b'1' if has(i, "15") => hit(Std::Hour, 2),
            b'1' => hit(Std::NumMonth, 1),
            b'2' if has(i, "2006") => hit(Std::LongYear, 4),
            b'2' => hit(Std::Day, 1),
            b'_' if has(i, "_2006") => {
                return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
            }
            b'_' if has(i, "_2") => hit(Std::UnderDay, 2),
            b'_' if has(i, "__2") => hit(Std::UnderYearDay, 3),
            b'3' => hit(Std::Hour12, 1),
            b'4' => hit(Std::Minute, 1),
            b'5' => hit(Std::Second, 1),
            b'P' if has(i, "PM") => hit(Std::PM, 2),
            b'p' if has(i, "pm") => hit(Std::Pm, 2),
            b'-' if has(i, "-070000") => hit(tz(false, false, false, true), 7),
            b'-' if has(i, "-07:00:00") => hit(tz(false, true, false, true), 9),
            b'-' if has(i, "-0700") => hit(tz(false, false, false, false), 5),
            b'-' if has(i, "-07:00") => hit(tz(false, true, false, false), 6),
            b'-' if has(i, "-07") => hit(tz(false, false, true, false), 3),
            b'Z' if has(i, "Z070000") => hit(tz(true, false, false, true), 7),
            b'Z' if has(i, "Z07:00:00") => hit(tz(true, true, false, true), 9),
            b'Z' if has(i, "Z0700") => hit(tz(true, false, false, false), 5),
            b'Z' if has(i, "Z07:00") => hit(tz(true, true, false, false), 6),
            b'Z' if has(i, "Z07") => hit(tz(true, false, true, false), 3),
            c @ (b'.' | b',') if i + 1 < b.len() && matches!(b[i + 1], b'0' | b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    hit(
                        Std::Frac {
                            digits: j - (i + 1),
                            trim: ch == b'9',
                            sep: c as char,
                        },
                        j - i,
                    )
                }
            }
            _ => None,
        };
        if let Some(r) = r {
            return r;
        }
    }
    (layout, None, "")
}

// ---- parsing ----

/// Go's `time.quote`.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if (c as u32) < 0x20 || !c.is_ascii() {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn parse_error(
    layout: &str,
    value: &str,
    layout_elem: &str,
    value_elem: &str,
    msg: &str,
) -> String {
    if msg.is_empty() {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            quote(value),
            quote(layout),
            quote(value_elem),
            quote(layout_elem)
        )
    } else {
        format!("parsing time {}{msg}", quote(value))
    }
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(|c| c.is_ascii_digit())
}

/// `getnum`: one or two digits (`fixed` demands two).
fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if !is_digit(b, 0) {
        return None;
    }
    if !is_digit(b, 1) {
        if fixed {
            return None;
        }
        return Some(((b[0] - b'0') as i64, &s[1..]));
    }
    Some((((b[0] - b'0') * 10 + (b[1] - b'0')) as i64, &s[2..]))
}

/// `getnum3`: one to three digits (`fixed` demands three).
fn getnum3(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && is_digit(b, i) {
        n = n * 10 + (b[i] - b'0') as i64;
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &s[i..]))
}

fn cutspace(s: &str) -> &str {
    s.trim_start_matches(' ')
}

/// `skip`: consumes the literal `prefix` from `value` (runs of spaces match loosely).
fn skip<'a>(mut value: &'a str, mut prefix: &str) -> Result<&'a str, &'a str> {
    while !prefix.is_empty() {
        if prefix.as_bytes()[0] == b' ' {
            if !value.is_empty() && value.as_bytes()[0] != b' ' {
                return Err(value);
            }
            prefix = cutspace(prefix);
            value = cutspace(value);
            continue;
        }
        if value.is_empty() || value.as_bytes()[0] != prefix.as_bytes()[0] {
            return Err(value);
        }
        prefix = &prefix[1..];
        value = &value[1..];
    }
    Ok(value)
}

fn lookup<'a>(tab: &[&str], val: &'a str, short: bool) -> Option<(i64, &'a str)> {
    for (i, v) in tab.iter().enumerate() {
        let v = if short { &v[..3] } else { v };
        if val.len() >= v.len() && val.as_bytes()[..v.len()].eq_ignore_ascii_case(v.as_bytes()) {
            return Some((i as i64, &val[v.len()..]));
        }
    }
    None
}

fn parse_nanoseconds(value: &str, nbytes: usize) -> Option<i64> {
    let b = value.as_bytes();
    if !matches!(b.first(), Some(b'.' | b',')) {
        return None;
    }
    let nbytes = nbytes.min(10);
    let digits = &value[1..nbytes];
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut ns: i64 = digits.parse().ok()?;
    for _ in 0..(10 - nbytes) {
        ns *= 10;
    }
    Some(ns)
}

fn parse_signed_offset(value: &str) -> usize {
    let b = value.as_bytes();
    if !matches!(b.first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = value[1..]
        .bytes()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 {
        return 0;
    }
    match value[1..1 + digits].parse::<u64>() {
        Ok(x) if x <= 23 => 1 + digits,
        _ => 0,
    }
}

fn parse_time_zone(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = value.strip_prefix("GMT") {
        return Some(3 + parse_signed_offset(rest));
    }
    if b[0] == b'+' || b[0] == b'-' {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let upper = b
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        3 => Some(3),
        4 if b[3] == b'T' || value.starts_with("WITA") => Some(4),
        5 if b[4] == b'T' => Some(5),
        _ => None,
    }
}

/// Go's `time.ParseInLocation(layout, value, Local)`, the process's local zone being UTC.
pub(crate) fn parse(layout: &str, value: &str) -> Result<GoTime, String> {
    let (alayout, avalue) = (layout, value);
    let mut layout = layout;
    let mut value = value;
    let (mut am_set, mut pm_set) = (false, false);
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut utc = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name = String::new();
    loop {
        let (prefix, std, suffix) = next_std_chunk(layout);
        let stdstr = &layout[prefix.len()..layout.len() - suffix.len()];
        value = skip(value, prefix).map_err(|v| parse_error(alayout, avalue, prefix, v, ""))?;
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(parse_error(
                    alayout,
                    avalue,
                    "",
                    value,
                    &format!(": extra text: {}", quote(value)),
                ));
            }
            break;
        };
        layout = suffix;
        let hold = value;
        let mut range_err = "";
        let ok: Option<()> = (|| {
            match std {
                Std::Year => {
                    let p = value.get(..2)?;
                    if !p.bytes().all(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    value = &value[2..];
                    year = p.parse().ok()?;
                    year += if year >= 69 { 1900 } else { 2000 };
                }
                Std::LongYear => {
                    let p = value.get(..4)?;
                    if !is_digit(value.as_bytes(), 0) || !p.bytes().all(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    value = &value[4..];
                    year = p.parse().ok()?;
                }
                Std::Month | Std::LongMonth => {
                    let (m, v) = lookup(&MONTHS, value, std == Std::Month)?;
                    month = m + 1;
                    value = v;
                }
                Std::NumMonth | Std::ZeroMonth => {
                    let (m, v) = getnum(value, std == Std::ZeroMonth)?;
                    month = m;
                    value = v;
                    if !(1..=12).contains(&month) {
                        range_err = "month";
                    }
                }
                Std::WeekDay | Std::LongWeekDay => {
                    let (_, v) = lookup(&DAYS, value, std == Std::WeekDay)?;
                    value = v;
                }
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay && value.starts_with(' ') {
                        value = &value[1..];
                    }
                    let (d, v) = getnum(value, std == Std::ZeroDay)?;
                    day = d;
                    value = v;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    for _ in 0..2 {
                        if std == Std::UnderYearDay && value.starts_with(' ') {
                            value = &value[1..];
                        }
                    }
                    let (d, v) = getnum3(value, std == Std::ZeroYearDay)?;
                    yday = d;
                    value = v;
                }
                Std::Hour => {
                    let (h, v) = getnum(value, false)?;
                    hour = h;
                    value = v;
                    if hour >= 24 {
                        range_err = "hour";
                    }
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    let (h, v) = getnum(value, std == Std::ZeroHour12)?;
                    hour = h;
                    value = v;
                    if hour > 12 {
                        range_err = "hour";
                    }
                }
                Std::Minute | Std::ZeroMinute => {
                    let (m, v) = getnum(value, std == Std::ZeroMinute)?;
                    min = m;
                    value = v;
                    if min >= 60 {
                        range_err = "minute";
                    }
                }
                Std::Second | Std::ZeroSecond => {
                    let (s, v) = getnum(value, std == Std::ZeroSecond)?;
                    sec = s;
                    value = v;
                    if sec >= 60 {
                        range_err = "second";
                        return Some(());
                    }
                    let vb = value.as_bytes();
                    if vb.len() >= 2 && matches!(vb[0], b'.' | b',') && is_digit(vb, 1) {
                        if let (_, Some(Std::Frac { .. }), _) = next_std_chunk(layout) {
                            return Some(());
                        }
                        let mut n = 2;
                        while n < vb.len() && is_digit(vb, n) {
                            n += 1;
                        }
                        nsec = parse_nanoseconds(value, n)?;
                        value = &value[n..];
                    }
                }
                Std::PM | Std::Pm => {
                    let p = value.get(..2)?;
                    value = &value[2..];
                    let (pm, am) = if std == Std::PM {
                        ("PM", "AM")
                    } else {
                        ("pm", "am")
                    };
                    if p == pm {
                        pm_set = true;
                    } else if p == am {
                        am_set = true;
                    } else {
                        return None;
                    }
                }
                Std::Tz(kind) => {
                    if kind.iso && value.starts_with('Z') {
                        value = &value[1..];
                        utc = true;
                        return Some(());
                    }
                    let vb = value.as_bytes();
                    let (sign, hh, mm, ss, rest): (u8, &str, &str, &str, &str) =
                        if kind.colon && !kind.seconds {
                            if vb.len() < 6 || vb[3] != b':' {
                                return None;
                            }
                            (vb[0], value.get(1..3)?, value.get(4..6)?, "00", &value[6..])
                        } else if kind.short {
                            if vb.len() < 3 {
                                return None;
                            }
                            (vb[0], value.get(1..3)?, "00", "00", &value[3..])
                        } else if kind.colon && kind.seconds {
                            if vb.len() < 9 || vb[3] != b':' || vb[6] != b':' {
                                return None;
                            }
                            (
                                vb[0],
                                value.get(1..3)?,
                                value.get(4..6)?,
                                value.get(7..9)?,
                                &value[9..],
                            )
                        } else if kind.seconds {
                            if vb.len() < 7 {
                                return None;
                            }
                            (
                                vb[0],
                                value.get(1..3)?,
                                value.get(3..5)?,
                                value.get(5..7)?,
                                &value[7..],
                            )
                        } else {
                            if vb.len() < 5 {
                                return None;
                            }
                            (vb[0], value.get(1..3)?, value.get(3..5)?, "00", &value[5..])
                        };
                    value = rest;
                    let hr = getnum(hh, true)?.0;
                    let mi = getnum(mm, true)?.0;
                    let se = getnum(ss, true)?.0;
                    if hr > 24 {
                        range_err = "time zone offset hour";
                    }
                    if mi > 60 {
                        range_err = "time zone offset minute";
                    }
                    if se > 60 {
                        range_err = "time zone offset second";
                    }
                    let off = (hr * 60 + mi) * 60 + se;
                    zone_offset = Some(match sign {
                        b'+' => off,
                        b'-' => -off,
                        _ => return None,
                    });
                }
                Std::TzName => {
                    if value.starts_with("UTC") {
                        utc = true;
                        value = &value[3..];
                        return Some(());
                    }
                    let n = parse_time_zone(value)?;
                    zone_name = value[..n].to_string();
                    value = &value[n..];
                }
                Std::Frac { digits, trim, .. } => {
                    if !trim {
                        let ndigit = 1 + digits;
                        if value.len() < ndigit {
                            return None;
                        }
                        nsec = parse_nanoseconds(value, ndigit)?;
                        value = &value[ndigit..];
                    } else {
                        let vb = value.as_bytes();
                        if vb.len() < 2 || !matches!(vb[0], b'.' | b',') || !is_digit(vb, 1) {
                            return Some(());
                        }
                        let mut i = 0;
                        while i + 1 < vb.len() && is_digit(vb, i + 1) {
                            i += 1;
                        }
                        nsec = parse_nanoseconds(value, 1 + i)?;
                        value = &value[1 + i..];
                    }
                }
            }
            Some(())
        })();
        if !range_err.is_empty() {
            return Err(parse_error(
                alayout,
                avalue,
                stdstr,
                value,
                &format!(": {range_err} out of range"),
            ));
        }
        if ok.is_none() {
            return Err(parse_error(alayout, avalue, stdstr, hold, ""));
        }
    }
    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let mut yd = yday;
        let mut m = 0;
        let mut d = 0;
        if is_leap(year) {
            if yd == 31 + 29 {
                m = 2;
                d = 29;
            } else if yd > 31 + 29 {
                yd -= 1;
            }
        }
        if !(1..=365).contains(&yd) {
            return Err(parse_error(
                alayout,
                avalue,
                "",
                value,
                ": day-of-year out of range",
            ));
        }
        if m == 0 {
            const BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
            m = (yd - 1) / 31 + 1;
            if BEFORE[m as usize] < yd {
                m += 1;
            }
            d = yd - BEFORE[m as usize - 1];
        }
        if month >= 0 && month != m {
            return Err(parse_error(
                alayout,
                avalue,
                "",
                value,
                ": day-of-year does not match month",
            ));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(parse_error(
                alayout,
                avalue,
                "",
                value,
                ": day-of-year does not match day",
            ));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(parse_error(
            alayout,
            avalue,
            "",
            value,
            ": day out of range",
        ));
    }
    let local = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    let mk = |offset: i64, zone: &str| GoTime {
        sec: local - offset,
        nsec,
        offset,
        zone: zone.to_string(),
        mono: None,
    };
    if utc {
        return Ok(mk(0, "UTC"));
    }
    if let Some(off) = zone_offset {
        // The local zone (UTC) is used when it has this offset.
        if off == 0 && (zone_name.is_empty() || zone_name == "UTC") {
            return Ok(mk(0, "UTC"));
        }
        return Ok(mk(off, &zone_name));
    }
    if !zone_name.is_empty() {
        let mut off = 0;
        if zone_name.len() > 3 && zone_name.starts_with("GMT") {
            off = zone_name[3..].parse::<i64>().unwrap_or(0) * 3600;
        }
        return Ok(mk(off, &zone_name));
    }
    Ok(mk(0, "UTC"))
}

// ---- durations ----

/// Go's `time.ParseDuration`, in nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let invalid = || format!("time: invalid duration {}", quote(orig));
    let mut s = s;
    let mut neg = false;
    if let Some(c) = s.bytes().next()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        let c = s.as_bytes()[0];
        if !(c == b'.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let pl = s.len();
        let mut v: u64 = 0;
        let mut i = 0;
        let sb = s.as_bytes();
        while i < sb.len() && sb[i].is_ascii_digit() {
            if v > (1u64 << 63) / 10 {
                return Err(invalid());
            }
            v = v * 10 + (sb[i] - b'0') as u64;
            if v > 1u64 << 63 {
                return Err(invalid());
            }
            i += 1;
        }
        s = &s[i..];
        let pre = pl != s.len();
        let mut post = false;
        let (mut f, mut scale) = (0u64, 1f64);
        if s.starts_with('.') {
            s = &s[1..];
            let pl = s.len();
            let sb = s.as_bytes();
            let mut i = 0;
            let mut overflow = false;
            while i < sb.len() && sb[i].is_ascii_digit() {
                if !overflow {
                    if f > (i64::MAX as u64) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + (sb[i] - b'0') as u64;
                        if y > 1u64 << 63 {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            s = &s[i..];
            post = pl != s.len();
        }
        if !pre && !post {
            return Err(invalid());
        }
        let i = s
            .bytes()
            .position(|c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let u = &s[..i];
        s = &s[i..];
        let unit: u64 = match u {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(u),
                    quote(orig)
                ));
            }
        };
        if v > (1u64 << 63) / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > 1u64 << 63 {
                return Err(invalid());
            }
        }
        d += v;
        if d > 1u64 << 63 {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > i64::MAX as u64 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's `Duration.String()`.
pub(crate) fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    fn frac(out: &mut String, v: u64, prec: u32) -> u64 {
        let mut digits = String::new();
        let mut v = v;
        let mut print = false;
        for _ in 0..prec {
            let digit = v % 10;
            print = print || digit != 0;
            if print {
                digits.insert(0, (b'0' + digit as u8) as char);
            }
            v /= 10;
        }
        if print {
            digits.insert(0, '.');
        }
        out.insert_str(0, &digits);
        v
    }
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "\u{b5}s"),
            _ => (6, "ms"),
        };
        out.push_str(unit);
        u = frac(&mut out, u, prec);
        out.insert_str(0, &u.to_string());
    } else {
        out.push('s');
        u = frac(&mut out, u, 9);
        out.insert_str(0, &(u % 60).to_string());
        u /= 60;
        if u > 0 {
            out.insert(0, 'm');
            out.insert_str(0, &(u % 60).to_string());
            u /= 60;
            if u > 0 {
                out.insert(0, 'h');
                out.insert_str(0, &u.to_string());
            }
        }
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Go's `Duration.Round(m)`: halves away from zero, saturating.
fn duration_round(d: i64, m: i64) -> i64 {
    let mut r = d % m;
    if d < 0 {
        r = -r;
        if r + r < m {
            return d + r;
        }
        if let Some(d1) = (d - m).checked_add(r)
            && d1 < d
        {
            return d1;
        }
        return i64::MIN;
    }
    if r + r < m {
        return d - r;
    }
    if let Some(d1) = (d + m).checked_sub(r)
        && d1 > d
    {
        return d1;
    }
    i64::MAX
}

// ---- template values ----

fn time_type() -> Type {
    Type::Named(TYPE_NAME.into(), Box::new(Type::Interface))
}

/// A time as a template value.
pub(crate) fn time_value(t: &GoTime) -> Value {
    Value::Struct(Arc::new(Struct::new(
        type_info(),
        vec![
            ("sec".into(), Value::Int64(t.sec)),
            ("nsec".into(), Value::Int64(t.nsec)),
            ("offset".into(), Value::Int64(t.offset)),
            ("zone".into(), Value::from(t.zone.as_str())),
            (
                "mono".into(),
                t.mono.map(Value::Float).unwrap_or(Value::Nil),
            ),
        ],
        false,
    )))
}

/// The time inside a template value, if it is a `time.Time`.
pub(crate) fn as_time(v: &Value) -> Option<GoTime> {
    let Value::Struct(s) = v else { return None };
    if s.type_info().name() != TYPE_NAME {
        return None;
    }
    let int = |k: &str| match s.field(k) {
        Some(Value::Int64(i)) => *i,
        _ => 0,
    };
    Some(GoTime {
        sec: int("sec"),
        nsec: int("nsec"),
        offset: int("offset"),
        zone: s
            .field("zone")
            .and_then(|z| z.as_str())
            .unwrap_or_default()
            .to_string(),
        mono: match s.field("mono") {
            Some(Value::Float(f)) => Some(*f),
            _ => None,
        },
    })
}

fn type_info() -> Arc<TypeInfo> {
    static T: OnceLock<Arc<TypeInfo>> = OnceLock::new();
    T.get_or_init(|| {
        let method = |ret: Type, f: fn(&GoTime) -> Value| {
            Function::new(Signature::new([], ret), move |_, a| {
                Ok(as_time(&a[0]).map(|t| f(&t)).unwrap_or(Value::Nil))
            })
        };
        fn civil(t: &GoTime) -> (i64, i64, i64) {
            civil_from_days(t.local_secs().div_euclid(86400))
        }
        fn clock(t: &GoTime) -> i64 {
            t.local_secs().rem_euclid(86400)
        }
        Arc::new(
            TypeInfo::new(TYPE_NAME)
                .with_stringer(|v| as_time(v).map(|t| t.go_string()).unwrap_or_default())
                .with_method(
                    "Format",
                    Function::new(Signature::new([Type::String], Type::String), |_, a| {
                        let layout = a[1].as_str().unwrap_or_default();
                        Ok(Value::from(
                            as_time(&a[0]).map(|t| t.format(layout)).unwrap_or_default(),
                        ))
                    }),
                )
                .with_method(
                    "String",
                    method(Type::String, |t| Value::from(t.go_string())),
                )
                .with_method("Unix", method(Type::Int64, |t| Value::Int64(t.sec)))
                .with_method(
                    "UnixMilli",
                    method(Type::Int64, |t| {
                        Value::Int64(t.sec.wrapping_mul(1000) + t.nsec / 1_000_000)
                    }),
                )
                .with_method(
                    "UnixNano",
                    method(Type::Int64, |t| {
                        Value::Int64(t.sec.wrapping_mul(NANOS_PER_SEC).wrapping_add(t.nsec))
                    }),
                )
                .with_method("UTC", method(time_type(), |t| time_value(&t.in_utc())))
                .with_method("Year", method(Type::Int, |t| Value::Int(civil(t).0)))
                .with_method("Day", method(Type::Int, |t| Value::Int(civil(t).2)))
                .with_method("Hour", method(Type::Int, |t| Value::Int(clock(t) / 3600)))
                .with_method(
                    "Minute",
                    method(Type::Int, |t| Value::Int(clock(t) / 60 % 60)),
                )
                .with_method("Second", method(Type::Int, |t| Value::Int(clock(t) % 60)))
                .with_method("Nanosecond", method(Type::Int, |t| Value::Int(t.nsec)))
                .with_method(
                    "YearDay",
                    method(Type::Int, |t| {
                        let days = t.local_secs().div_euclid(86400);
                        Value::Int(days - days_from_civil(civil(t).0, 1, 1) + 1)
                    }),
                )
                .with_method(
                    "IsZero",
                    method(Type::Bool, |t| Value::Bool(*t == GoTime::zero())),
                ),
        )
    })
    .clone()
}

/// `dateInZone`'s reading of its date argument: a time, or Unix seconds; anything else is
/// the current time.
fn date_arg(v: &Value) -> GoTime {
    match v {
        Value::Int(i) | Value::Int64(i) => GoTime::utc(*i, 0),
        v => as_time(v).unwrap_or_else(GoTime::now),
    }
}

/// `time.LoadLocation` as far as it is modelled: UTC for every zone.
fn in_zone(t: &GoTime, _zone: &str) -> GoTime {
    t.in_utc()
}

fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    in_zone(&date_arg(date), zone).format(layout)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    let i = || Type::Interface;
    let st = || Type::String;
    funcs.add("now", Signature::new([], time_type()), |_, _| {
        Ok(time_value(&GoTime::now()))
    });
    funcs.add("date", Signature::new([st(), i()], st()), |_, a| {
        Ok(Value::from(date_in_zone(s(&a[0]), &a[1], "Local")))
    });
    for name in ["dateInZone", "date_in_zone"] {
        funcs.add(name, Signature::new([st(), i(), st()], st()), |_, a| {
            Ok(Value::from(date_in_zone(s(&a[0]), &a[1], s(&a[2]))))
        });
    }
    funcs.add("htmlDate", Signature::new([i()], st()), |_, a| {
        Ok(Value::from(date_in_zone("2006-01-02", &a[0], "Local")))
    });
    funcs.add(
        "htmlDateInZone",
        Signature::new([i(), st()], st()),
        |_, a| Ok(Value::from(date_in_zone("2006-01-02", &a[0], s(&a[1])))),
    );
    for name in ["dateModify", "date_modify"] {
        funcs.add(
            name,
            Signature::new([st(), time_type()], time_type()),
            |_, a| {
                let t = as_time(&a[1]).unwrap_or_else(GoTime::zero);
                Ok(time_value(&match parse_duration(s(&a[0])) {
                    Ok(d) => t.add_nanos(d),
                    Err(_) => t,
                }))
            },
        );
    }
    for name in ["mustDateModify", "must_date_modify"] {
        funcs.add(
            name,
            Signature::new([st(), time_type()], time_type()),
            |_, a| {
                let t = as_time(&a[1]).unwrap_or_else(GoTime::zero);
                let d = parse_duration(s(&a[0])).map_err(FuncError::new)?;
                Ok(time_value(&t.add_nanos(d)))
            },
        );
    }
    funcs.add(
        "toDate",
        Signature::new([st(), st()], time_type()),
        |_, a| {
            Ok(time_value(
                &parse(s(&a[0]), s(&a[1])).unwrap_or_else(|_| GoTime::zero()),
            ))
        },
    );
    funcs.add(
        "mustToDate",
        Signature::new([st(), st()], time_type()),
        |_, a| {
            parse(s(&a[0]), s(&a[1]))
                .map(|t| time_value(&t))
                .map_err(FuncError::new)
        },
    );
    funcs.add("unixEpoch", Signature::new([time_type()], st()), |_, a| {
        Ok(Value::from(
            as_time(&a[0]).unwrap_or_else(GoTime::zero).sec.to_string(),
        ))
    });
    funcs.add("duration", Signature::new([i()], st()), |_, a| {
        let n: i64 = match &a[0] {
            Value::String(x) => x.parse().unwrap_or(0),
            Value::Int64(n) => *n,
            _ => 0,
        };
        Ok(Value::from(duration_string(n.wrapping_mul(NANOS_PER_SEC))))
    });
    funcs.add("durationRound", Signature::new([i()], st()), |_, a| {
        let d: i64 = match &a[0] {
            Value::String(x) => parse_duration(x).unwrap_or(0),
            Value::Int64(n) => *n,
            v => match as_time(v) {
                Some(t) => GoTime::now().since(&t),
                None => 0,
            },
        };
        Ok(Value::from(duration_round_string(d)))
    });
    funcs.add("ago", Signature::new([i()], st()), |_, a| {
        let t = match &a[0] {
            Value::Int(n) | Value::Int64(n) => GoTime::utc(*n, 0),
            v => as_time(v).unwrap_or_else(GoTime::now),
        };
        let d = duration_round(GoTime::now().since(&t), NANOS_PER_SEC);
        Ok(Value::from(duration_string(d)))
    });
}

/// Sprig's `durationRound`: the largest whole unit (`y`, `mo`, `d`, `h`, `m`, `s`).
fn duration_round_string(d: i64) -> String {
    let u = d.unsigned_abs();
    const HOUR: u64 = 3_600_000_000_000;
    let units: [(u64, &str); 6] = [
        (HOUR * 24 * 365, "y"),
        (HOUR * 24 * 30, "mo"),
        (HOUR * 24, "d"),
        (HOUR, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip() {
        let t = parse("2006-01-02T15:04:05Z07:00", "2024-03-05T10:20:30+02:00").unwrap();
        assert_eq!(t.sec, 1_709_626_830);
        assert_eq!(
            t.format("2006-01-02 15:04:05 MST"),
            "2024-03-05 10:20:30 +0200"
        );
        assert_eq!(
            t.in_utc().format("Mon Jan 2 3:04PM 2006"),
            "Tue Mar 5 8:20AM 2024"
        );
        assert_eq!(t.go_string(), "2024-03-05 10:20:30 +0200 +0200");
        assert_eq!(GoTime::zero().go_string(), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(GoTime::zero().sec, -62_135_596_800);
        let t = parse("2006-01-02 15:04:05.000 MST", "2020-02-29 23:59:59.123 PST").unwrap();
        assert_eq!(t.format(time_rfc3339nano()), "2020-02-29T23:59:59.123Z");
        assert_eq!(
            parse("2006-01-02", "not-a-date").unwrap_err(),
            "parsing time \"not-a-date\" as \"2006-01-02\": cannot parse \"not-a-date\" as \"2006\""
        );
        assert_eq!(
            parse("2006-01-02", "2021-02-30").unwrap_err(),
            "parsing time \"2021-02-30\": day out of range"
        );
        assert!(
            parse("2006-01-02", "2021-01-01x")
                .unwrap_err()
                .contains("extra text")
        );
    }

    fn time_rfc3339nano() -> &'static str {
        "2006-01-02T15:04:05.999999999Z07:00"
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("-1.5s").unwrap(), -1_500_000_000);
        assert_eq!(
            parse_duration("bogus").unwrap_err(),
            "time: invalid duration \"bogus\""
        );
        assert_eq!(
            parse_duration("1").unwrap_err(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration_string(1_500), "1.5\u{b5}s");
        assert_eq!(duration_string(-90_000_000_000), "-1m30s");
        assert_eq!(duration_string(i64::MIN), "-2562047h47m16.854775808s");
        assert_eq!(
            duration_round_string(parse_duration("400h").unwrap()),
            "16d"
        );
    }
}
