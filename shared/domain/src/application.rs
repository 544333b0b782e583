//! The one application form (一表申请) and its parts.
//!
//! Fields follow the registration form of 永福县 (新生儿出生“一件事”办理登记表, 附件1) and the
//! materials lists of 闽卫政法〔2024〕40号 附件2 and the Xiamen service guide (办理材料). Formats
//! are validated while parsing ([`parse_form`]); cross-field facts by [`ApplicationForm::check`],
//! which reports every problem at once, as the Guangxi process requires of a counter
//! ("一次性告知申请人补正材料", 附件2 五(二)).

use crate::calendar::CHINA;
use crate::ids::{
    BirthCertificateNumber, CreditCode, IdNumber, MarriageCertificateNumber, MobileNumber,
    PersonName,
};
pub use crate::kinds::{
    BankAccountNumber, Case, DocumentKind, ParentRole, Service, Sha256Hex, Text,
};
use crate::kinds::{LicenceRef, Stage};
use crate::policy::Policy;
use crate::region::RegionCode;
use crate::text::Invalid;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// 性别
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// 男
    Male,
    /// 女
    Female,
}

/// 血型
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BloodType {
    /// A
    A,
    /// B
    B,
    /// O
    O,
    /// AB
    Ab,
    /// 不明
    Unknown,
}

/// 家庭户 or 集体户.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdKind {
    /// 家庭户
    Family,
    /// 集体户
    Collective,
}

/// The hospital (助产机构) where the child was born.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hospital {
    /// 医疗机构名称
    pub name: Text,
    /// 统一社会信用代码
    pub credit_code: CreditCode,
}

/// The newborn (基本信息).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Newborn {
    /// 新生儿姓名
    pub name: PersonName,
    /// 性别
    pub sex: Sex,
    /// 出生时间 (RFC 3339 with offset)
    pub birth_time: DateTime<FixedOffset>,
    /// 出生孕周
    pub gestational_weeks: u8,
    /// 出生体重（克）
    pub weight_grams: u16,
    /// 出生身长（厘米）
    pub length_cm: u8,
    /// 出生地点: the county-level division of the hospital
    pub birthplace: RegionCode,
    /// 医疗机构
    pub hospital: Hospital,
    /// 住院病历号: hospital-only data, for the hospital's check in case 1; cases 2 and 3 involve no
    /// hospital and need none (闽卫政法〔2024〕40号 附件2 二(一), 三(一)).
    #[serde(default)]
    pub medical_record_number: Option<Text>,
    /// 接生人员
    #[serde(default)]
    pub birth_attendant: Option<PersonName>,
}

/// A parent (母亲 / 父亲).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parent {
    /// 姓名
    pub name: PersonName,
    /// 公民身份号码
    pub id_number: IdNumber,
    /// 民族
    pub ethnicity: Text,
    /// 联系电话
    pub phone: MobileNumber,
    /// 户籍地址
    pub household_address: Text,
    /// The county-level division of the household registration (户籍地).
    pub household_region: RegionCode,
    /// 家庭户 or 集体户
    pub household_kind: HouseholdKind,
    /// 结婚证字号: absent for unmarried parents, who cannot apply online (闽卫政法〔2024〕40号
    /// 附件2 一(二)); pre-review sends them offline with that reason instead of refusing the form.
    #[serde(default)]
    pub marriage_certificate: Option<MarriageCertificateNumber>,
}

/// The household registration choice (出生登记).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdRegistration {
    /// 落户方: the parent the newborn registers with
    pub registering_parent: ParentRole,
    /// 派出所
    pub police_station: Text,
    /// 户主姓名
    pub head_of_household: PersonName,
    /// 户主公民身份号码
    #[serde(default)]
    pub head_id_number: Option<IdNumber>,
    /// 新生儿与户主关系
    pub relation_to_head: Text,
    /// 新生儿籍贯
    pub native_place: Text,
    /// 血型
    pub blood_type: BloodType,
    /// 落户地址
    pub address: Text,
    /// 新生儿申请随父亲民族 / 母亲民族
    pub ethnicity_from: ParentRole,
}

