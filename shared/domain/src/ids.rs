//! Validated identifiers of people, documents and institutions.
//!
//! Every type parses from text once, at the edge, and afterwards cannot hold an invalid value.
//! Personal identifiers mask themselves in `Debug` so a stray `{:?}` never leaks them into a log
//! (PIPL art. 28/51; the architecture's "no ID number, phone or bank account in logs unmasked").

use crate::region::RegionCode;
use crate::text::{Invalid, parse_via_str};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Rejects control, format (zero-width, bidi override) and other invisible characters.
pub(crate) fn reject_invisible(s: &str, field_zh: &str, field_en: &str) -> Result<(), Invalid> {
    if let Some(c) = s.chars().find(|c| is_invisible(*c)) {
        return Err(Invalid::new(
            "invisible_character",
            format!("{field_zh}含有不可见或控制字符（U+{:04X}）", c as u32),
            format!(
                "{field_en} contains an invisible or control character (U+{:04X})",
                c as u32
            ),
        ));
    }
    Ok(())
}

fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
            | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE0000..=0xE0FFF)
}

// ---------------------------------------------------------------------------------------------
// 公民身份号码 GB 11643-1999
// ---------------------------------------------------------------------------------------------

/// ISO 7064 MOD 11-2 weights of GB 11643-1999 §8.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check characters indexed by the weighted sum mod 11 (GB 11643-1999 §8).
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Province-level prefixes (GB/T 2260) an 18-digit number may start with, plus 81/82/83 of the
/// residence permits of Hong Kong, Macao and Taiwan residents (国办发〔2018〕81号) and 9 of the
/// 2023 foreigners' permanent residence ID card.
const ID_PROVINCES: [&str; 35] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83",
];

/// A citizen identity number (公民身份号码), GB 11643-1999: 6-digit region, 8-digit birth date,
/// 3-digit sequence (odd = male), MOD 11-2 check character. Lower-case `x` is accepted and stored
/// upper-case. Historical region codes are accepted: the number keeps the code of the place
/// where it was first issued.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

/// Who holds a number, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdHolder {
    /// Mainland resident identity card (居民身份证).
    MainlandResident,
    /// Residence permit of a Hong Kong, Macao or Taiwan resident (港澳台居民居住证, 81/82/83).
    HongKongMacaoTaiwanResident,
    /// Foreigner's permanent residence ID card (外国人永久居留身份证, 2023 format, leading 9).
    ForeignPermanentResident,
}

impl IdNumber {
    /// The check character GB 11643-1999 §8 assigns to the first 17 digits.
    pub fn check_char(first17: &[u8; 17]) -> char {
        let sum: u32 = first17
            .iter()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        char::from(ID_CHECK[(sum % 11) as usize])
    }

    /// The full number.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region code of first issue (may be historical).
    pub fn region(&self) -> &str {
        &self.0[..6]
    }

    /// The embedded date of birth.
    pub fn birth_date(&self) -> NaiveDate {
        parse_yyyymmdd(&self.0[6..14]).unwrap_or(NaiveDate::MIN)
    }

    /// Male when the sequence code is odd (GB 11643-1999 §5.3).
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[16] - b'0') % 2 == 1
    }

    /// The kind of holder, from the prefix.
    pub fn holder(&self) -> IdHolder {
        match &self.0[..2] {
            "81" | "82" | "83" => IdHolder::HongKongMacaoTaiwanResident,
            p if p.starts_with('9') => IdHolder::ForeignPermanentResident,
            _ => IdHolder::MainlandResident,
        }
    }

    /// Masked for display per GB/T 35273 practice: the first four and last four characters,
    /// e.g. `3501**********123X` (the birth date is hidden).
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }
}

