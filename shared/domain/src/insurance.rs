//! When the newborn's residents' medical insurance starts to pay.
//!
//! 闽卫政法〔2024〕40号 附件2 一(五): "出生后90天内新生儿办理参保缴费手续的，从出生之日起享受当年医疗
//! 保险待遇；出生90天后参保的，从参保缴费次日起享受当年医疗保险待遇，保期为投保日至缴费当年度12月31日止。"
//! The national 2024 rule (国家医保局等五部门《关于开展儿童参加基本医疗保险专项行动的通知》) agrees.
//! "90天内" is read inclusively: payment on the 90th day after the birth date still counts.

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::Serialize;

/// The days after birth within which payment backdates cover to the birth date.
pub const BACKDATED_WITHIN_DAYS: i64 = 90;

/// The period the first contribution covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// First covered day.
    pub from: NaiveDate,
    /// Last covered day: 31 December of the year of payment.
    pub until: NaiveDate,
}

/// The last day on which paying still covers the child from its birth.
pub fn backdated_until(born_on: NaiveDate) -> NaiveDate {
    born_on
        .checked_add_signed(TimeDelta::days(BACKDATED_WITHIN_DAYS))
        .unwrap_or(born_on)
}

/// The coverage bought by a contribution paid on `paid_on` for a child born on `born_on`.
pub fn coverage(born_on: NaiveDate, paid_on: NaiveDate) -> Coverage {
    let from = if paid_on <= backdated_until(born_on) {
        born_on
    } else {
        paid_on.succ_opt().unwrap_or(paid_on)
    };
    let until = NaiveDate::from_ymd_opt(paid_on.year(), 12, 31).unwrap_or(paid_on);
    Coverage { from, until }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Rules: FJ2-INSURANCE-COVERAGE.
    #[test]
    fn payment_within_90_days_covers_from_birth_and_later_from_the_next_day() {
        let table = [
            ("2025-11-10", "2025-11-20", "2025-11-10", "2025-12-31"),
            ("2025-11-10", "2026-02-08", "2025-11-10", "2026-12-31"), // day 90
            ("2025-11-10", "2026-02-09", "2026-02-10", "2026-12-31"), // day 91
        ];
        for (born, paid, from, until) in table {
            assert_eq!(
                coverage(d(born), d(paid)),
                Coverage {
                    from: d(from),
                    until: d(until)
                },
                "{born} {paid}"
            );
        }
    }
}
