//! What a simulated agency answers, and the result data it produces.

use chrono::{DateTime, Days, Utc};
use newborn_domain::calendar::CHINA;
use newborn_domain::ids::IdNumber;
use newborn_domain::stage::Stage;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A scripted answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scripted {
    /// Finish the stage with a result.
    Approve,
    /// Ask for materials.
    Supplement,
    /// (Hospital) the check passed: have the applicant confirm the generated forms.
    ConfirmForms,
    /// End the online flow.
    Offline,
    /// Never answer (for supervision tests).
    Hold,
}

/// Percentages of outcomes for unscripted dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Approve.
    pub approve: u32,
    /// Supplement (only where the platform says it is allowed, and only in round 1).
    pub supplement: u32,
    /// Go offline.
    pub offline: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            approve: 100,
            supplement: 0,
            offline: 0,
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;
    /// `approve=90,supplement=5,offline=5`
    fn from_str(s: &str) -> Result<Self, String> {
        let mut mix = Mix {
            approve: 0,
            supplement: 0,
            offline: 0,
        };
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("\"{part}\": expected name=percent"))?;
            let v: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("\"{part}\": percent must be a whole number"))?;
            match k.trim() {
                "approve" => mix.approve = v,
                "supplement" => mix.supplement = v,
                "offline" => mix.offline = v,
                other => {
                    return Err(format!(
                        "unknown outcome \"{other}\" (approve, supplement, offline)"
                    ));
                }
            }
        }
        if mix.approve + mix.supplement + mix.offline == 0 {
            return Err("the mix must give some outcome a share".into());
        }
        Ok(mix)
    }
}

fn hash(parts: &[&str]) -> u64 {
    let digest = Sha256::digest(parts.join("|").as_bytes());
    u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ])
}

