//! The working-day calendar (工作日) of the mainland: statutory public holidays and make-up
//! working days (调休) from the State Council General Office notices, as data.
//!
//! The built-in years come from `data/cn-public-holidays.json` (国办发明电〔2023〕7号 for 2024,
//! 国办发明电〔2024〕12号 for 2025, the notice of 2025-11-04 for 2026). Operators add a newly
//! published year from a file in the same format, named in configuration, without a code change.
//! Beyond the covered years the calendar falls back to Monday–Friday minus the statutory fixed
//! Gregorian holidays and marks every answer as provisional, so nothing is guessed silently.
//! All day boundaries are China time (UTC+8).

use chrono::{Datelike, FixedOffset, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// China Standard Time, UTC+8, in which every working-day boundary is drawn.
pub const CHINA: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// A covered year must have at least this many working days; fewer means a broken file.
const MIN_WORKING_DAYS: usize = 200;

/// What kind of day a date is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary Monday to Friday.
    Weekday,
    /// An ordinary Saturday or Sunday.
    Weekend,
    /// A public holiday from a State Council notice.
    Holiday {
        /// e.g. "Spring Festival".
        name: String,
    },
    /// A weekend day made a working day by a notice (调休).
    MakeupWorkingDay {
        /// The holiday it makes up for.
        name: String,
    },
    /// Outside the covered years: a statutory fixed holiday of 《全国年节及纪念日放假办法》.
    StatutoryHoliday {
        /// e.g. "New Year's Day".
        name: String,
    },
}

/// A date's kind and whether the calendar's data covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// The date, China time.
    pub date: NaiveDate,
    /// Its kind.
    #[serde(flatten)]
    pub kind: DayKind,
    /// False when the year is not covered by a notice and the answer is a provisional fallback.
    pub covered: bool,
}

impl Day {
    /// Whether time on this day counts towards a deadline.
    pub fn is_working(&self) -> bool {
        matches!(
            self.kind,
            DayKind::Weekday | DayKind::MakeupWorkingDay { .. }
        )
    }
}

/// Why a calendar file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// Not valid JSON of the expected shape.
    #[error("the holiday file is not valid JSON of the expected shape: {0}")]
    Format(#[from] serde_json::Error),
    /// A year key that is not a year.
    #[error("\"{0}\" is not a year")]
    Year(String),
    /// A date listed under another year.
    #[error("{date} is listed under year {year}")]
    WrongYear {
        /// The date.
        date: NaiveDate,
        /// The year it was listed under.
        year: i32,
    },
    /// A date both a holiday and a make-up working day.
    #[error("{0} is listed both as a holiday and as a make-up working day")]
    Both(NaiveDate),
    /// A year with implausibly few working days (a broken file).
    #[error("year {year} would have only {working} working days")]
    TooFewWorkingDays {
        /// The year.
        year: i32,
        /// Its working days under the file.
        working: usize,
    },
    /// A make-up working day that is not a weekend day.
    #[error("make-up working day {0} is not a Saturday or Sunday")]
    MakeupOnWeekday(NaiveDate),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NamedDate {
    date: NaiveDate,
    name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct YearFile {
    holidays: Vec<NamedDate>,
    makeup_working_days: Vec<NamedDate>,
}

#[derive(Debug, Clone, Deserialize)]
struct CalendarFile {
    #[serde(default)]
    source: String,
    years: BTreeMap<String, YearFile>,
}

#[derive(Debug, Clone)]
struct Year {
    holidays: BTreeMap<NaiveDate, String>,
    makeup: BTreeMap<NaiveDate, String>,
    source: String,
    /// A region's own days are not known for this year: every answer is provisional.
    regional_unknown: bool,
}

/// A region's own public holidays on top of the national calendar, e.g. Guangxi's 壮族三月三
/// (《广西壮族自治区少数民族习惯节日放假办法》, 自治区人民政府令第98号: 农历三月初三、初四 two days,
/// the dates fixed each year by the 自治区人民政府办公厅's notice). Kept in the region's policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalDays {
    /// The years whose notices are loaded; in other years the region's answers are provisional.
    pub covered_years: Vec<i32>,
    /// The region's holidays.
    #[serde(default)]
    pub holidays: Vec<RegionalDay>,
    /// Weekend days the region made working days (调休).
    #[serde(default)]
    pub makeup_working_days: Vec<RegionalDay>,
    /// The notices.
    pub source: String,
}

/// One day of a region's calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalDay {
    /// The date.
    pub date: NaiveDate,
    /// e.g. 壮族三月三.
    pub name: String,
}

