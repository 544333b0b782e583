//! Administrative division codes (GB/T 2260) and the county list of Fujian.

use crate::text::Invalid;
use crate::text::parse_via_str;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A six-digit administrative division code (GB/T 2260): province (2), city (2), county (2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode(String);

impl RegionCode {
    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether the code lies under `prefix` (e.g. `35` Fujian, `3502` Xiamen, `350203` 思明区).
    pub fn is_within(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
    /// The prefecture-level city part, e.g. `3502`.
    pub fn city(&self) -> &str {
        &self.0[..4]
    }
}

impl std::str::FromStr for RegionCode {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Invalid::new(
                "region_code",
                "行政区划代码应为6位数字，如 350102",
                "a region code has six digits, e.g. 350102",
            ))
        }
    }
}
parse_via_str!(RegionCode);

/// One county-level division of Fujian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct County {
    /// Its code.
    pub code: String,
    /// Its name, e.g. 思明区.
    pub name: String,
    /// The name of its prefecture-level city, e.g. 厦门市.
    pub city: String,
}

impl County {
    /// A district (市辖区) of a prefecture-level city, as opposed to a county or county-level city.
    pub fn is_city_district(&self) -> bool {
        self.name.ends_with('区')
    }
}

#[derive(Deserialize)]
struct RawDivisions {
    cities: Vec<RawCity>,
}
#[derive(Deserialize)]
struct RawCity {
    name: String,
    counties: Vec<RawCounty>,
}
#[derive(Deserialize)]
struct RawCounty {
    code: String,
    name: String,
}

/// The current county-level divisions of Fujian (NBS 2023 division codes), embedded from
/// `data/fujian-admin-codes.json`.
pub fn fujian_counties() -> &'static BTreeMap<String, County> {
    static COUNTIES: OnceLock<BTreeMap<String, County>> = OnceLock::new();
    COUNTIES.get_or_init(|| {
        let raw: RawDivisions =
            serde_json::from_str(include_str!("../data/fujian-admin-codes.json"))
                .expect("the embedded Fujian division list is valid JSON (checked by the tests)");
        raw.cities
            .into_iter()
            .flat_map(|city| {
                city.counties.into_iter().map(move |c| {
                    (
                        c.code.clone(),
                        County {
                            code: c.code,
                            name: c.name,
                            city: city.name.clone(),
                        },
                    )
                })
            })
            .collect()
    })
}

/// Looks a current Fujian county up by code.
pub fn fujian_county(code: &RegionCode) -> Option<&'static County> {
    fujian_counties().get(code.as_str())
}

/// Whether two household registrations lie "in the same district area of one prefecture-level
/// city, or in the same county (county-level city)" (同一设区市市辖区或者同一县（市）范围内),
/// 闽卫政法〔2024〕40号 附件2 一(四).
///
/// Codes outside the known list are compared as equal codes only.
pub fn same_registration_area(a: &RegionCode, b: &RegionCode) -> bool {
    if a == b {
        return true;
    }
    match (fujian_county(a), fujian_county(b)) {
        (Some(ca), Some(cb)) => {
            ca.is_city_district() && cb.is_city_district() && a.city() == b.city()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RegionCode {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_embedded_list_has_all_84_fujian_counties() {
        assert_eq!(fujian_counties().len(), 84);
        assert_eq!(
            fujian_county(&code("350203")).map(|c| c.city.as_str()),
            Some("厦门市")
        );
    }

    #[test]
    fn districts_of_one_city_share_an_area_but_counties_do_not() {
        // 思明区 and 湖里区 are both 厦门市 districts.
        assert!(same_registration_area(&code("350203"), &code("350206")));
        // 鼓楼区 (福州) and 闽侯县 (福州) are not one area; 闽侯县 equals only itself.
        assert!(!same_registration_area(&code("350102"), &code("350121")));
        assert!(same_registration_area(&code("350121"), &code("350121")));
        // Districts of different cities are not one area.
        assert!(!same_registration_area(&code("350102"), &code("350203")));
    }
}