/// 参保登记: where the newborn is enrolled in the residents' medical insurance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsuranceEnrolment {
    /// 新生儿医保参保地 (county-level division)
    pub region: RegionCode,
    /// 所在社区（村）
    pub community: Text,
    /// 联系地址
    pub address: Text,
}

/// 单胞胎 / 多胞胎
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Births {
    /// 单胞胎
    Singleton,
    /// 多胞胎
    Multiple {
        /// How many children were born.
        count: u8,
    },
}

/// 分娩方式
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// 顺产
    Spontaneous,
    /// 难产
    Assisted,
    /// 剖宫产
    Caesarean,
}

/// Where the maternity benefit is paid (发放至母亲社会保障卡 / 银行卡).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case", deny_unknown_fields)]
pub enum Payout {
    /// 发放至母亲社会保障卡
    SocialSecurityCard,
    /// 发放至母亲银行卡
    BankAccount {
        /// 开户行
        bank: Text,
        /// 开户支行
        branch: Text,
        /// 银行账号
        account: BankAccountNumber,
    },
}

/// 生育医疗费用 / 生育保险待遇 data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maternity {
    /// 单胞胎 / 多胞胎
    pub births: Births,
    /// 分娩方式
    pub delivery_mode: DeliveryMode,
    /// 发放方式
    pub payout: Payout,
}

/// A postal address for mailed results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailAddress {
    /// 收件人
    pub recipient: PersonName,
    /// 联系电话
    pub phone: MobileNumber,
    /// 邮寄地址
    pub address: Text,
}

/// How one result document reaches the family (送达方式). Which are offered for which document is
/// the policy's `[collection]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeliveryChoice {
    /// 自行领取
    Pickup,
    /// 委托新生儿父亲领取 (永福县 四(六), 七(一)1: with the mother's signed and fingerprinted letter
    /// and both parents' identity cards)
    PickupByFather,
    /// 邮寄送达（自费）
    Mail {
        /// Where to.
        address: MailAddress,
    },
    /// 重新打印户口簿后寄回（邮费自付），原户口簿自然作废 (莆卫办〔2022〕44号 二(二)3)
    Reprint {
        /// Where the new booklet is mailed.
        address: MailAddress,
    },
}

impl DeliveryChoice {
    /// Its method, as the policy names it.
    pub fn method(&self) -> crate::kinds::CollectionMethod {
        use crate::kinds::CollectionMethod as M;
        match self {
            DeliveryChoice::Pickup => M::Pickup,
            DeliveryChoice::PickupByFather => M::PickupByFather,
            DeliveryChoice::Mail { .. } => M::Mail,
            DeliveryChoice::Reprint { .. } => M::Reprint,
        }
    }

    /// Whether the document travels by post.
    pub fn by_post(&self) -> bool {
        matches!(
            self,
            DeliveryChoice::Mail { .. } | DeliveryChoice::Reprint { .. }
        )
    }
}

/// Delivery choice per document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// 出生医学证明
    #[serde(default)]
    pub birth_certificate: Option<DeliveryChoice>,
    /// 户口簿
    #[serde(default)]
    pub household_booklet: Option<DeliveryChoice>,
    /// 社会保障卡
    #[serde(default)]
    pub social_security_card: Option<DeliveryChoice>,
}

/// Records the family already holds (cases 2 and 3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingRecords {
    /// 出生医学证明编号, for case 2.
    #[serde(default)]
    pub birth_certificate_number: Option<BirthCertificateNumber>,
    /// The newborn's 公民身份号码, for case 3.
    #[serde(default)]
    pub newborn_id_number: Option<IdNumber>,
    /// Case 2's confirmation that the family holds the full certificate, main page and
    /// counterfoil (闽卫政法〔2024〕40号 附件2 二(一) "申请时需确认已持有正、副页完全版的《出生医学证明》");
    /// the police use the electronic certificate, so no scan is asked for.
    #[serde(default)]
    pub full_certificate_held: bool,
}

/// The term of the mother's authorisation letter (委托期限), 闽卫政法〔2024〕40号 附件3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorisation {
    /// 委托期限 from
    pub valid_from: NaiveDate,
    /// 委托期限 until (inclusive)
    pub valid_until: NaiveDate,
}