impl RegionalDays {
    /// Why the days cannot be right: a day outside the covered years, or listed twice.
    pub fn problems(&self) -> Vec<String> {
        let mut out = vec![];
        let all: Vec<&RegionalDay> = self
            .holidays
            .iter()
            .chain(&self.makeup_working_days)
            .collect();
        for d in &all {
            if !self.covered_years.contains(&d.date.year()) {
                out.push(format!("{} is outside the covered years", d.date));
            }
        }
        for d in &self.makeup_working_days {
            if !matches!(d.date.weekday(), Weekday::Sat | Weekday::Sun) {
                out.push(format!(
                    "make-up working day {} is not a weekend day",
                    d.date
                ));
            }
            if self.holidays.iter().any(|h| h.date == d.date) {
                out.push(format!("{} is both a holiday and a working day", d.date));
            }
        }
        out
    }
}

impl Year {
    fn is_working(&self, date: NaiveDate) -> bool {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        self.makeup.contains_key(&date) || (!weekend && !self.holidays.contains_key(&date))
    }
}

/// The working-day calendar.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    years: BTreeMap<i32, Year>,
}

/// The statutory fixed-date holidays of 《全国年节及纪念日放假办法》 (国务院令第795号, 2024
/// revision), used for years no notice covers. The lunar holidays (Spring Festival, Qingming,
/// Dragon Boat, Mid-Autumn) are not computed: such years are marked provisional instead.
const STATUTORY_FIXED: [(u32, u32, &str); 6] = [
    (1, 1, "New Year's Day"),
    (5, 1, "Labour Day"),
    (5, 2, "Labour Day"),
    (10, 1, "National Day"),
    (10, 2, "National Day"),
    (10, 3, "National Day"),
];

impl WorkingCalendar {
    /// The calendar with the built-in years (2024–2026).
    pub fn builtin() -> Self {
        Self::from_json(include_str!("../data/cn-public-holidays.json"))
            .expect("the embedded holiday file is valid (checked by the tests)")
    }

    /// Parses a holiday file (the format of `data/cn-public-holidays.json`).
    pub fn from_json(text: &str) -> Result<Self, CalendarError> {
        let file: CalendarFile = serde_json::from_str(text)?;
        let mut years = BTreeMap::new();
        for (key, y) in file.years {
            let year: i32 = key.parse().map_err(|_| CalendarError::Year(key.clone()))?;
            let mut holidays = BTreeMap::new();
            let mut makeup = BTreeMap::new();
            for d in &y.holidays {
                if d.date.year() != year {
                    return Err(CalendarError::WrongYear { date: d.date, year });
                }
                holidays.insert(d.date, d.name.clone());
            }
            for d in &y.makeup_working_days {
                if d.date.year() != year {
                    return Err(CalendarError::WrongYear { date: d.date, year });
                }
                if holidays.contains_key(&d.date) {
                    return Err(CalendarError::Both(d.date));
                }
                if !matches!(d.date.weekday(), Weekday::Sat | Weekday::Sun) {
                    return Err(CalendarError::MakeupOnWeekday(d.date));
                }
                makeup.insert(d.date, d.name.clone());
            }
            let data = Year {
                holidays,
                makeup,
                source: file.source.clone(),
                regional_unknown: false,
            };
            let working = NaiveDate::from_yo_opt(year, 1)
                .into_iter()
                .flat_map(|first| first.iter_days().take_while(move |d| d.year() == year))
                .filter(|d| data.is_working(*d))
                .count();
            if working < MIN_WORKING_DAYS {
                return Err(CalendarError::TooFewWorkingDays { year, working });
            }
            years.insert(year, data);
        }
        Ok(Self { years })
    }

