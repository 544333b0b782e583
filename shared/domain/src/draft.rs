//! Starting from the hospital's birth record (无感申办): the hospital's system posts the delivery
//! it recorded ([`BirthRecord`]); the platform keeps one [`Draft`] per child, pre-filled, and the
//! mother completes it with only what the hospital does not hold ([`DraftAnswer`]): her choices
//! (services, delivery), the household and insurance data, and the pledge. Nothing the hospital
//! sent can be typed again or changed: the answer has no field for it (its fields are closed),
//! and the form is built from the record ([`Draft::form`]), then checked like any other.
//!
//! Twins arrive as one record with several newborns and become linked drafts, one per child
//! (the notice's applications are per child; the maternity benefit is claimed once per delivery,
//! docs/rules.md FJ2-TWINS). A draft not confirmed by [`Draft::expires_at`] is deleted with all its
//! personal data (PIPL art. 19 and 47: kept no longer than its purpose needs; deleted when the
//! purpose lapses). No document of the seeds describes this start; it is ours (docs/rules.md
//! OURS-DRAFT), built on the hospital's data the notice already has the platform receive
//! (闽卫政法〔2024〕40号 附件1 三(一)2: 基卫系统自动调取产妇分娩信息).

use crate::application::{
    ApplicationForm, Births, CardRequest, Delivery, DeliveryMode, DocumentRef, FieldIssue,
    Hospital, HouseholdKind, HouseholdRegistration, InsuranceEnrolment, Maternity, Newborn, Parent,
    Payout, Pledge, Service, Sex, Text,
};
use crate::ids::{IdNumber, MarriageCertificateNumber, MobileNumber, PersonName};
use crate::kinds::{ApplicationId, Case, LicenceRef, ParentRole};
use crate::region::RegionCode;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most children one delivery record may name.
pub const MAX_NEWBORNS: usize = 6;

/// The mother as the hospital recorded her.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedMother {
    /// 姓名
    pub name: PersonName,
    /// 公民身份号码: whose account may see and confirm the drafts.
    pub id_number: IdNumber,
    /// 联系电话: where the platform tells her of the drafts.
    pub phone: MobileNumber,
}

/// The father as the hospital recorded him (the certificate's 父亲 fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedFather {
    /// 姓名
    pub name: PersonName,
    /// 公民身份号码
    pub id_number: IdNumber,
}

/// One child as the hospital recorded it (the certificate's 新生儿 fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedNewborn {
    /// 新生儿姓名
    pub name: PersonName,
    /// 性别
    pub sex: Sex,
    /// 出生时间
    pub birth_time: DateTime<FixedOffset>,
    /// 出生孕周
    pub gestational_weeks: u8,
    /// 出生体重（克）
    pub weight_grams: u16,
    /// 出生身长（厘米）
    pub length_cm: u8,
    /// 住院病历号: the hospital always has it, and its check of the application needs it.
    pub medical_record_number: Text,
    /// 接生人员
    #[serde(default)]
    pub birth_attendant: Option<PersonName>,
}

/// What the hospital's system (基卫系统) posts after a delivery: the birth event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirthRecord {
    /// The hospital's number of the delivery (分娩记录号): with the hospital's credit code it
    /// names the delivery, so the same record posted again makes no second draft.
    pub delivery_id: Text,
    /// 医疗机构
    pub hospital: Hospital,
    /// 出生地点: the hospital's county-level division.
    pub birthplace: RegionCode,
    /// 母亲
    pub mother: RecordedMother,
    /// 父亲, where the hospital recorded him.
    #[serde(default)]
    pub father: Option<RecordedFather>,
    /// 分娩方式
    pub delivery_mode: DeliveryMode,
    /// The children of the delivery, in birth order: two or more are twins (多胞胎).
    pub newborns: Vec<RecordedNewborn>,
}

