//! Date strings -> calendar dates: machine forms (ISO, RFC 2822, compact) and the English
//! and Chinese forms people write next to a headline.

use std::sync::LazyLock;

use regex::Regex;
use time::{Date, Month};

/// Dates outside this range are template defaults, epoch zeros or typos, not publication dates.
const MIN_YEAR: i32 = 1995;
const MAX_YEAR: i32 = 2100;

pub fn ymd(y: i32, m: u32, d: u32) -> Option<Date> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
        return None;
    }
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()
}

fn month_from_name(s: &str) -> Option<u32> {
    let s = s.to_ascii_lowercase();
    let m = match s.get(..3)? {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// An English month name written whole or as its usual abbreviation, not any word that
/// starts like one ("marketing", "junior").
fn full_month_name(s: &str) -> Option<u32> {
    let m = month_from_name(s)?;
    let lower = s.to_ascii_lowercase();
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let full = NAMES[m as usize - 1];
    (lower == full || lower == full[..3] || lower == "sept").then_some(m)
}

const MONTHS: &str = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";

/// A publication date as precise as the page gives it. Reports and white papers are often
/// dated by month only ("November 2003"); inventing a day would be a false precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Published {
    Day(Date),
    Month(i32, Month),
}

impl Published {
    /// The day, when the page gives one.
    pub fn day(self) -> Option<Date> {
        match self {
            Published::Day(d) => Some(d),
            Published::Month(..) => None,
        }
    }

    /// The first day the date can mean, for ages and ordering.
    pub fn first_day(self) -> Date {
        match self {
            Published::Day(d) => d,
            Published::Month(y, m) => Date::from_calendar_date(y, m, 1).unwrap_or(Date::MIN),
        }
    }

    /// Reads back what `Display` writes: `2023-05-25` or `2003-11`.
    pub fn parse(s: &str) -> Option<Published> {
        let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
        let y = i32::try_from(num(0..4)?).ok()?;
        if s.as_bytes().get(4) != Some(&b'-') || s.as_bytes().get(7).is_some_and(|&b| b != b'-') {
            return None;
        }
        match s.len() {
            7 => {
                let m = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
                ymd(y, u8::from(m).into(), 1).map(|_| Published::Month(y, m))
            }
            _ => ymd(y, num(5..7)?, num(8..10)?).map(Published::Day),
        }
    }
}

impl std::fmt::Display for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Published::Day(d) => write!(f, "{d}"),
            Published::Month(y, m) => write!(f, "{y:04}-{:02}", u8::from(*m)),
        }
    }
}

/// A text that is a month and year and nothing else: "November 2003", "Nov. 2015",
/// "2003年11月".
static MONTH_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?i:{MONTHS})\.?,?\s+((?:19|20)\d{{2}})$|^((?:19|20)\d{{2}})\s*年\s*(\d{{1,2}})\s*月$"
    ))
    .expect("valid regex")
});

/// The month of a text node that says only "Month Year".
pub fn month_only(text: &str) -> Option<(i32, Month)> {
    let t = text.trim();
    if t.len() > 24 {
        return None;
    }
    let c = MONTH_ONLY.captures(t)?;
    let (y, m) = match (c.get(1), c.get(2)) {
        (Some(name), Some(y)) => (y.as_str().parse().ok()?, full_month_name(name.as_str())?),
        _ => (c[3].parse().ok()?, c[4].parse().ok()?),
    };
    ymd(y, m, 1)?;
    Some((y, Month::try_from(u8::try_from(m).ok()?).ok()?))
}

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\d])((?:19|20)\d{2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:[^\d]|$)")
        .expect("valid regex")
});
static ZH: LazyLock<Regex> = LazyLock::new(|| {
    // Chinese and Japanese 年月日, Korean 년월일.
    Regex::new(r"((?:19|20)\d{2})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]").expect("valid regex")
});

/// Month names of other languages that write day, month, year ("25 mai 2023",
/// "25. März 2023", "25 de mayo de 2023", "25 мая 2023"), with their numbers.
const INTL_MONTHS: &[(&str, u32)] = &[
    // French
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("mai", 5),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    // German
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("märz", 3),
    ("maerz", 3),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    // Spanish
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    // Portuguese
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    // Dutch
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
    // Russian (genitive)
    ("января", 1),
    ("февраля", 2),
    ("марта", 3),
    ("апреля", 4),
    ("мая", 5),
    ("июня", 6),
    ("июля", 7),
    ("августа", 8),
    ("сентября", 9),
    ("октября", 10),
    ("ноября", 11),
    ("декабря", 12),
];