/// The answer to a dispatch: the script's, else the hospital's confirmation step, else the mix.
pub fn choose(dispatch: &Value, script: Option<&[Scripted]>, mix: &Mix, round: u32) -> Scripted {
    if let Some(s) = script.filter(|s| !s.is_empty()) {
        return s[(round as usize).saturating_sub(1).min(s.len() - 1)];
    }
    let stage = dispatch["stage"].as_str().unwrap_or_default();
    let forms = dispatch["confirmation_forms"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if stage == "health_check" && round == 1 && forms {
        return Scripted::ConfirmForms;
    }
    let app = dispatch["application_id"].as_str().unwrap_or_default();
    let total = mix.approve + mix.supplement + mix.offline;
    let draw = (hash(&[app, stage, &round.to_string()]) % u64::from(total.max(1))) as u32;
    let may_supplement = round == 1 && dispatch["supplement_allowed"].as_bool().unwrap_or(false);
    if draw < mix.approve {
        Scripted::Approve
    } else if draw < mix.approve + mix.supplement {
        if may_supplement {
            Scripted::Supplement
        } else {
            Scripted::Approve
        }
    } else {
        Scripted::Offline
    }
}

/// The callback outcome for a choice, or `None` to stay silent.
pub fn callback_outcome(
    choice: Scripted,
    dispatch: &Value,
    stage: Stage,
    now: DateTime<Utc>,
) -> Result<Option<Value>, String> {
    let app = dispatch["application_id"].as_str().unwrap_or_default();
    Ok(Some(match choice {
        Scripted::Hold => return Ok(None),
        Scripted::ConfirmForms => {
            json!({"type": "confirm_forms", "forms": dispatch["confirmation_forms"]})
        }
        Scripted::Supplement => {
            let (item, zh, en) = match stage {
                Stage::HealthCheck => (
                    json!({"type": "document", "kind": "marriage_certificate"}),
                    "结婚证扫描件不清晰，请重新上传",
                    "the marriage certificate scan is unreadable",
                ),
                Stage::Police => (
                    json!({"type": "document", "kind": "household_booklet_registering_parent"}),
                    "落户方户口簿成员页不完整，请重新上传",
                    "the registering parent's booklet page is incomplete",
                ),
                Stage::Insurance => (
                    json!({"type": "field", "field": "insurance.community"}),
                    "参保所在社区（村）有误，请更正",
                    "the insurance community is wrong",
                ),
                _ => (
                    json!({"type": "document", "kind": "household_booklet_newborn"}),
                    "请上传新生儿户口簿当前页",
                    "upload the newborn's booklet page",
                ),
            };
            json!({"type": "supplement", "items": [item], "reason": {"zh": zh, "en": en}})
        }
        Scripted::Offline => {
            let (zh, en) = match stage {
                Stage::HealthCheck => (
                    "产妇分娩信息核对不一致，请到助产机构窗口办理",
                    "the delivery record does not match; please visit the hospital counter",
                ),
                Stage::Police => (
                    "不符合落户条件，请到户籍地派出所办理",
                    "the registration conditions are not met; please visit the police station",
                ),
                Stage::Insurance => (
                    "未参加申报地生育保险，请到医保窗口办理",
                    "no maternity insurance at the place of application; please visit the insurance counter",
                ),
                _ => (
                    "社保卡信息审核未通过，请到人社窗口办理",
                    "the card application failed review; please visit the social-security counter",
                ),
            };
            json!({"type": "go_offline", "reason": {"zh": zh, "en": en}})
        }
        Scripted::Approve => {
            let result = match stage {
                Stage::HealthCheck => json!({
                    "stage": "health_check",
                    "birth_certificate_number": format!("Q{:09}", hash(&[app, "birth"]) % 1_000_000_000),
                    "vaccination_certificate_issued": true,
                    // Only where the dispatch makes it the hospital's (永福县 五(三)6).
                    "parenting_guidance_registered": dispatch["services"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|x| x == "parenting_guidance")),
                }),
                Stage::Police => {
                    json!({"stage": "police", "newborn_id_number": newborn_id(dispatch)?})
                }
                // The hospital releases what the registration result calls for.
                Stage::CertificateRelease => json!({
                    "stage": "certificate_release",
                    "version": dispatch["release"]["version"],
                }),
                Stage::Insurance => {
                    let maternity = dispatch["services"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|x| x == "maternity_benefit"));
                    json!({"stage": "insurance", "enrolled": true, "maternity_benefit_approved": if maternity { Some(true) } else { None }})
                }
                Stage::SocialSecurityCard => json!({
                    "stage": "social_security_card",
                    "partner_bank": dispatch["partner_bank"].as_str().unwrap_or("中国建设银行"),
                    "ready_on": (now.with_timezone(&CHINA).date_naive() + Days::new(3)).to_string(),
                }),
                Stage::PreReview => return Err("the platform does not dispatch pre-review".into()),
            };
            json!({"type": "approve", "result": result})
        }
    }))
}

/// A valid GB 11643 number for the newborn: the registering parent's county, the birth date, a
/// sequence of the right parity for the sex, and the check character.
fn newborn_id(dispatch: &Value) -> Result<String, String> {
    let parent = dispatch["household"]["registering_parent"]
        .as_str()
        .unwrap_or("mother");
    let region = dispatch[parent]["household_region"]
        .as_str()
        .filter(|r| r.len() == 6)
        .unwrap_or("350102");
    let birth = dispatch["newborn"]["birth_time"]
        .as_str()
        .ok_or("no birth time")?;
    let date = DateTime::parse_from_rfc3339(birth)
        .map_err(|e| e.to_string())?
        .with_timezone(&CHINA)
        .format("%Y%m%d")
        .to_string();
    let male = dispatch["newborn"]["sex"] == "male";
    let app = dispatch["application_id"].as_str().unwrap_or_default();
    let mut seq = hash(&[app, "seq"]) % 1000;
    if (seq % 2 == 1) != male {
        seq = (seq + 1) % 1000;
    }
    let first = format!("{region}{date}{seq:03}");
    let mut digits = [0u8; 17];
    digits.copy_from_slice(first.as_bytes().get(..17).ok_or("bad id parts")?);
    Ok(format!("{first}{}", IdNumber::check_char(&digits)))
}