fn parse_yyyymmdd(s: &str) -> Option<NaiveDate> {
    let y = s.get(0..4)?.parse().ok()?;
    let m = s.get(4..6)?.parse().ok()?;
    let d = s.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

impl std::str::FromStr for IdNumber {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(
                "id_number_15_digit",
                "15位旧身份证号码已停止使用，请填写18位公民身份号码",
                "15-digit identity numbers are no longer valid; give the 18-digit number",
            ));
        }
        let b = s.as_bytes();
        let shape_ok = b.len() == 18
            && b[..17].iter().all(u8::is_ascii_digit)
            && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x');
        if !shape_ok {
            return Err(Invalid::new(
                "id_number_format",
                "公民身份号码应为18位：17位数字加1位数字或X",
                "an identity number has 18 characters: 17 digits and a final digit or X",
            ));
        }
        if !(ID_PROVINCES.contains(&&s[..2]) || s.starts_with('9')) {
            return Err(Invalid::new(
                "id_number_region",
                format!("公民身份号码的地区码“{}”不存在", &s[..6]),
                format!("identity number region code {} does not exist", &s[..6]),
            ));
        }
        let birth = parse_yyyymmdd(&s[6..14]).filter(|d| *d >= MIN_BIRTH);
        if birth.is_none() {
            return Err(Invalid::new(
                "id_number_birth_date",
                "公民身份号码中的出生日期无效",
                "the date of birth inside the identity number is not a real date",
            ));
        }
        let mut first17 = [0u8; 17];
        first17.copy_from_slice(&b[..17]);
        let expected = Self::check_char(&first17);
        if b[17].to_ascii_uppercase() != expected as u8 {
            return Err(Invalid::new(
                "id_number_check_digit",
                "公民身份号码校验位错误，请核对号码",
                "the identity number's check character is wrong; please check the number",
            ));
        }
        Ok(Self(s.to_ascii_uppercase()))
    }
}

const MIN_BIRTH: NaiveDate = match NaiveDate::from_ymd_opt(1880, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}
parse_via_str!(IdNumber);

// ---------------------------------------------------------------------------------------------
// Mobile numbers
// ---------------------------------------------------------------------------------------------

/// A mainland mobile number, `^1[3-9]\d{9}$` after removing a `+86` / `0086` prefix, spaces
/// and hyphens.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MobileNumber(String);

impl MobileNumber {
    /// The eleven digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Masked for display, e.g. `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl std::str::FromStr for MobileNumber {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .unwrap_or(&compact);
        let b = digits.as_bytes();
        if b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit)
        {
            Ok(Self(digits.to_owned()))
        } else {
            Err(Invalid::new(
                "mobile_number",
                "手机号码应为以1开头的11位数字（可带+86）",
                "a mobile number has 11 digits starting with 1 (a +86 prefix is allowed)",
            ))
        }
    }
}

impl fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobileNumber({})", self.masked())
    }
}
parse_via_str!(MobileNumber);

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// A person's name as on the household register: Han characters of every CJK block, including
/// rare characters outside the BMP such as 𠈌, the middle dot of ethnic-minority names
/// (normalised to U+00B7 ·), or Latin letters with spaces, hyphens and apostrophes; at least one
/// letter or ideograph. Normalised to NFKC, so a compatibility ideograph becomes its unified one
/// (U+F9F4 → 林 U+6797, as GB 18030 encodes it) and full-width Latin letters become ASCII.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Masked for display: the first character and one `*` per remaining character.
    pub fn masked(&self) -> String {
        let mut chars = self.0.chars();
        let first = chars.next().map(String::from).unwrap_or_default();
        first + &"*".repeat(chars.count())
    }
}

/// Whether `c` is a CJK unified or compatibility ideograph (all blocks up to Unicode 16).
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3007 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF | 0x2A700..=0x2EE5F | 0x2F800..=0x2FA1F | 0x30000..=0x323AF)
}

const MIDDLE_DOTS: [char; 5] = ['\u{00B7}', '\u{30FB}', '\u{2027}', '\u{2022}', '\u{FF65}'];

impl std::str::FromStr for PersonName {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        reject_invisible(s, "姓名", "the name")?;
        use unicode_normalization::UnicodeNormalization;
        let normalised: String = s
            .nfkc()
            .map(|c| {
                if MIDDLE_DOTS.contains(&c) {
                    '\u{00B7}'
                } else {
                    c
                }
            })
            .collect();
        let count = normalised.chars().count();
        if count == 0 || count > 50 {
            return Err(Invalid::new(
                "name_length",
                "姓名不能为空，且不超过50个字",
                "a name must have 1 to 50 characters",
            ));
        }
        let allowed = |c: char| {
            is_han(c)
                || c == '\u{00B7}'
                || c.is_ascii_alphabetic()
                || c == ' '
                || c == '-'
                || c == '\''
        };
        if let Some(bad) = normalised.chars().find(|c| !allowed(*c)) {
            return Err(Invalid::new(
                "name_character",
                format!("姓名中不能含有“{bad}”"),
                format!("a name may not contain '{bad}'"),
            ));
        }
        if !normalised
            .chars()
            .any(|c| is_han(c) || c.is_ascii_alphabetic())
        {
            return Err(Invalid::new(
                "name_letter",
                "姓名须含有汉字或字母",
                "a name must contain a letter or a Chinese character",
            ));
        }
        if normalised.starts_with('\u{00B7}')
            || normalised.ends_with('\u{00B7}')
            || normalised.contains("\u{00B7}\u{00B7}")
        {
            return Err(Invalid::new(
                "name_middle_dot",
                "间隔号“·”只能用在名字中间",
                "the middle dot '·' may only stand between parts of a name",
            ));
        }
        Ok(Self(normalised))
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}
parse_via_str!(PersonName);