impl BirthRecord {
    /// Every problem that keeps the record from making drafts at `now`, at once.
    pub fn check(&self, now: DateTime<Utc>) -> Vec<FieldIssue> {
        let mut issues = vec![];
        if self.newborns.is_empty() || self.newborns.len() > MAX_NEWBORNS {
            issues.push(FieldIssue::new(
                "newborns",
                "newborn_count",
                format!("一次分娩记录应有1至{MAX_NEWBORNS}名新生儿"),
                format!("a delivery record names 1 to {MAX_NEWBORNS} newborns"),
            ));
        }
        for (i, n) in self.newborns.iter().enumerate() {
            if n.birth_time.with_timezone(&Utc) > now + Duration::minutes(5) {
                issues.push(FieldIssue::new(
                    &format!("newborns[{i}].birth_time"),
                    "birth_in_future",
                    "出生时间晚于当前时间",
                    "the birth time is in the future",
                ));
            }
        }
        let times: Vec<_> = self.newborns.iter().map(|n| n.birth_time).collect();
        if let (Some(first), Some(last)) = (times.iter().min(), times.iter().max())
            && *last - *first > Duration::hours(48)
        {
            issues.push(FieldIssue::new(
                "newborns",
                "not_one_delivery",
                "同一次分娩的新生儿出生时间相差超过48小时，请分别报送",
                "the newborns of one delivery were born more than 48 hours apart; post them as separate deliveries",
            ));
        }
        if self
            .father
            .as_ref()
            .is_some_and(|f| f.id_number == self.mother.id_number)
        {
            issues.push(FieldIssue::new(
                "father.id_number",
                "same_as_mother",
                "父亲与母亲的公民身份号码相同",
                "the father's identity number is the mother's",
            ));
        }
        issues
    }

    /// The birth date (China) of the delivery's first child.
    pub fn born(&self) -> Option<chrono::NaiveDate> {
        self.newborns
            .iter()
            .map(|n| {
                n.birth_time
                    .with_timezone(&crate::calendar::CHINA)
                    .date_naive()
            })
            .min()
    }

    /// When the drafts of this record made at `now` under `policy` end: after the policy's
    /// `[drafts] confirm_days`, and never past the age online handling ends at (闽卫政法〔2024〕40号
    /// 附件1 二(一) and the regions' limits), since a draft its mother could no longer confirm
    /// would only keep her data. `None` when that is already past: no draft is made.
    pub fn expiry(
        &self,
        policy: &crate::policy::Policy,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let age_ends = self
            .born()?
            .checked_add_months(chrono::Months::new(
                policy.eligibility.newborn_age.under_months,
            ))?
            .and_hms_opt(0, 0, 0)?
            .and_local_timezone(crate::calendar::CHINA)
            .single()?
            .to_utc();
        let expiry = (now + Duration::days(i64::from(policy.drafts.confirm_days))).min(age_ends);
        (expiry > now).then_some(expiry)
    }

    /// The delivery's key: the hospital's credit code and its delivery number.
    pub fn delivery_key(&self) -> String {
        format!(
            "{}/{}",
            self.hospital.credit_code.as_str(),
            self.delivery_id.as_str()
        )
    }