/// An uploaded document referenced by the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    /// What it shows.
    pub kind: DocumentKind,
    /// Its SHA-256, which addresses the stored scan.
    pub sha256: Sha256Hex,
}

/// The partner bank chosen for the social-security card (社保卡合作银行).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// 合作银行, e.g. 中国建设银行.
    pub partner_bank: Text,
}

/// 申请人承诺 (闽卫政法〔2024〕40号 附件2 一(八), 二(八), 三(七)): "申请人承诺所填写内容和提供的
/// 材料是真实的。若有隐瞒事实真相、提供虚假材料等行为，自愿承担由此产生的法律后果。"
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pledge {
    /// The applicant affirms the pledge's text.
    pub truthful: bool,
}

/// The pledge's text, as the applicant affirms it.
pub const PLEDGE_TEXT: (&str, &str) = (
    "本人承诺所填写内容和提供的材料是真实的。若有隐瞒事实真相、提供虚假材料等行为，自愿承担由此产生的法律后果。",
    "I promise that what I filled in and the materials I provided are true; for concealing facts or providing false materials I accept the legal consequences.",
);

/// The one application form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    /// Which case (办理情形).
    pub case: Case,
    /// Who applies: the mother, or the father with her authorisation.
    pub applicant: ParentRole,
    /// The services chosen (办理事项).
    pub services: BTreeSet<Service>,
    /// 新生儿
    pub newborn: Newborn,
    /// 母亲
    pub mother: Parent,
    /// 父亲: absent for a single mother, who cannot apply online (闽卫政法〔2024〕40号 附件2
    /// 一(二) "暂不支持单亲母亲…进行申请"); pre-review sends her offline with that reason.
    #[serde(default)]
    pub father: Option<Parent>,
    /// 出生登记, required when household registration is chosen.
    #[serde(default)]
    pub household: Option<HouseholdRegistration>,
    /// 参保登记, required when medical-insurance enrolment is chosen.
    #[serde(default)]
    pub insurance: Option<InsuranceEnrolment>,
    /// 生育保险, required when the maternity benefit is chosen.
    #[serde(default)]
    pub maternity: Option<Maternity>,
    /// 社会保障卡: the partner bank, which may also be chosen later.
    #[serde(default)]
    pub card: Option<CardRequest>,
    /// 送达方式
    #[serde(default)]
    pub delivery: Delivery,
    /// Records already held (cases 2 and 3).
    #[serde(default)]
    pub existing: ExistingRecords,
    /// The mother's authorisation, when the father applies.
    #[serde(default)]
    pub authorisation: Option<Authorisation>,
    /// Uploaded documents.
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
    /// Electronic licences given instead of scans (闽卫政法〔2024〕40号 附件2 一(一): 电子证照或扫描件).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<crate::kinds::LicenceRef>,
    /// 申请人承诺, affirmed before submitting.
    pub pledge: Pledge,
    /// The policy's declarations (确认) the applicant makes, by id (e.g. Yongfu's
    /// `insured_in_guangxi`); pre-review sends an application lacking one offline with its text.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub declarations: BTreeSet<crate::kinds::Text>,
}

/// A problem with one field of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    /// The field, as a dotted path, e.g. `mother.id_number`.
    pub field: String,
    /// What is wrong.
    #[serde(flatten)]
    pub error: Invalid,
}

impl FieldIssue {
    pub(crate) fn new(
        field: &str,
        code: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            field: field.to_owned(),
            error: Invalid::new(code, zh, en),
        }
    }
}

/// Parses a submitted form (JSON), validating every field's format.
///
/// The first malformed field is reported with its path and a bilingual message.
pub fn parse_form(json: &[u8]) -> Result<ApplicationForm, FieldIssue> {
    parse_json(json)
}

/// Parses JSON of the applicant's into `T`, reporting the first malformed field with its path
/// and a bilingual message.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, FieldIssue> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut field = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde names a missing member by the path of the object holding it.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next());
        if let Some(member) = missing {
            field = match field.as_str() {
                "." | "" => member.to_owned(),
                parent => format!("{parent}.{member}"),
            };
            let label = crate::fields::label(&field);
            return FieldIssue::new(
                &field,
                "missing",
                format!("请填写{}", label.zh),
                format!("{} is missing", label.en),
            );
        }
        let error = Invalid::from_serde_message(&message).unwrap_or_else(|| {
            let detail = crate::text::without_values(&message);
            let label = crate::fields::label(&field);
            Invalid::new(
                "malformed",
                format!("{}格式错误：{detail}", label.zh),
                format!("{} is malformed: {detail}", label.en),
            )
        });
        FieldIssue { field, error }
    })
}