static DMY_INTL: LazyLock<Regex> = LazyLock::new(|| {
    let mut names: Vec<&str> = INTL_MONTHS.iter().map(|(n, _)| *n).collect();
    // Longest first, so "juillet" is not read as "juli".
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    Regex::new(&format!(
        r"(?i)\b(\d{{1,2}})(?:er|º|°)?\.?\s+(?:de\s+)?({})\.?,?\s+(?:de\s+)?((?:19|20)\d{{2}})\b",
        names.join("|")
    ))
    .expect("valid regex")
});

fn intl_month(name: &str) -> Option<u32> {
    let lower = name.to_lowercase();
    INTL_MONTHS.iter().find(|(n, _)| *n == lower).map(|(_, m)| *m)
}
static MDY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b{MONTHS}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{{2}})\b"
    ))
    .expect("valid regex")
});
static DMY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?:of\s+)?{MONTHS}\.?,?\s+((?:19|20)\d{{2}})\b"
    ))
    .expect("valid regex")
});
/// Year first with a month name: "2023 Jan 7", the form of PubMed and citation metadata.
static YMD_NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b((?:19|20)\d{{2}}),?\s+{MONTHS}\.?\s+(\d{{1,2}})\b"
    ))
    .expect("valid regex")
});
static YEAR_NEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:st|nd|rd|th)?,?\s*(?:19|20)\d{2}\b").expect("valid regex"));
static DOTTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})\.(\d{1,2})\.((?:19|20)\d{2})\b").expect("valid regex"));
/// `a/b/yyyy` and `a-b-yyyy`.
static SLASHED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})[/-](\d{1,2})[/-]((?:19|20)\d{2})\b").expect("valid regex"));
static COMPACT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^((?:19|20)\d{2})(\d{2})(\d{2})(?:[T ]?\d{2,6})?$").expect("valid regex"));

/// A date written by a machine: meta content, JSON-LD, `datetime` attributes.
pub fn parse_machine(s: &str) -> Option<Date> {
    let s = s.trim();
    if s.is_empty() || s.len() > 200 {
        return None;
    }
    if let Some(c) = COMPACT.captures(s) {
        return ymd(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?);
    }
    // Unix timestamps (seconds or milliseconds) appear in some meta tags.
    if s.len() >= 9 && s.len() <= 13 && s.bytes().all(|b| b.is_ascii_digit()) {
        let mut secs: i64 = s.parse().ok()?;
        if s.len() == 13 {
            secs /= 1000;
        }
        let dt = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
        return ymd(dt.year(), u8::from(dt.month()).into(), dt.day().into());
    }
    find_in_text(s).map(|(d, _)| d)
}

/// The earliest date written in `text`, with its byte offset.
pub fn find_in_text(text: &str) -> Option<(Date, usize)> {
    find_date(text, false).map(|f| (f.date, f.pos))
}

/// A date found in running text.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub date: Date,
    /// Byte offset of the match.
    pub pos: usize,
    /// The other reading of an ambiguous numeric form (03/10/2023).
    pub alt: Option<Date>,
}