    /// Adds (or replaces) the years of `other`, e.g. an operator's file for a newly published
    /// notice. Returns the years that replaced built-in ones.
    pub fn extend(&mut self, other: WorkingCalendar) -> Vec<i32> {
        let mut replaced = vec![];
        for (year, data) in other.years {
            if self.years.insert(year, data).is_some() {
                replaced.push(year);
            }
        }
        replaced
    }

    /// This calendar with a region's own days: its holidays are not working days (a regional
    /// make-up day is), and in a nationally covered year the region's notice does not cover every
    /// answer is provisional, so no deadline is silently early.
    pub fn with_regional(&self, regional: &RegionalDays) -> WorkingCalendar {
        let mut out = self.clone();
        for (year, data) in &mut out.years {
            if !regional.covered_years.contains(year) {
                data.regional_unknown = true;
                continue;
            }
            for d in regional.holidays.iter().filter(|d| d.date.year() == *year) {
                data.makeup.remove(&d.date);
                data.holidays.insert(d.date, d.name.clone());
            }
            for d in regional
                .makeup_working_days
                .iter()
                .filter(|d| d.date.year() == *year)
            {
                data.holidays.remove(&d.date);
                data.makeup.insert(d.date, d.name.clone());
            }
            data.source = format!("{}; {}", data.source, regional.source);
        }
        out
    }