/// Plausibility bounds for the newborn's measurements. These are not from the notices: they
/// only catch typing slips (a weight in kilograms, a length in millimetres).
const GESTATION_WEEKS: std::ops::RangeInclusive<u8> = 20..=45;
const WEIGHT_GRAMS: std::ops::RangeInclusive<u16> = 300..=7000;
const LENGTH_CM: std::ops::RangeInclusive<u8> = 20..=70;

impl ApplicationForm {
    /// Checks of a reference that need no directory, at submission: the policy accepts the kind as
    /// a licence and the holder is the parent the material stands for. `Err` names what is wrong.
    pub fn check_licence_reference(
        &self,
        reference: &LicenceRef,
        policy: &Policy,
    ) -> Result<(), Invalid> {
        let form = self;
        let label = reference.kind.label();
        let Some(rule) = policy.licence_rule(reference.kind) else {
            return Err(Invalid::new(
                "licence_not_accepted",
                format!("本地区不接受以电子证照提供{}，请上传扫描件", label.zh),
                format!(
                    "this region does not take the {} as an electronic licence; upload a scan",
                    label.en
                ),
            ));
        };
        let holder_ok = match rule.holder.parent() {
            Some(role) => form
                .parent(role)
                .is_some_and(|p| p.id_number == reference.holder_id_number),
            None => form
                .parents()
                .any(|(_, p)| p.id_number == reference.holder_id_number),
        };
        if holder_ok {
            Ok(())
        } else {
            Err(Invalid::new(
                "licence_holder",
                format!("{}电子证照的持有人与申请表填写的父母不符", label.zh),
                format!(
                    "the holder of the {} licence is not the parent on the form",
                    label.en
                ),
            ))
        }
    }

    /// Whether a photo of `kind` needs an approved missing-licence registration first: the
    /// policy expects the material as a licence and asks for a registration before a photo, and
    /// the holder's identity card was issued in the directory's province — one issued elsewhere
    /// may simply be photographed (闽卫政法〔2024〕40号 附件2 一(一)).
    pub fn photo_needs_registration(&self, kind: DocumentKind, policy: &Policy) -> bool {
        let Some(rule) = policy
            .licence_rule(kind)
            .filter(|r| r.registration_before_scan)
        else {
            return false;
        };
        let holder = match rule.holder.parent() {
            Some(role) => self.parent(role),
            None => Some(&self.mother),
        };
        let province = policy
            .licences
            .as_ref()
            .map(|l| l.province_prefixes.as_slice())
            .unwrap_or_default();
        holder.is_some_and(|p| {
            province
                .iter()
                .any(|prefix| p.id_number.region().starts_with(prefix.as_str()))
        })
    }

    /// The materials the form gives as photos (not licences) that count only after an approved
    /// missing-licence registration ([`Self::photo_needs_registration`]).
    pub fn photos_needing_registration(&self, policy: &Policy) -> Vec<DocumentKind> {
        DocumentKind::ALL
            .into_iter()
            .filter(|k| self.has_document(*k) && self.licence(*k).is_none())
            .filter(|k| self.photo_needs_registration(*k, policy))
            .collect()
    }

    /// The holder a missing-licence registration names for `kind` when the form gives no
    /// licence of it: the parent the material belongs to (the mother for a shared one).
    pub fn default_holder(&self, kind: DocumentKind) -> IdNumber {
        let holder = match kind {
            DocumentKind::FatherIdCard => self.father.as_ref(),
            _ => None,
        };
        holder.unwrap_or(&self.mother).id_number.clone()
    }

    /// A parent's record: the mother's always, the father's where the form has one.
    pub fn parent(&self, role: ParentRole) -> Option<&Parent> {
        match role {
            ParentRole::Mother => Some(&self.mother),
            ParentRole::Father => self.father.as_ref(),
        }
    }