/// The earliest date written in `text`. `day_first` reads ambiguous `a/b/yyyy` as
/// day/month (most of the world) instead of month/day (the US).
pub fn find_date(text: &str, day_first: bool) -> Option<Found> {
    let mut best: Option<Found> = None;
    let mut consider_alt = |d: Option<Date>, pos: usize, alt: Option<Date>| {
        if let Some(d) = d
            && best.is_none_or(|f| pos < f.pos)
        {
            best = Some(Found { date: d, pos, alt });
        }
    };
    let mut consider = |d: Option<Date>, pos: usize| consider_alt(d, pos, None);
    let num = |s: &str| s.parse::<u32>().ok();
    for c in ISO.captures_iter(text).take(4) {
        let y = c[1].parse().ok();
        let d = y.and_then(|y| ymd(y, num(&c[2])?, num(&c[3])?));
        if d.is_some() {
            consider(d, c.get(1).map_or(0, |m| m.start()));
            break;
        }
    }
    if let Some(c) = ZH.captures(text) {
        let d = c[1].parse().ok().and_then(|y| ymd(y, num(&c[2])?, num(&c[3])?));
        consider(d, c.get(0).map_or(0, |m| m.start()));
    }
    if let Some(c) = MDY.captures(text) {
        let d = c[3]
            .parse()
            .ok()
            .and_then(|y| ymd(y, month_from_name(&c[1])?, num(&c[2])?));
        consider(d, c.get(0).map_or(0, |m| m.start()));
    }
    if let Some(c) = DMY.captures(text) {
        let d = c[3]
            .parse()
            .ok()
            .and_then(|y| ymd(y, month_from_name(&c[2])?, num(&c[1])?));
        consider(d, c.get(0).map_or(0, |m| m.start()));
    }
    // "... for 2026 Dec 30, 2025" is a year ending a headline, then a month-day-year date.
    if let Some(c) = YMD_NAMED
        .captures_iter(text)
        .take(4)
        .find(|c| !YEAR_NEXT.is_match(&text[c.get(0).map_or(0, |m| m.end())..]))
    {
        let d = c[1]
            .parse()
            .ok()
            .and_then(|y| ymd(y, month_from_name(&c[2])?, num(&c[3])?));
        consider(d, c.get(0).map_or(0, |m| m.start()));
    }
    if let Some(c) = DMY_INTL.captures(text) {
        let d = c[3]
            .parse()
            .ok()
            .and_then(|y| ymd(y, intl_month(&c[2])?, num(&c[1])?));
        consider(d, c.get(0).map_or(0, |m| m.start()));
    }
    if let Some(c) = DOTTED.captures(text) {
        // Day first (most of Europe), though American pages write 09.10.2024 month first.
        let (a, b) = (num(&c[1]).unwrap_or(0), num(&c[2]).unwrap_or(0));
        let y: Option<i32> = c[3].parse().ok();
        consider_alt(
            y.and_then(|y| ymd(y, b, a)),
            c.get(0).map_or(0, |m| m.start()),
            other_reading(y, a, b),
        );
    }
    if let Some(c) = SLASHED.captures(text) {
        // Month first unless that is impossible or the page's language says otherwise.
        let (a, b) = (num(&c[1]).unwrap_or(0), num(&c[2]).unwrap_or(0));
        let y: Option<i32> = c[3].parse().ok();
        let (m, d) = if a > 12 || (day_first && b <= 12) {
            (b, a)
        } else {
            (a, b)
        };
        consider_alt(
            y.and_then(|y| ymd(y, m, d)),
            c.get(0).map_or(0, |m| m.start()),
            other_reading(y, d, m),
        );
    }
    best
}

/// The other reading of an ambiguous numeric date (03/10/2023): `month` and `day` as given,
/// when both could be a month and they differ, so that the two readings are different days.
fn other_reading(y: Option<i32>, month: u32, day: u32) -> Option<Date> {
    if month > 12 || day > 12 || month == day {
        return None;
    }
    ymd(y?, month, day)
}

static URL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:/|^)((?:19|20)\d{2})[/-](\d{1,2})[/-](\d{1,2})(?:/|[-_.]|$)|[/_t-]((?:19|20)\d{2})(\d{2})(\d{2})(?:[/_.-]|\d{0,6}[/_.-]|$)",
    )
    .expect("valid regex")
});

/// A month written as a word in a path: /2023/october/03/.
static URL_NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)/((?:19|20)\d{2})/([a-z]{3,9})/(\d{1,2})(?:/|$)").expect("valid regex")
});

