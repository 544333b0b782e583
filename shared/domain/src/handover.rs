//! The counterfoil handover register (《出生医学证明》副页移交). When a birth is registered online,
//! the parent receives the certificate without its counterfoil; the hospital cuts off the stub
//! (marked 线上办理) and the counterfoil and keeps them; the county health bureau collects the
//! counterfoils and hands them to the police at the same level, with a list both sides sign
//! (闽卫政法〔2024〕40号 附件1 三(一)2; the register's fields are those of 泉州市《出生医学证明》
//! 副页（户口联）移交记录表, 泉卫综〔2024〕252号 附件; Guangxi hands them over quarterly, 永福县
//! 附件 (4)). If the online registration fails, the hospital gives the parent the full certificate
//! with its counterfoil instead, and nothing is handed over. Where the counterfoil stays at the
//! hospital for the family (Xiamen, Putian) or goes to the police electronically (the 2021 Fuzhou
//! pilot) nothing enters this register either: the policy's `[counterfoil]` says which.

use crate::application::Text;
use crate::region::RegionCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A counterfoil kept by a hospital for handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterfoil {
    /// 《出生医学证明》编号.
    pub certificate_number: String,
    /// The application it came from.
    pub application_id: crate::kinds::ApplicationId,
    /// 机构名称: the hospital that keeps it.
    pub institution: String,
    /// The county-level division of the hospital (the handover goes through its health bureau).
    pub county: RegionCode,
    /// When the certificate was issued.
    pub issued_at: DateTime<Utc>,
    /// The day by which it is handed over, where the policy sets one (永福县 一(二)1(4): the 30th
    /// of the quarter's last month).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_over_by: Option<chrono::NaiveDate>,
}

/// One line of a handover register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverItem {
    /// 序号, from 1.
    pub seq: u32,
    /// 机构名称.
    pub institution: String,
    /// 《出生医学证明》编号.
    pub certificate_number: String,
    /// 移交事由.
    pub reason: String,
}

/// Who hands over and who receives (the register's signature block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverParties {
    /// 移交单位 (the county health bureau).
    pub handing_unit: Text,
    /// 移交人.
    pub handing_person: Text,
    /// 接收单位 (the police at the same level).
    pub receiving_unit: Text,
    /// 接收人.
    pub receiving_person: Text,
}

/// A handover batch: the register of 泉卫综〔2024〕252号 附件.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverBatch {
    /// The batch number, `<county>-<YYYYMMDD>-<n>`.
    pub number: String,
    /// 县（市、区）.
    pub county: RegionCode,
    /// 移交时间.
    pub handed_at: DateTime<Utc>,
    /// The signature block.
    pub parties: HandoverParties,
    /// The lines.
    pub items: Vec<HandoverItem>,
}

/// The reason written on each line.
pub const ONLINE_REGISTRATION: &str = "线上办理出生户口登记，副页移交公安机关存档";

/// The CSV header (the register's columns, in its order).
pub const CSV_HEADER: [&str; 11] = [
    "移交记录编号",
    "县（市、区）",
    "移交时间",
    "序号",
    "机构名称",
    "《出生医学证明》编号",
    "移交事由",
    "移交单位",
    "移交人",
    "接收单位",
    "接收人",
];

/// One CSV field. A field starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
/// prefixed with `'` so a spreadsheet shows it as text instead of running it as a formula (OWASP
/// CSV injection; a hospital name typed by a parent reaches the staff's register). Then quoted as
/// RFC 4180 wants.
fn quote(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

impl HandoverBatch {
    /// Builds the batch of `counterfoils` (in the given order).
    pub fn new(
        number: String,
        county: RegionCode,
        handed_at: DateTime<Utc>,
        parties: HandoverParties,
        counterfoils: &[Counterfoil],
    ) -> Self {
        let items = counterfoils
            .iter()
            .zip(1..)
            .map(|(c, seq)| HandoverItem {
                seq,
                institution: c.institution.clone(),
                certificate_number: c.certificate_number.clone(),
                reason: ONLINE_REGISTRATION.to_owned(),
            })
            .collect();
        Self {
            number,
            county,
            handed_at,
            parties,
            items,
        }
    }

    /// The register as CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs read
    /// the Chinese correctly): a header and one row per counterfoil, the date in China time.
    pub fn to_csv(&self) -> String {
        let date = self
            .handed_at
            .with_timezone(&crate::calendar::CHINA)
            .format("%Y-%m-%d")
            .to_string();
        let mut out = String::from("\u{feff}");
        out.push_str(&CSV_HEADER.join(","));
        out.push_str("\r\n");
        for item in &self.items {
            let row = [
                self.number.as_str(),
                self.county.as_str(),
                &date,
                &item.seq.to_string(),
                &item.institution,
                &item.certificate_number,
                &item.reason,
                self.parties.handing_unit.as_str(),
                self.parties.handing_person.as_str(),
                self.parties.receiving_unit.as_str(),
                self.parties.receiving_person.as_str(),
            ];
            out.push_str(&row.map(quote).join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// Reads CSV rows (RFC 4180: quoted fields with doubled quotes, CRLF or LF), a leading
/// byte-order mark ignored. Used to read a register back.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("an unterminated quoted field".into());
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Text {
        s.parse().unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn the_register_round_trips_through_csv_with_commas_and_quotes() {
        let county: RegionCode = "350102".parse().unwrap_or_else(|e| panic!("{e:?}"));
        let at = DateTime::parse_from_rfc3339("2025-12-30T10:00:00+08:00")
            .map(|t| t.to_utc())
            .unwrap_or_else(|e| panic!("{e}"));
        let foils = [
            Counterfoil {
                certificate_number: "Q350012345".into(),
                application_id: "NB1".parse().unwrap_or_else(|_| unreachable!()),
                institution: "福州市妇幼保健院, \"总院\"".into(),
                county: county.clone(),
                issued_at: at,
                hand_over_by: None,
            },
            Counterfoil {
                certificate_number: "Q350012346".into(),
                application_id: "NB2".parse().unwrap_or_else(|_| unreachable!()),
                institution: "鼓楼医院".into(),
                county: county.clone(),
                issued_at: at,
                hand_over_by: None,
            },
        ];
        let parties = HandoverParties {
            handing_unit: text("鼓楼区卫生健康局"),
            handing_person: text("陈丽"),
            receiving_unit: text("福州市公安局鼓楼分局"),
            receiving_person: text("林强"),
        };
        let batch = HandoverBatch::new("350102-20251230-1".into(), county, at, parties, &foils);
        let rows = parse_csv(&batch.to_csv()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows[0], CSV_HEADER.map(str::to_owned).to_vec());
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1][4], "福州市妇幼保健院, \"总院\"");
        assert_eq!(
            rows[2],
            [
                "350102-20251230-1",
                "350102",
                "2025-12-30",
                "2",
                "鼓楼医院",
                "Q350012346",
                ONLINE_REGISTRATION,
                "鼓楼区卫生健康局",
                "陈丽",
                "福州市公安局鼓楼分局",
                "林强"
            ]
        );
    }

    #[test]
    fn formulas_become_text_and_quotes_are_doubled() {
        assert_eq!(
            quote("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        for lead in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                quote(lead).trim_start_matches('"').starts_with('\''),
                "{lead:?}"
            );
        }
        assert_eq!(quote("福州市妇幼保健院"), "福州市妇幼保健院");
        assert_eq!(quote("a,b"), "\"a,b\"");
    }
}