    /// The children's drafts, with the ids `ids` gives each child (by its 0-based position),
    /// kept until `expires_at`.
    pub fn drafts(
        &self,
        ids: impl Fn(usize) -> ApplicationId,
        policy: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Vec<Draft> {
        let all: Vec<ApplicationId> = (0..self.newborns.len()).map(&ids).collect();
        let births = match self.newborns.len() {
            1 => Births::Singleton,
            n => Births::Multiple { count: n as u8 },
        };
        self.newborns
            .iter()
            .enumerate()
            .map(|(i, n)| Draft {
                id: all[i].clone(),
                delivery: self.delivery_key(),
                position: i as u8 + 1,
                siblings: all.iter().filter(|s| **s != all[i]).cloned().collect(),
                newborn: Newborn {
                    name: n.name.clone(),
                    sex: n.sex,
                    birth_time: n.birth_time,
                    gestational_weeks: n.gestational_weeks,
                    weight_grams: n.weight_grams,
                    length_cm: n.length_cm,
                    birthplace: self.birthplace.clone(),
                    hospital: self.hospital.clone(),
                    medical_record_number: Some(n.medical_record_number.clone()),
                    birth_attendant: n.birth_attendant.clone(),
                },
                mother: self.mother.clone(),
                father: self.father.clone(),
                births,
                delivery_mode: self.delivery_mode,
                policy: policy.to_owned(),
                created_at: now,
                expires_at,
            })
            .collect()
    }
}

/// One child's pre-filled application, waiting for the mother's confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The id the application will have once confirmed.
    pub id: ApplicationId,
    /// The delivery it comes from (hospital credit code / delivery number).
    pub delivery: String,
    /// The child's place in the delivery, from 1.
    pub position: u8,
    /// The drafts of the other children of the same delivery (twins).
    pub siblings: Vec<ApplicationId>,
    /// The child, as the hospital recorded it.
    pub newborn: Newborn,
    /// The mother, as recorded.
    pub mother: RecordedMother,
    /// The father, as recorded.
    pub father: Option<RecordedFather>,
    /// 单胞胎 / 多胞胎, from the number of children recorded.
    pub births: Births,
    /// 分娩方式
    pub delivery_mode: DeliveryMode,
    /// The policy governing the birth.
    pub policy: String,
    /// When the record arrived.
    pub created_at: DateTime<Utc>,
    /// When the draft and its personal data are deleted unless confirmed.
    pub expires_at: DateTime<Utc>,
}

/// What a parent adds to her record in the form (民族, 户籍): the fields the hospital does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentDetails {
    /// 民族
    pub ethnicity: Text,
    /// 户籍地址
    pub household_address: Text,
    /// The county-level division of the household registration.
    pub household_region: RegionCode,
    /// 家庭户 or 集体户
    pub household_kind: HouseholdKind,
    /// 结婚证字号
    #[serde(default)]
    pub marriage_certificate: Option<MarriageCertificateNumber>,
    /// 联系电话: the mother's is the hospital's; the father's is given here.
    #[serde(default)]
    pub phone: Option<MobileNumber>,
}

/// The mother's completion of a draft: her choices and what the hospital does not hold. It has
/// no field for anything the hospital recorded (the newborn, the names and identity numbers,
/// the delivery), so those cannot be re-typed or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftAnswer {
    /// The services chosen (办理事项).
    pub services: BTreeSet<Service>,
    /// The mother's details.
    pub mother: ParentDetails,
    /// The father's details, required when the hospital recorded a father.
    #[serde(default)]
    pub father: Option<ParentDetails>,
    /// 出生登记
    #[serde(default)]
    pub household: Option<HouseholdRegistration>,
    /// 参保登记
    #[serde(default)]
    pub insurance: Option<InsuranceEnrolment>,
    /// Where the maternity benefit is paid, when it is chosen (births and delivery mode are
    /// the hospital's).
    #[serde(default)]
    pub maternity_payout: Option<Payout>,
    /// 社会保障卡
    #[serde(default)]
    pub card: Option<CardRequest>,
    /// 送达方式
    #[serde(default)]
    pub delivery: Delivery,
    /// Scans for materials the directory holds no licence of.
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
    /// 申请人承诺
    pub pledge: Pledge,
    /// The policy's declarations (确认), by id.
    #[serde(default)]
    pub declarations: BTreeSet<Text>,
}