    /// The years for which a notice is loaded.
    pub fn covered_years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The source of a covered year's data.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|y| y.source.as_str())
    }

    /// Whether a notice covers `date` (and the region's notice, for a regional calendar).
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.years
            .get(&date.year())
            .is_some_and(|y| !y.regional_unknown)
    }

    /// The kind of `date` (China time).
    pub fn day(&self, date: NaiveDate) -> Day {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let plain = if weekend {
            DayKind::Weekend
        } else {
            DayKind::Weekday
        };
        match self.years.get(&date.year()) {
            Some(year) => {
                let kind = if let Some(name) = year.holidays.get(&date) {
                    DayKind::Holiday { name: name.clone() }
                } else if let Some(name) = year.makeup.get(&date) {
                    DayKind::MakeupWorkingDay { name: name.clone() }
                } else {
                    plain
                };
                Day {
                    date,
                    kind,
                    covered: !year.regional_unknown,
                }
            }
            None => {
                let statutory = STATUTORY_FIXED
                    .iter()
                    .find(|(m, d, _)| date.month() == *m && date.day() == *d);
                let kind = match statutory {
                    Some((_, _, name)) => DayKind::StatutoryHoliday {
                        name: (*name).to_owned(),
                    },
                    None => plain,
                };
                Day {
                    date,
                    kind,
                    covered: false,
                }
            }
        }
    }

    /// Whether time on `date` counts as working time.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.day(date).is_working()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_builtin_calendar_covers_2024_to_2026() {
        let cal = WorkingCalendar::builtin();
        assert_eq!(cal.covered_years(), vec![2024, 2025, 2026]);
    }

    /// 国办发明电〔2024〕12号: National Day and Mid-Autumn 2025-10-01..08 off, Sunday 2025-09-28
    /// and Saturday 2025-10-11 worked.
    #[test]
    fn the_2025_national_day_break_and_its_makeup_days() {
        let cal = WorkingCalendar::builtin();
        let table = [
            ("2025-09-26", true),  // Friday
            ("2025-09-27", false), // Saturday
            ("2025-09-28", true),  // Sunday, make-up working day
            ("2025-09-30", true),  // Tuesday
            ("2025-10-01", false),
            ("2025-10-06", false), // Mid-Autumn
            ("2025-10-08", false),
            ("2025-10-09", true),  // Thursday
            ("2025-10-11", true),  // Saturday, make-up working day
            ("2025-10-12", false), // Sunday
        ];
        for (date, working) in table {
            assert_eq!(cal.is_working_day(d(date)), working, "{date}");
        }
        assert_eq!(
            cal.day(d("2025-09-28")).kind,
            DayKind::MakeupWorkingDay {
                name: "National Day".into()
            }
        );
    }

    /// The 2026 notice of 2025-11-04: Spring Festival 2026-02-15..23 off; Saturdays 02-14 and
    /// 02-28 worked.
    #[test]
    fn the_2026_spring_festival_break() {
        let cal = WorkingCalendar::builtin();
        assert!(cal.is_working_day(d("2026-02-13")));
        assert!(cal.is_working_day(d("2026-02-14")));
        for day in 15..=23 {
            assert!(
                !cal.is_working_day(d(&format!("2026-02-{day:02}"))),
                "02-{day}"
            );
        }
        assert!(cal.is_working_day(d("2026-02-24")));
        assert!(cal.is_working_day(d("2026-02-28")));
    }

    #[test]
    fn uncovered_years_fall_back_to_weekdays_minus_fixed_statutory_days_and_say_so() {
        let cal = WorkingCalendar::builtin();
        let day = cal.day(d("2027-01-01")); // a Friday
        assert!(!day.covered);
        assert!(!day.is_working());
        assert!(!cal.is_working_day(d("2027-10-01")));
        assert!(cal.is_working_day(d("2027-03-01")));
        assert!(!cal.is_working_day(d("2027-03-06"))); // Saturday
        assert!(!cal.day(d("2027-03-01")).covered);
    }

    #[test]
    fn an_operator_file_adds_a_year_without_code() {
        let mut cal = WorkingCalendar::builtin();
        let extra = r#"{"source":"国务院办公厅关于2027年部分节假日安排的通知 (test data)",
            "years":{"2027":{"holidays":[{"date":"2027-03-01","name":"Test"}],
            "makeup_working_days":[{"date":"2027-03-06","name":"Test"}]}}}"#;
        let replaced =
            cal.extend(WorkingCalendar::from_json(extra).unwrap_or_else(|e| panic!("{e}")));
        assert!(replaced.is_empty());
        assert!(cal.covers(d("2027-06-01")));
        assert!(!cal.is_working_day(d("2027-03-01")));
        assert!(cal.is_working_day(d("2027-03-06")));
        // Now covered, 1 January 2027 is an ordinary Friday unless the notice lists it.
        assert!(cal.is_working_day(d("2027-01-01")));
    }

    #[test]
    fn inconsistent_files_are_refused_with_the_reason() {
        let both = r#"{"years":{"2027":{"holidays":[{"date":"2027-03-06","name":"x"}],"makeup_working_days":[{"date":"2027-03-06","name":"x"}]}}}"#;
        assert!(matches!(
            WorkingCalendar::from_json(both),
            Err(CalendarError::Both(_))
        ));
        let wrong_year = r#"{"years":{"2027":{"holidays":[{"date":"2028-01-01","name":"x"}],"makeup_working_days":[]}}}"#;
        assert!(matches!(
            WorkingCalendar::from_json(wrong_year),
            Err(CalendarError::WrongYear { .. })
        ));
        let weekday = r#"{"years":{"2027":{"holidays":[],"makeup_working_days":[{"date":"2027-03-03","name":"x"}]}}}"#;
        assert!(matches!(
            WorkingCalendar::from_json(weekday),
            Err(CalendarError::MakeupOnWeekday(_))
        ));
        assert!(matches!(
            WorkingCalendar::from_json("{"),
            Err(CalendarError::Format(_))
        ));
    }
}