    /// The parents on the form, mother first.
    pub fn parents(&self) -> impl Iterator<Item = (ParentRole, &Parent)> {
        std::iter::once((ParentRole::Mother, &self.mother))
            .chain(self.father.iter().map(|f| (ParentRole::Father, f)))
    }

    /// The applying parent's record: the mother's, or the father's when he applies (the form
    /// check refuses a father applying without his section, so the mother's stands in only for
    /// a form that never passed it).
    pub fn applicant_parent(&self) -> &Parent {
        self.parent(self.applicant).unwrap_or(&self.mother)
    }

    /// The newborn's date of birth, China time.
    pub fn birth_date(&self) -> NaiveDate {
        self.newborn.birth_time.with_timezone(&CHINA).date_naive()
    }

    /// Whether `id` can be the newborn's identity number (GB 11643 embeds the date of birth and
    /// the sex), given under `field`: the case-3 number on the form, or the police's result.
    pub fn check_newborn_id(&self, id: &IdNumber, field: &str) -> Vec<FieldIssue> {
        let mut issues = vec![];
        if id.birth_date() != self.birth_date() {
            issues.push(FieldIssue::new(
                field,
                "newborn_id_number_birth_date",
                "新生儿公民身份号码中的出生日期与出生时间不符",
                "the newborn's identity number has another date of birth",
            ));
        }
        if id.is_male() != (self.newborn.sex == Sex::Male) {
            issues.push(FieldIssue::new(
                field,
                "newborn_id_number_sex",
                "新生儿公民身份号码中的性别与所填性别不符",
                "the newborn's identity number has another sex",
            ));
        }
        issues
    }

    /// Whether `other` is a form of the same delivery (分娩): the same mother, hospital and day
    /// of birth — a twin's application (附件1 三(一)4 胎儿数; the Yongfu form's 多胞胎).
    pub fn same_delivery(&self, other: &ApplicationForm) -> bool {
        self.same_delivery_as(&other.mother.id_number, &other.newborn)
    }

    /// Whether this form's child was born of the same delivery as `newborn` of `mother`.
    pub fn same_delivery_as(&self, mother: &IdNumber, newborn: &Newborn) -> bool {
        &self.mother.id_number == mother
            && self.newborn.hospital.credit_code == newborn.hospital.credit_code
            && self.birth_date() == newborn.birth_time.with_timezone(&CHINA).date_naive()
    }

    /// Whether any service of `stage` was chosen.
    pub fn chose_stage(&self, stage: Stage) -> bool {
        // The hospital's release reports the registration: it comes with the registration.
        let stage = match stage {
            Stage::CertificateRelease => Stage::Police,
            other => other,
        };
        self.services.iter().any(|s| s.stage() == stage)
    }

    /// The facts that decide which conditional materials the form needs.
    pub fn material_facts(&self) -> crate::policy::MaterialFacts {
        crate::policy::MaterialFacts {
            case: self.case,
            applicant: self.applicant,
            ethnicities_differ: self
                .father
                .as_ref()
                .is_some_and(|f| f.ethnicity.as_str() != self.mother.ethnicity.as_str()),
            card_by_mail: self.services.contains(&Service::SocialSecurityCard)
                && matches!(
                    self.delivery.social_security_card,
                    Some(DeliveryChoice::Mail { .. })
                ),
        }
    }

    /// Whether a scan of `kind` is attached.
    pub fn has_document(&self, kind: DocumentKind) -> bool {
        self.documents.iter().any(|d| d.kind == kind)
    }

    /// Whether the material `kind` is given: as a scan or as an electronic licence.
    pub fn has_material(&self, kind: DocumentKind) -> bool {
        self.has_document(kind) || self.licence(kind).is_some()
    }

    /// The electronic licence given for `kind`.
    pub fn licence(&self, kind: DocumentKind) -> Option<&crate::kinds::LicenceRef> {
        self.licences.iter().find(|l| l.kind == kind)
    }