impl Draft {
    /// The application form of this draft completed by `answer`, with the licences on file
    /// `licences` for the materials the answer gives no scan of. The mother applies (情形一:
    /// the hospital issues the certificate).
    pub fn form(
        &self,
        answer: DraftAnswer,
        licences: Vec<LicenceRef>,
    ) -> Result<ApplicationForm, Vec<FieldIssue>> {
        let mut issues = vec![];
        let mother = Parent {
            name: self.mother.name.clone(),
            id_number: self.mother.id_number.clone(),
            ethnicity: answer.mother.ethnicity,
            phone: self.mother.phone.clone(),
            household_address: answer.mother.household_address,
            household_region: answer.mother.household_region,
            household_kind: answer.mother.household_kind,
            marriage_certificate: answer.mother.marriage_certificate,
        };
        if answer.mother.phone.is_some() {
            issues.push(FieldIssue::new(
                "mother.phone",
                "recorded_by_hospital",
                "母亲的联系电话以医院记录为准，无需填写",
                "the mother's phone is the hospital's record; it is not given here",
            ));
        }
        let father = match (&self.father, answer.father) {
            (Some(f), Some(d)) => match d.phone {
                Some(phone) => Some(Parent {
                    name: f.name.clone(),
                    id_number: f.id_number.clone(),
                    ethnicity: d.ethnicity,
                    phone,
                    household_address: d.household_address,
                    household_region: d.household_region,
                    household_kind: d.household_kind,
                    marriage_certificate: d.marriage_certificate,
                }),
                None => {
                    issues.push(FieldIssue::new(
                        "father.phone",
                        "required",
                        "请填写父亲的联系电话",
                        "the father's phone is required",
                    ));
                    None
                }
            },
            (Some(_), None) => {
                issues.push(FieldIssue::new(
                    "father",
                    "required",
                    "医院记录了父亲的信息，请补充父亲的民族、户籍和联系电话",
                    "the hospital recorded the father: give his ethnicity, household and phone",
                ));
                None
            }
            (None, Some(_)) => {
                issues.push(FieldIssue::new(
                    "father",
                    "not_on_record",
                    "医院的出生记录中没有父亲的信息，不能在预填申请中补充；请通过“出生一件事”普通申请办理",
                    "the hospital's record names no father, so he cannot be added to the draft: apply with the full form instead",
                ));
                None
            }
            (None, None) => None,
        };
        if !issues.is_empty() {
            return Err(issues);
        }
        let maternity = answer.maternity_payout.map(|payout| Maternity {
            births: self.births,
            delivery_mode: self.delivery_mode,
            payout,
        });
        let given: BTreeSet<_> = answer.documents.iter().map(|d| d.kind).collect();
        let licences = licences
            .into_iter()
            .filter(|l| !given.contains(&l.kind))
            .collect();
        Ok(ApplicationForm {
            case: Case::Full,
            applicant: ParentRole::Mother,
            services: answer.services,
            newborn: self.newborn.clone(),
            mother,
            father,
            household: answer.household,
            insurance: answer.insurance,
            maternity,
            card: answer.card,
            delivery: answer.delivery,
            existing: Default::default(),
            authorisation: None,
            documents: answer.documents,
            licences,
            pledge: answer.pledge,
            declarations: answer.declarations,
        })
    }

    /// The licences of `records` (the directory's, held by or authorised to the mother) that
    /// can stand for this form's materials under `policy` on `today`: kinds the policy takes as
    /// licences, of the parent the material is (the father's only where he authorised it to her),
    /// still valid. Pre-review looks each up again and judges it like any other.
    pub fn licences_on_file(
        &self,
        records: &[crate::licence::LicenceRecord],
        policy: &crate::policy::Policy,
        today: chrono::NaiveDate,
    ) -> Vec<LicenceRef> {
        use crate::policy::LicenceHolder;
        let Some(rules) = &policy.licences else {
            return vec![];
        };
        let mother = &self.mother.id_number;
        let father = self.father.as_ref().map(|f| &f.id_number);
        records
            .iter()
            .filter(|r| r.valid_until.is_none_or(|d| d >= today))
            .filter(|r| {
                let mine = &r.holder_id_number == mother;
                let his = Some(&r.holder_id_number) == father
                    && r.grants
                        .iter()
                        .any(|g| &g.grantee_id_number == mother && g.valid_until >= today);
                rules.kinds.iter().any(|rule| {
                    rule.kind == r.kind
                        && match rule.holder {
                            LicenceHolder::Mother => mine,
                            LicenceHolder::Father => his,
                            LicenceHolder::EitherParent => mine || his,
                        }
                })
            })
            .filter_map(|r| {
                Some(LicenceRef {
                    kind: r.kind,
                    holder_id_number: r.holder_id_number.clone(),
                    number: r.number.parse().ok()?,
                    issuer: r.issuer.parse().ok()?,
                })
            })
            .collect()
    }