/// A date in a URL path: /2023/05/25/, /20230525/, t20230525_123.html, /2023/october/03/.
pub fn from_url(url: &str) -> Option<Date> {
    if let Some(c) = URL_NAMED.captures(url)
        && let Some(m) = full_month_name(&c[2])
        && let Some(date) = ymd(c[1].parse().ok()?, m, c[3].parse().ok()?)
    {
        return Some(date);
    }
    for c in URL_DATE.captures_iter(url) {
        let (y, m, d) = if c.get(1).is_some() {
            (&c[1], &c[2], &c[3])
        } else {
            (&c[4], &c[5], &c[6])
        };
        if let Some(date) = ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?) {
            return Some(date);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn machine_forms() {
        assert_eq!(
            parse_machine("2023-05-25T16:57:00+08:00"),
            Some(date!(2023 - 05 - 25))
        );
        assert_eq!(parse_machine("2023-05-25"), Some(date!(2023 - 05 - 25)));
        assert_eq!(parse_machine("20230525"), Some(date!(2023 - 05 - 25)));
        assert_eq!(
            parse_machine("Thu, 25 May 2023 08:00:00 GMT"),
            Some(date!(2023 - 05 - 25))
        );
        assert_eq!(parse_machine("1684972800"), Some(date!(2023 - 05 - 25)));
        assert_eq!(parse_machine("not a date"), None);
        assert_eq!(parse_machine("2023-02-30"), None);
    }

    #[test]
    fn english_text_forms() {
        let d = date!(2023 - 05 - 25);
        assert_eq!(find_in_text("May 25, 2023").map(|x| x.0), Some(d));
        assert_eq!(find_in_text("25 May 2023").map(|x| x.0), Some(d));
        assert_eq!(
            find_in_text("Published on 25th May, 2023 by X").map(|x| x.0),
            Some(d)
        );
        assert_eq!(
            find_in_text("Updated: Mar 17, 2023 at 9:00").map(|x| x.0),
            Some(date!(2023 - 03 - 17))
        );
        assert_eq!(
            find_in_text("September 3, 2024").map(|x| x.0),
            Some(date!(2024 - 09 - 03))
        );
    }

    #[test]
    fn chinese_and_numeric_forms() {
        let d = date!(2023 - 05 - 25);
        assert_eq!(find_in_text("发布时间：2023年5月25日").map(|x| x.0), Some(d));
        assert_eq!(
            find_in_text("2023-05-25 16:57 来源：新华社").map(|x| x.0),
            Some(d)
        );
        assert_eq!(find_in_text("日期：2023/05/25").map(|x| x.0), Some(d));
        assert_eq!(find_in_text("25.05.2023").map(|x| x.0), Some(d));
        assert_eq!(find_in_text("2023년 5월 25일").map(|x| x.0), Some(d));
        // Year, month name, day: citation metadata and PubMed.
        assert_eq!(find_in_text("2023 May 25;15(1):e33475").map(|x| x.0), Some(d));
        assert_eq!(parse_machine("2023 May 25"), Some(d));
        assert_eq!(
            find_in_text("Predictions for 2026 Dec 30, 2025").map(|x| x.0),
            Some(date!(2025 - 12 - 30))
        );
        // The earliest mention wins.
        assert_eq!(
            find_in_text("2023年5月25日 ... Updated June 1, 2023").map(|x| x.0),
            Some(d)
        );
    }

    #[test]
    fn other_languages() {
        let d = date!(2023 - 05 - 25);
        for s in [
            "Publié le 25 mai 2023",
            "25. Mai 2023",
            "25 de mayo de 2023",
            "25 maggio 2023",
            "25 de maio de 2023",
            "25 mei 2023",
            "25 мая 2023 г.",
        ] {
            assert_eq!(find_in_text(s).map(|x| x.0), Some(d), "{s}");
        }
        assert_eq!(
            find_in_text("1er juillet 2023").map(|x| x.0),
            Some(date!(2023 - 07 - 01))
        );
    }

    #[test]
    fn ambiguous_numeric_forms() {
        let us = find_date("03/10/2023", false).unwrap();
        assert_eq!(us.date, date!(2023 - 03 - 10));
        assert_eq!(us.alt, Some(date!(2023 - 10 - 03)));
        let uk = find_date("03/10/2023", true).unwrap();
        assert_eq!(uk.date, date!(2023 - 10 - 03));
        assert_eq!(find_date("25/05/2023", false).unwrap().alt, None);
        // Dotted dates are day first, with the month-first reading kept as the other.
        let dotted = find_date("09.10.2024", false).unwrap();
        assert_eq!(dotted.date, date!(2024 - 10 - 09));
        assert_eq!(dotted.alt, Some(date!(2024 - 09 - 10)));
        assert_eq!(find_date("25.05.2023", false).unwrap().alt, None);
        // Dashes as separators read the same way.
        assert_eq!(
            find_date("Post time: 01-04-2024", false).unwrap().date,
            date!(2024 - 01 - 04)
        );
    }

    #[test]
    fn url_forms() {
        let d = date!(2023 - 05 - 25);
        assert_eq!(from_url("https://example.org/news/2023/05/25/slug"), Some(d));
        assert_eq!(from_url("https://example.org/a/20230525/slug.html"), Some(d));
        assert_eq!(
            from_url("https://example.gov.cn/zhengce/t20230525_123456.html"),
            Some(d)
        );
        assert_eq!(from_url("https://example.org/2023-05-25-slug"), Some(d));
        assert_eq!(from_url("https://example.org/about/"), None);
        assert_eq!(
            from_url("https://example.org/blog/2023/october/03/slug"),
            Some(date!(2023 - 10 - 03))
        );
        assert_eq!(from_url("https://example.org/2023/marketing/3/"), None);
    }
}