    /// Cross-field checks of a parsed form at `now`, all problems at once. These are facts of
    /// the form itself; eligibility under a policy is the pre-review's business.
    pub fn check(&self, policy: &Policy, now: DateTime<Utc>) -> Vec<FieldIssue> {
        let mut issues = vec![];
        let birth = self.newborn.birth_time.with_timezone(&Utc);
        if birth > now {
            issues.push(FieldIssue::new(
                "newborn.birth_time",
                "birth_in_future",
                "出生时间不能晚于当前时间",
                "the birth time lies in the future",
            ));
        }
        if !GESTATION_WEEKS.contains(&self.newborn.gestational_weeks) {
            issues.push(FieldIssue::new(
                "newborn.gestational_weeks",
                "implausible_gestation",
                "出生孕周应在20至45周之间",
                "gestational age must be 20 to 45 weeks",
            ));
        }
        if !WEIGHT_GRAMS.contains(&self.newborn.weight_grams) {
            issues.push(FieldIssue::new(
                "newborn.weight_grams",
                "implausible_weight",
                "出生体重应以克填写，在300至7000克之间",
                "birth weight is in grams, 300 to 7000",
            ));
        }
        if !LENGTH_CM.contains(&self.newborn.length_cm) {
            issues.push(FieldIssue::new(
                "newborn.length_cm",
                "implausible_length",
                "出生身长应以厘米填写，在20至70厘米之间",
                "birth length is in centimetres, 20 to 70",
            ));
        }
        // GB 11643-1999 §5.3: the sequence code is odd for men and even for women.
        if self.mother.id_number.is_male() {
            issues.push(FieldIssue::new(
                "mother.id_number",
                "id_number_sex",
                "母亲的公民身份号码显示为男性，请核对是否填反",
                "the mother's identity number belongs to a man; were the parents swapped?",
            ));
        }
        if let Some(father) = &self.father {
            if !father.id_number.is_male() {
                issues.push(FieldIssue::new(
                    "father.id_number",
                    "id_number_sex",
                    "父亲的公民身份号码显示为女性，请核对是否填反",
                    "the father's identity number belongs to a woman; were the parents swapped?",
                ));
            }
            if self.mother.id_number == father.id_number {
                issues.push(FieldIssue::new(
                    "father.id_number",
                    "id_number_same",
                    "父母的公民身份号码相同",
                    "both parents have the same identity number",
                ));
            }
        }
        for (role, parent) in self.parents() {
            if parent.id_number.birth_date() >= self.birth_date() {
                issues.push(FieldIssue::new(
                    &format!("{}.id_number", role.as_str()),
                    "parent_born_after_child",
                    "父母的出生日期不能晚于新生儿",
                    "a parent cannot be born after the child",
                ));
            }
        }
        self.check_services(policy, &mut issues);
        self.check_sections(&mut issues);
        self.check_collection(policy, &mut issues);
        self.check_payout(policy, &mut issues);
        self.check_licences(policy, &mut issues);
        self.check_existing_records(&mut issues);
        // 附件2 一(八): the applicant promises the form and materials are true.
        if !self.pledge.truthful {
            issues.push(FieldIssue::new(
                "pledge.truthful",
                "pledge_not_given",
                format!("请阅读并确认申请人承诺：{}", PLEDGE_TEXT.0),
                format!("read and affirm the applicant's pledge: {}", PLEDGE_TEXT.1),
            ));
        }
        // The father's application is judged by pre-review: where only the mother may apply he
        // goes offline with that reason (厦门 办理流程(一); 永福县 三(一)); in Fujian 2.0 a missing
        // letter or term is asked for as a supplement (附件1 三(一)1; 附件2 一(三); 附件3).
        if self.applicant == ParentRole::Father && self.father.is_none() {
            issues.push(FieldIssue::new(
                "father",
                "section_missing",
                "父亲申请须填写父亲信息",
                "when the father applies, fill in the father's section",
            ));
        }
        issues
    }