// ---------------------------------------------------------------------------------------------
// 统一社会信用代码 GB 32100-2015
// ---------------------------------------------------------------------------------------------

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A unified social credit code (统一社会信用代码, GB 32100-2015) of a hospital or other
/// organisation: 18 characters from `0-9A-HJ-NPQRTUWXY`, the last one a MOD 31 check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for CreditCode {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().to_ascii_uppercase();
        let values: Option<Vec<u32>> = s
            .bytes()
            .map(|b| USCC_CHARS.iter().position(|c| *c == b).map(|p| p as u32))
            .collect();
        let Some(values) = values.filter(|v| v.len() == 18) else {
            return Err(Invalid::new(
                "credit_code_format",
                "统一社会信用代码应为18位，由数字和除I、O、Z、S、V外的大写字母组成",
                "a unified social credit code has 18 characters: digits and capital letters except I, O, Z, S, V",
            ));
        };
        let sum: u32 = values[..17]
            .iter()
            .zip(USCC_WEIGHTS)
            .map(|(v, w)| v * w)
            .sum();
        let check = (31 - sum % 31) % 31;
        if values[17] != check {
            return Err(Invalid::new(
                "credit_code_check",
                "统一社会信用代码校验位错误",
                "the unified social credit code's check character is wrong",
            ));
        }
        Ok(Self(s))
    }
}
parse_via_str!(CreditCode);

// ---------------------------------------------------------------------------------------------
// 出生医学证明编号
// ---------------------------------------------------------------------------------------------

/// The number of a birth medical certificate (出生医学证明): one capital letter and nine digits.
/// The digits do not encode a province.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BirthCertificateNumber(String);

impl BirthCertificateNumber {
    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Masked for display: the letter, the first two digits and the last two, e.g. `Q35*****45`.
    pub fn masked(&self) -> String {
        format!("{}*****{}", &self.0[..3], &self.0[8..])
    }
}

impl std::str::FromStr for BirthCertificateNumber {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        let b = s.as_bytes();
        if b.len() == 10 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Invalid::new(
                "birth_certificate_number",
                "出生医学证明编号应为1位大写字母加9位数字，如 Q350012345",
                "a birth certificate number is one capital letter and nine digits, e.g. Q350012345",
            ))
        }
    }
}
parse_via_str!(BirthCertificateNumber);

// ---------------------------------------------------------------------------------------------
// 结婚证字号
// ---------------------------------------------------------------------------------------------

/// The number of a marriage certificate (结婚证字号).
///
/// Current numbers are `J` (or `BJ` when reissued), the issuing registry's 6-digit region code,
/// `-`, the year, `-` and a 6-digit serial. `L` / `BL` numbers are divorce certificates and are
/// refused. Certificates from before about 2004 may carry free-text numbers: they are accepted
/// as [`MarriageCertificateNumber::is_legacy`] so a reviewer can check them, never rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MarriageCertificateNumber {
    text: String,
    region: Option<RegionCode>,
    year: Option<i32>,
}

impl MarriageCertificateNumber {
    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// The region code of the issuing registry, for current-format numbers.
    pub fn issuing_region(&self) -> Option<&RegionCode> {
        self.region.as_ref()
    }
    /// The year of issue, for current-format numbers.
    pub fn year(&self) -> Option<i32> {
        self.year
    }
    /// True for a free-text number of the older formats: its place of issue is unknown.
    pub fn is_legacy(&self) -> bool {
        self.region.is_none()
    }
}