    /// Whether the draft is past its confirmation window at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Who may see and confirm it: the mother's identity number.
    pub fn belongs_to(&self, id_number: &IdNumber) -> bool {
        &self.mother.id_number == id_number
    }
}

/// Parses the mother's answer; the first malformed field is reported with its path. A field the
/// answer does not have (anything the hospital recorded) is refused as unknown.
pub fn parse_answer(json: &[u8]) -> Result<DraftAnswer, FieldIssue> {
    crate::application::parse_json(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(children: usize) -> BirthRecord {
        let newborn = |i: usize| {
            serde_json::from_value::<RecordedNewborn>(serde_json::json!({
                "name": if i == 0 { "林小安" } else { "林小宁" },
                "sex": "female",
                "birth_time": format!("2025-03-01T08:{:02}:00+08:00", 10 + i),
                "gestational_weeks": 38, "weight_grams": 3100, "length_cm": 50,
                "medical_record_number": "ZY2025000123",
            }))
            .unwrap()
        };
        serde_json::from_value::<BirthRecord>(serde_json::json!({
            "delivery_id": "FD-2025-0001",
            "hospital": {"name": "福建省妇幼保健院", "credit_code": "12350100488099123X"},
            "birthplace": "350102",
            "mother": {"name": "林芳", "id_number": "35010219940315002X", "phone": "13800000001"},
            "father": {"name": "陈伟", "id_number": "350203199207080011"},
            "delivery_mode": "caesarean",
            "newborns": [],
        }))
        .map(|mut r| {
            r.newborns = (0..children).map(newborn).collect();
            r
        })
        .unwrap()
    }

    fn id(i: usize) -> ApplicationId {
        format!("NB20250301D{i}").parse().unwrap()
    }

    fn answer() -> serde_json::Value {
        serde_json::json!({
            "services": ["birth_certificate", "vaccination_certificate"],
            "mother": {"ethnicity": "汉族", "household_address": "福州市鼓楼区", "household_region": "350102", "household_kind": "family", "marriage_certificate": "J350102-2020-000123"},
            "father": {"ethnicity": "汉族", "household_address": "厦门市思明区", "household_region": "350203", "household_kind": "family", "phone": "13900000002"},
            "pledge": {"truthful": true},
        })
    }

    fn now() -> DateTime<Utc> {
        "2025-03-02T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn twins_become_linked_drafts_that_share_the_delivery() {
        let r = record(2);
        assert!(r.check(now()).is_empty());
        let drafts = r.drafts(id, "fujian-2.0", now(), now() + Duration::days(30));
        assert_eq!(drafts.len(), 2);
        assert_eq!(drafts[0].siblings, vec![id(1)]);
        assert_eq!(drafts[1].siblings, vec![id(0)]);
        assert_eq!(drafts[0].births, Births::Multiple { count: 2 });
        assert_eq!(drafts[1].position, 2);
        assert_eq!(drafts[0].delivery, drafts[1].delivery);
        assert_ne!(drafts[0].newborn.name, drafts[1].newborn.name);
    }

    #[test]
    fn the_form_carries_the_hospitals_facts_and_only_the_mothers_choices() {
        let r = record(1);
        let d = &r.drafts(id, "fujian-2.0", now(), now() + Duration::days(30))[0];
        assert_eq!(d.births, Births::Singleton);
        let a = parse_answer(answer().to_string().as_bytes()).unwrap();
        let form = d.form(a, vec![]).unwrap();
        assert_eq!(form.newborn.name.as_str(), "林小安");
        assert_eq!(form.newborn.hospital, r.hospital);
        assert_eq!(form.mother.id_number, r.mother.id_number);
        assert_eq!(form.father.as_ref().unwrap().name.as_str(), "陈伟");
        assert_eq!(form.case, Case::Full);
        assert_eq!(form.applicant, ParentRole::Mother);
    }

    #[test]
    fn an_answer_that_names_a_recorded_fact_is_refused_under_its_field() {
        for (path, value) in [
            ("newborn", serde_json::json!({"name": "王五"})),
            ("case", serde_json::json!("full")),
            ("documents_extra", serde_json::json!(1)),
        ] {
            let mut a = answer();
            a[path] = value;
            let e = parse_answer(a.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.field, path, "{e:?}");
        }
        let mut a = answer();
        a["mother"]["name"] = serde_json::json!("王五");
        let e = parse_answer(a.to_string().as_bytes()).unwrap_err();
        assert!(e.field.starts_with("mother"), "{e:?}");
        let mut a = answer();
        a["mother"]["phone"] = serde_json::json!("13700000000");
        let d = &record(1).drafts(id, "p", now(), now())[0];
        let e = d
            .form(parse_answer(a.to_string().as_bytes()).unwrap(), vec![])
            .unwrap_err();
        assert_eq!(e[0].field, "mother.phone");
    }

    #[test]
    fn the_fathers_details_follow_the_record() {
        let d = &record(1).drafts(id, "p", now(), now())[0];
        let mut a = answer();
        a.as_object_mut().unwrap().remove("father");
        let e = d
            .form(parse_answer(a.to_string().as_bytes()).unwrap(), vec![])
            .unwrap_err();
        assert_eq!(
            (e[0].field.as_str(), e[0].error.code.as_str()),
            ("father", "required")
        );
        let mut r = record(1);
        r.father = None;
        let d = &r.drafts(id, "p", now(), now())[0];
        let e = d
            .form(
                parse_answer(answer().to_string().as_bytes()).unwrap(),
                vec![],
            )
            .unwrap_err();
        assert_eq!(e[0].error.code, "not_on_record");
    }

    #[test]
    fn a_record_that_is_not_one_delivery_is_refused() {
        let mut r = record(2);
        r.newborns[1].birth_time = "2025-03-04T08:00:00+08:00".parse().unwrap();
        assert_eq!(
            r.check(now() + Duration::days(10))[0].error.code,
            "not_one_delivery"
        );
        let r = record(0);
        assert_eq!(r.check(now())[0].error.code, "newborn_count");
        let r = record(1);
        let before: DateTime<Utc> = "2025-02-28T00:00:00Z".parse().unwrap();
        assert_eq!(r.check(before)[0].error.code, "birth_in_future");
    }

    #[test]
    fn drafts_last_the_policys_days_and_never_past_the_online_age() {
        let policies = crate::policy::PolicyRegistry::builtin();
        let policy = |id: &str| policies.latest(id).unwrap();
        // Born 2025-03-01: Fujian handles it online for 12 months, Yongfu for 1.
        let r = record(1);
        assert_eq!(
            r.expiry(policy("fujian-2.0"), now()),
            Some(now() + Duration::days(30))
        );
        let month_ends: DateTime<Utc> = "2025-03-31T16:00:00Z".parse().unwrap();
        assert_eq!(
            r.expiry(policy("guangxi-yongfu"), now()),
            Some(month_ends),
            "2025-04-01 00:00 China time"
        );
        assert_eq!(r.expiry(policy("guangxi-yongfu"), month_ends), None);
    }

    #[test]
    fn a_draft_expires_at_its_instant() {
        let d = &record(1).drafts(id, "p", now(), now() + Duration::days(30))[0];
        assert!(!d.expired(now() + Duration::days(30) - Duration::seconds(1)));
        assert!(d.expired(now() + Duration::days(30)));
        assert!(d.belongs_to(&record(1).mother.id_number));
        assert!(!d.belongs_to(&record(1).father.unwrap().id_number));
    }
}