    fn check_services(&self, policy: &Policy, issues: &mut Vec<FieldIssue>) {
        if self.services.is_empty() {
            issues.push(FieldIssue::new(
                "services",
                "no_service",
                "请至少选择一项办理事项",
                "choose at least one service",
            ));
            return;
        }
        let Some(route) = policy.route(self.case) else {
            let label = self.case.label();
            issues.push(FieldIssue::new(
                "case",
                "case_not_offered",
                format!("本地暂不支持{}", label.zh),
                format!("{} is not offered under this policy", label.en),
            ));
            return;
        };
        for service in &self.services {
            if !policy.services.offered.contains(service) {
                let s = service.label();
                issues.push(FieldIssue::new(
                    "services",
                    "service_not_offered",
                    format!("本地区线上办理不提供{}", s.zh),
                    format!("{} is not offered online in this region", s.en),
                ));
            } else if !route.contains(&service.stage()) {
                let (s, c) = (service.label(), self.case.label());
                issues.push(FieldIssue::new(
                    "services",
                    "service_not_in_case",
                    format!("{}不属于{}的办理事项", s.zh, c.zh),
                    format!("{} is not part of {}", s.en, c.en),
                ));
            }
        }
        // 附件1 三(一)2–4: where the applicant did not choose the next service, "业务办理流程结束";
        // a service whose stage needs the completion of a stage that will not run could never be
        // reached. The route is in dependency order, so one pass decides each stage.
        let mut reachable: Vec<Stage> = vec![Stage::PreReview];
        for stage in route {
            if !self.chose_stage(*stage) {
                continue;
            }
            let missing = policy
                .dependencies(self.case, *stage)
                .into_iter()
                .find(|d| {
                    d.needs == crate::policy::Needs::Completed && !reachable.contains(&d.stage)
                });
            match missing {
                Some(gap) => {
                    let (g, s) = (gap.stage.label(), stage.label());
                    issues.push(FieldIssue::new(
                        "services",
                        "service_unreachable",
                        format!("未选择{}时无法继续办理{}", g.zh, s.zh),
                        format!("{} cannot follow without {}", s.en, g.en),
                    ));
                }
                None => reachable.push(*stage),
            }
        }
    }

    fn check_sections(&self, issues: &mut Vec<FieldIssue>) {
        let needs = [
            (
                Service::HouseholdRegistration,
                self.household.is_some(),
                "household",
                "出生登记信息",
                "the household registration section",
            ),
            (
                Service::MedicalInsuranceEnrolment,
                self.insurance.is_some(),
                "insurance",
                "参保登记信息",
                "the insurance enrolment section",
            ),
            (
                Service::MaternityBenefit,
                self.maternity.is_some(),
                "maternity",
                "生育保险信息",
                "the maternity section",
            ),
            (
                Service::BirthCertificate,
                self.delivery.birth_certificate.is_some(),
                "delivery.birth_certificate",
                "出生医学证明的送达方式",
                "how the birth certificate is delivered",
            ),
            (
                Service::HouseholdRegistration,
                self.delivery.household_booklet.is_some(),
                "delivery.household_booklet",
                "户口簿的送达方式",
                "how the household booklet is delivered",
            ),
            (
                Service::SocialSecurityCard,
                self.delivery.social_security_card.is_some(),
                "delivery.social_security_card",
                "社会保障卡的送达方式",
                "how the card is delivered",
            ),
        ];
        for (service, present, field, zh, en) in needs {
            if self.services.contains(&service) && !present {
                let s = service.label();
                issues.push(FieldIssue::new(
                    field,
                    "section_missing",
                    format!("选择{}须填写{zh}", s.zh),
                    format!("{} requires {en}", s.en),
                ));
            }
        }
        if let Some(Maternity {
            births: Births::Multiple { count },
            ..
        }) = self.maternity
            && count < 2
        {
            issues.push(FieldIssue::new(
                "maternity.births.count",
                "multiple_births_count",
                "多胞胎的胎儿数至少为2",
                "a multiple birth has at least two children",
            ));
        }
    }

    /// Each result document is collected a way the policy offers for it (the policy's
    /// `[collection]`: e.g. Yongfu's card is collected in person only, 永福县 七(一)4).
    fn check_payout(&self, policy: &Policy, issues: &mut Vec<FieldIssue>) {
        let (Some(rule), Some(maternity)) = (&policy.maternity_payout, &self.maternity) else {
            return;
        };
        let to = match maternity.payout {
            Payout::SocialSecurityCard => crate::kinds::PayoutTo::SocialSecurityCard,
            Payout::BankAccount { .. } => crate::kinds::PayoutTo::BankAccount,
        };
        if !rule.to.contains(&to) {
            issues.push(FieldIssue::new(
                "maternity.payout",
                "payout_not_offered",
                "本地区生育津贴须发放至产妇名下有效的储蓄银行卡，请填写银行卡号及开户支行",
                "here the maternity allowance is paid to the mother's savings card: give its number and branch",
            ));
        }
    }