impl std::str::FromStr for MarriageCertificateNumber {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        reject_invisible(s, "结婚证字号", "the marriage certificate number")?;
        if s.is_empty() || s.chars().count() > 40 {
            return Err(Invalid::new(
                "marriage_certificate_length",
                "结婚证字号不能为空，且不超过40个字符",
                "a marriage certificate number must have 1 to 40 characters",
            ));
        }
        let upper = s.to_ascii_uppercase();
        let (prefix, rest) = match upper.find(|c: char| c.is_ascii_digit()) {
            Some(i) => upper.split_at(i),
            None => (upper.as_str(), ""),
        };
        if matches!(prefix, "L" | "BL") && !rest.is_empty() {
            return Err(Invalid::new(
                "marriage_certificate_is_divorce",
                "以L或BL开头的是离婚证字号，请填写结婚证字号",
                "numbers starting with L or BL are divorce certificates; give the marriage certificate number",
            ));
        }
        if matches!(prefix, "J" | "BJ") {
            let parts: Vec<&str> = rest.split('-').collect();
            let well_formed = parts.len() == 3
                && parts[0].len() == 6
                && parts[1].len() == 4
                && parts[2].len() == 6
                && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
            if !well_formed {
                return Err(Invalid::new(
                    "marriage_certificate_format",
                    "结婚证字号格式应为 J+6位地区码-年份-6位序号，如 J350102-2020-000123",
                    "a marriage certificate number reads J + 6-digit region - year - 6-digit serial, e.g. J350102-2020-000123",
                ));
            }
            let region: RegionCode = parts[0].parse()?;
            let year: i32 = parts[1].parse().unwrap_or(0);
            if !(1950..=2200).contains(&year) {
                return Err(Invalid::new(
                    "marriage_certificate_year",
                    "结婚证字号中的年份无效",
                    "the year inside the marriage certificate number is not plausible",
                ));
            }
            return Ok(Self {
                text: upper,
                region: Some(region),
                year: Some(year),
            });
        }
        Ok(Self {
            text: s.to_owned(),
            region: None,
            year: None,
        })
    }
}
parse_via_str!(MarriageCertificateNumber);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The 17 digits followed by their correct check character.
    fn with_check(first17: &[u8; 17]) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(first17),
            IdNumber::check_char(first17)
        )
    }

    // Examples from domain.md "Reference data and formats" (GB 11643-1999).
    #[test]
    fn valid_identity_numbers_from_the_standard_parse() {
        for s in [
            "11010519491231002X",
            "440524188001010014",
            "360426199101010071",
            "44011320141005001X",
            "11010519491231002x",
        ] {
            let id: IdNumber = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.as_str(), s.to_ascii_uppercase());
        }
    }

    #[test]
    fn identity_numbers_with_a_wrong_check_digit_are_refused() {
        for s in ["36042619910102009X", "110105194912310021"] {
            let e = s.parse::<IdNumber>().unwrap_err();
            assert_eq!(e.code, "id_number_check_digit", "{s}");
        }
    }

    #[test]
    fn identity_numbers_with_impossible_dates_or_regions_are_refused() {
        // 2023-02-29 does not exist; correct the check char so only the date is wrong.
        let bad_date = with_check(b"35010220230229001");
        assert_eq!(
            bad_date.parse::<IdNumber>().unwrap_err().code,
            "id_number_birth_date"
        );
        let region = with_check(b"09010219900101001"); // 09 is no province
        assert_eq!(
            region.parse::<IdNumber>().unwrap_err().code,
            "id_number_region"
        );
        assert_eq!(
            "350102900101001".parse::<IdNumber>().unwrap_err().code,
            "id_number_15_digit"
        );
        assert_eq!(
            "3501021990010100".parse::<IdNumber>().unwrap_err().code,
            "id_number_format"
        );
    }

    #[test]
    fn historical_region_codes_are_accepted() {
        // 350402 梅列区 (merged 2021) still appears in numbers issued before.
        let first: [u8; 17] = *b"35040219850101001";
        let s = with_check(&first);
        assert!(s.parse::<IdNumber>().is_ok());
    }

    #[test]
    fn identity_numbers_tell_sex_birth_date_and_holder_and_mask_themselves() {
        let id: IdNumber = "11010519491231002X"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!id.is_male());
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap_or_default()
        );
        assert_eq!(id.holder(), IdHolder::MainlandResident);
        assert_eq!(format!("{id:?}"), "IdNumber(1101**********002X)");
        let first: [u8; 17] = *b"81000019900101001";
        let hk = with_check(&first);
        let hk: IdNumber = hk.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hk.holder(), IdHolder::HongKongMacaoTaiwanResident);
    }

    fn digits17() -> impl Strategy<Value = [u8; 17]> {
        // Region 350102, a real date, any sequence.
        (1900i32..2030, 1u32..13, 1u32..29, 0u32..1000).prop_map(|(y, m, d, seq)| {
            let s = format!("350102{y:04}{m:02}{d:02}{seq:03}");
            let mut a = [0u8; 17];
            a.copy_from_slice(s.as_bytes());
            a
        })
    }

    proptest! {
        #[test]
        fn every_number_with_its_computed_check_char_parses(first in digits17()) {
            let s = with_check(&first);
            prop_assert!(s.parse::<IdNumber>().is_ok());
        }

        #[test]
        fn every_other_check_char_is_refused(first in digits17(), other in 0usize..11) {
            let right = IdNumber::check_char(&first);
            let wrong = char::from(ID_CHECK[other]);
            prop_assume!(wrong != right);
            let s = format!("{}{}", std::str::from_utf8(&first).unwrap_or(""), wrong);
            prop_assert_eq!(s.parse::<IdNumber>().unwrap_err().code, "id_number_check_digit");
        }

        #[test]
        fn changing_any_one_digit_is_detected(first in digits17(), pos in 0usize..17, delta in 1u8..10) {
            let s = with_check(&first);
            let mut b = s.into_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(b).unwrap_or_default();
            // A single substituted digit always breaks MOD 11-2 (or the region / date).
            prop_assert!(changed.parse::<IdNumber>().is_err());
        }
    }

    #[test]
    fn mobile_numbers_accept_country_prefixes_and_refuse_landlines() {
        for ok in ["13812345678", "+86 138 1234 5678", "0086-13812345678"] {
            let m: MobileNumber = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(m.as_str(), "13812345678");
            assert_eq!(m.masked(), "138****5678");
        }
        for bad in [
            "12812345678",
            "1381234567",
            "059187629565",
            "+85213812345678",
        ] {
            assert!(bad.parse::<MobileNumber>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_with_rare_characters_and_middle_dots_pass_and_odd_ones_do_not() {
        for ok in [
            "王𠈌",
            "阿依古丽・买买提",
            "阿依古丽·买买提",
            "林〇",
            "Anna Li",
        ] {
            assert!(ok.parse::<PersonName>().is_ok(), "{ok}");
        }
        let n: PersonName = "阿依古丽・买买提".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.as_str(), "阿依古丽·买买提");
        // A compatibility ideograph reaches the agencies as its unified character.
        let lin: PersonName = "\u{F9F4}强".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lin.as_str(), "\u{6797}强");
        let latin: PersonName = "Ａnna".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(latin.as_str(), "Anna");
        let cases = [
            ("", "name_length"),
            ("王\u{200B}五", "invisible_character"),
            ("王\u{0007}", "invisible_character"),
            ("张3", "name_character"),
            ("·张三", "name_middle_dot"),
            ("张😀", "name_character"),
            ("-", "name_letter"),
            ("' '", "name_letter"),
            ("- '", "name_letter"),
        ];
        for (bad, code) in cases {
            assert_eq!(bad.parse::<PersonName>().unwrap_err().code, code, "{bad:?}");
        }
    }

    // Examples from domain.md (GB 32100-2015).
    #[test]
    fn credit_codes_are_checked_mod_31() {
        assert!("91110000600037341L".parse::<CreditCode>().is_ok());
        assert!("121200004013590816".parse::<CreditCode>().is_ok());
        assert_eq!(
            "91110000600037341N".parse::<CreditCode>().unwrap_err().code,
            "credit_code_check"
        );
        assert_eq!(
            "9111000060003734IL".parse::<CreditCode>().unwrap_err().code,
            "credit_code_format"
        );
    }

    #[test]
    fn birth_certificate_numbers_are_a_letter_and_nine_digits() {
        assert!("Q350012345".parse::<BirthCertificateNumber>().is_ok());
        for bad in ["q350012345", "Q35001234", "QQ50012345"] {
            assert!(bad.parse::<BirthCertificateNumber>().is_err(), "{bad}");
        }
    }

    #[test]
    fn marriage_certificates_are_parsed_and_divorce_certificates_refused() {
        let m: MarriageCertificateNumber = "J350102-2020-000123"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.issuing_region().map(RegionCode::as_str), Some("350102"));
        assert_eq!(m.year(), Some(2020));
        assert!(!m.is_legacy());
        assert!(
            "BJ350203-2015-001234"
                .parse::<MarriageCertificateNumber>()
                .is_ok()
        );
        for d in ["L350102-2020-000123", "BL350102-2020-000123"] {
            assert_eq!(
                d.parse::<MarriageCertificateNumber>().unwrap_err().code,
                "marriage_certificate_is_divorce"
            );
        }
        assert_eq!(
            "J3501-2020-1"
                .parse::<MarriageCertificateNumber>()
                .unwrap_err()
                .code,
            "marriage_certificate_format"
        );
        let old: MarriageCertificateNumber = "闽榕字第1998-0231号"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(old.is_legacy());
    }
}