    fn check_collection(&self, policy: &Policy, issues: &mut Vec<FieldIssue>) {
        use crate::kinds::CollectedDocument as D;
        for (doc, choice) in [
            (D::BirthCertificate, &self.delivery.birth_certificate),
            (D::HouseholdBooklet, &self.delivery.household_booklet),
            (D::SocialSecurityCard, &self.delivery.social_security_card),
        ] {
            let Some(choice) = choice else { continue };
            let method = choice.method();
            if !policy.collection.offers(doc, method) {
                let (d, m) = (doc.label(), method.label());
                issues.push(FieldIssue::new(
                    &format!("delivery.{}", doc.as_str()),
                    "collection_not_offered",
                    format!("本地区{}不提供“{}”方式", d.zh, m.zh),
                    format!("the {} cannot be {} here", d.en, m.en),
                ));
            }
        }
    }

    /// Each licence reference is of a kind the policy takes as a licence and names the right
    /// holder; a material is given once, as a licence or as a scan (附件2 一(一): 电子证照或扫描件).
    fn check_licences(&self, policy: &Policy, issues: &mut Vec<FieldIssue>) {
        for (i, l) in self.licences.iter().enumerate() {
            let field = format!("licences[{i}]");
            if let Err(e) = self.check_licence_reference(l, policy) {
                issues.push(FieldIssue { field, error: e });
            } else if self.licences[..i].iter().any(|o| o.kind == l.kind)
                || self.has_document(l.kind)
            {
                let label = l.kind.label();
                issues.push(FieldIssue::new(
                    &field,
                    "material_given_twice",
                    format!("{}只需提供一种：电子证照或扫描件", label.zh),
                    format!(
                        "give the {} once: as an electronic licence or as a scan",
                        label.en
                    ),
                ));
            }
        }
    }

    fn check_existing_records(&self, issues: &mut Vec<FieldIssue>) {
        // 附件2 二(一): case 2 confirms holding the complete birth certificate.
        if self.case == Case::HasBirthCertificate {
            if self.existing.birth_certificate_number.is_none() {
                issues.push(FieldIssue::new(
                    "existing.birth_certificate_number",
                    "birth_certificate_number_missing",
                    "已有出生医学证明的，请填写出生医学证明编号",
                    "give the number of the birth certificate you hold",
                ));
            }
            if !self.existing.full_certificate_held {
                issues.push(FieldIssue::new(
                    "existing.full_certificate_held",
                    "full_certificate_not_confirmed",
                    "已有出生医学证明的，请确认已持有正、副页完全版的《出生医学证明》",
                    "confirm that you hold the full birth certificate, main page and counterfoil",
                ));
            }
        }
        // 附件1 三(一)2: the hospital matches the application against its delivery record.
        if self.case == Case::Full && self.newborn.medical_record_number.is_none() {
            issues.push(FieldIssue::new(
                "newborn.medical_record_number",
                "medical_record_number_missing",
                "全流程办理请填写住院病历号，供助产机构核对分娩信息",
                "give the hospital record number: the hospital checks the delivery against it",
            ));
        }
        // 附件1 三(三): case 3 already holds the booklet with the newborn, so the newborn has a number.
        match (&self.existing.newborn_id_number, self.case) {
            (None, Case::HasHouseholdBooklet) => issues.push(FieldIssue::new(
                "existing.newborn_id_number",
                "newborn_id_number_missing",
                "已有户口簿的，请填写新生儿公民身份号码",
                "give the newborn's identity number from the booklet",
            )),
            (Some(id), _) => issues.extend(self.check_newborn_id(id, "existing.newborn_id_number")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DocumentKind;

    #[test]
    fn document_kind_names_are_their_json_names() {
        for kind in DocumentKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::from(kind.as_str()))
            );
        }
    }
}
