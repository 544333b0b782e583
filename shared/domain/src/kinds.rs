//! The vocabulary every other module speaks: the cases, services, parents and materials of an
//! application, the stages and their agencies, the generated forms, an electronic licence's
//! reference and why one is refused, and the small validated texts (free text, bank account,
//! SHA-256). Nothing here depends on a policy, a form or a stage's state.

use crate::ids::{IdNumber, reject_invisible};
use crate::text::{Bilingual, Invalid, parse_via_str};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which of the three cases (办理情形) an application is, 闽卫政法〔2024〕40号 附件1 三.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// 情形一 全流程: pre-review, hospital, police, medical insurance, social-security card.
    Full,
    /// 情形二 已有出生医学证明的半流程: police, medical insurance, card.
    HasBirthCertificate,
    /// 情形三 已有户口簿的半流程: medical insurance, card.
    HasHouseholdBooklet,
}

impl Case {
    /// All cases.
    pub const ALL: [Case; 3] = [
        Case::Full,
        Case::HasBirthCertificate,
        Case::HasHouseholdBooklet,
    ];
    /// Its name in both languages.
    pub fn label(self) -> Bilingual {
        match self {
            Case::Full => Bilingual::new("情形一：全流程", "case 1: full flow"),
            Case::HasBirthCertificate => Bilingual::new(
                "情形二：已有出生医学证明的半流程",
                "case 2: already holds the birth certificate",
            ),
            Case::HasHouseholdBooklet => Bilingual::new(
                "情形三：已有户口簿的半流程",
                "case 3: already holds the household booklet",
            ),
        }
    }
}

/// The seven services (办理事项) of 闽卫政法〔2024〕40号 附件1 一.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// （一）出生医学证明办理
    BirthCertificate,
    /// （二）新生儿预防接种证办理
    VaccinationCertificate,
    /// （三）科学育儿指导服务登记
    ParentingGuidance,
    /// （四）新生儿户口登记办理
    HouseholdRegistration,
    /// （五）生育保险待遇核准支付
    MaternityBenefit,
    /// （六）新生儿城乡居民基本医疗保险参保登记
    MedicalInsuranceEnrolment,
    /// （七）新生儿社会保障卡办理
    SocialSecurityCard,
}

impl Service {
    /// All seven, in the notice's order.
    pub const ALL: [Service; 7] = [
        Service::BirthCertificate,
        Service::VaccinationCertificate,
        Service::ParentingGuidance,
        Service::HouseholdRegistration,
        Service::MaternityBenefit,
        Service::MedicalInsuranceEnrolment,
        Service::SocialSecurityCard,
    ];

    /// The stage whose agency delivers this service (附件1 三(一)2–5).
    pub fn stage(self) -> Stage {
        match self {
            Service::BirthCertificate
            | Service::VaccinationCertificate
            | Service::ParentingGuidance => Stage::HealthCheck,
            Service::HouseholdRegistration => Stage::Police,
            Service::MaternityBenefit | Service::MedicalInsuranceEnrolment => Stage::Insurance,
            Service::SocialSecurityCard => Stage::SocialSecurityCard,
        }
    }

    /// The snake_case name used in JSON and policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::BirthCertificate => "birth_certificate",
            Service::VaccinationCertificate => "vaccination_certificate",
            Service::ParentingGuidance => "parenting_guidance",
            Service::HouseholdRegistration => "household_registration",
            Service::MaternityBenefit => "maternity_benefit",
            Service::MedicalInsuranceEnrolment => "medical_insurance_enrolment",
            Service::SocialSecurityCard => "social_security_card",
        }
    }

    /// Its name in both languages.
    pub fn label(self) -> Bilingual {
        let (zh, en) = match self {
            Service::BirthCertificate => ("出生医学证明办理", "birth medical certificate"),
            Service::VaccinationCertificate => ("新生儿预防接种证办理", "vaccination certificate"),
            Service::ParentingGuidance => {
                ("科学育儿指导服务登记", "parenting-guidance registration")
            }
            Service::HouseholdRegistration => ("新生儿户口登记办理", "household registration"),
            Service::MaternityBenefit => (
                "生育保险待遇核准支付",
                "maternity-benefit approval and payment",
            ),
            Service::MedicalInsuranceEnrolment => (
                "城乡居民基本医疗保险参保登记",
                "medical-insurance enrolment",
            ),
            Service::SocialSecurityCard => ("新生儿社会保障卡办理", "social-security card"),
        };
        Bilingual::new(zh, en)
    }
}

/// Mother or father.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentRole {
    /// 母亲
    Mother,
    /// 父亲
    Father,
}

impl ParentRole {
    /// The other parent.
    pub fn other(self) -> Self {
        match self {
            ParentRole::Mother => ParentRole::Father,
            ParentRole::Father => ParentRole::Mother,
        }
    }
    /// The JSON name: `mother` / `father`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParentRole::Mother => "mother",
            ParentRole::Father => "father",
        }
    }
    /// 母亲 / 父亲 and mother / father.
    pub fn label(self) -> Bilingual {
        match self {
            ParentRole::Mother => Bilingual::new("母亲", "mother"),
            ParentRole::Father => Bilingual::new("父亲", "father"),
        }
    }
}

/// A kind of uploaded document (材料).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 母亲身份证
    MotherIdCard,
    /// 父亲身份证
    FatherIdCard,
    /// 结婚证
    MarriageCertificate,
    /// 户口簿首页（有户别信息的）
    HouseholdBookletFront,
    /// 户口簿户主页
    HouseholdBookletHead,
    /// 户口簿落户方（新生儿父亲或者母亲）成员页
    HouseholdBookletRegisteringParent,
    /// 户口簿新生儿户口当前页
    HouseholdBookletNewborn,
    /// 授权委托书 (闽卫政法〔2024〕40号 附件3)
    AuthorisationLetter,
    /// 出生医学证明（正、副页完全版）
    BirthCertificate,
    /// 产妇银行卡
    MotherBankCard,
    /// 产妇社会保障卡
    MotherSocialSecurityCard,
    /// 《广西母子健康手册》“产时记录”页
    DeliveryRecord,
    /// 父母双方签字确认新生儿民族的书面申请 (parents of different ethnicities; 永福县 四(七),
    /// 厦门办事指南 新生儿户口办理 2)
    EthnicityConsent,
    /// 非落户方的户口簿首页、户主页、本人页 (永福县 四(三): 父母双方的居民户口簿)
    HouseholdBookletOtherParent,
}

impl DocumentKind {
    /// Every kind.
    pub const ALL: [DocumentKind; 14] = [
        DocumentKind::MotherIdCard,
        DocumentKind::FatherIdCard,
        DocumentKind::MarriageCertificate,
        DocumentKind::HouseholdBookletFront,
        DocumentKind::HouseholdBookletHead,
        DocumentKind::HouseholdBookletRegisteringParent,
        DocumentKind::HouseholdBookletNewborn,
        DocumentKind::AuthorisationLetter,
        DocumentKind::BirthCertificate,
        DocumentKind::MotherBankCard,
        DocumentKind::MotherSocialSecurityCard,
        DocumentKind::DeliveryRecord,
        DocumentKind::EthnicityConsent,
        DocumentKind::HouseholdBookletOtherParent,
    ];

    /// The snake_case name used in JSON, storage keys and metrics, e.g. `mother_id_card`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::MotherIdCard => "mother_id_card",
            DocumentKind::FatherIdCard => "father_id_card",
            DocumentKind::MarriageCertificate => "marriage_certificate",
            DocumentKind::HouseholdBookletFront => "household_booklet_front",
            DocumentKind::HouseholdBookletHead => "household_booklet_head",
            DocumentKind::HouseholdBookletRegisteringParent => {
                "household_booklet_registering_parent"
            }
            DocumentKind::HouseholdBookletNewborn => "household_booklet_newborn",
            DocumentKind::AuthorisationLetter => "authorisation_letter",
            DocumentKind::BirthCertificate => "birth_certificate",
            DocumentKind::MotherBankCard => "mother_bank_card",
            DocumentKind::MotherSocialSecurityCard => "mother_social_security_card",
            DocumentKind::DeliveryRecord => "delivery_record",
            DocumentKind::EthnicityConsent => "ethnicity_consent",
            DocumentKind::HouseholdBookletOtherParent => "household_booklet_other_parent",
        }
    }

    /// Its name in both languages, as shown in a supplement request.
    pub fn label(self) -> Bilingual {
        let (zh, en) = match self {
            DocumentKind::MotherIdCard => ("母亲居民身份证", "mother's identity card"),
            DocumentKind::FatherIdCard => ("父亲居民身份证", "father's identity card"),
            DocumentKind::MarriageCertificate => ("结婚证", "marriage certificate"),
            DocumentKind::HouseholdBookletFront => (
                "户口簿首页（有户别信息的）",
                "household booklet front page (household type)",
            ),
            DocumentKind::HouseholdBookletHead => (
                "户口簿户主页",
                "household booklet page of the head of household",
            ),
            DocumentKind::HouseholdBookletRegisteringParent => (
                "户口簿落户方成员页",
                "household booklet page of the registering parent",
            ),
            DocumentKind::HouseholdBookletNewborn => (
                "户口簿新生儿户口当前页",
                "household booklet page of the newborn",
            ),
            DocumentKind::AuthorisationLetter => ("授权委托书", "mother's authorisation letter"),
            DocumentKind::BirthCertificate => (
                "出生医学证明（正、副页完全版）",
                "birth medical certificate (main and counterfoil pages)",
            ),
            DocumentKind::MotherBankCard => ("产妇银行卡", "mother's bank card"),
            DocumentKind::MotherSocialSecurityCard => {
                ("产妇社会保障卡", "mother's social-security card")
            }
            DocumentKind::DeliveryRecord => (
                "《母子健康手册》“产时记录”页",
                "delivery record page of the maternal and child health handbook",
            ),
            DocumentKind::EthnicityConsent => (
                "父母双方签字确认新生儿民族的书面申请",
                "both parents' signed confirmation of the newborn's ethnicity",
            ),
            DocumentKind::HouseholdBookletOtherParent => (
                "另一方（非落户方）户口簿首页、户主页、本人页",
                "the other parent's household booklet: front, head-of-household and own pages",
            ),
        };
        Bilingual::new(zh, en)
    }
}

/// Free text of a form field: trimmed, 1–200 characters, no control or invisible characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(String);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Text {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        reject_invisible(s, "该字段", "the field")?;
        let n = s.chars().count();
        if n == 0 || n > 200 {
            return Err(Invalid::new(
                "text_length",
                "内容不能为空，且不超过200个字",
                "the text must have 1 to 200 characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}
parse_via_str!(Text);

/// A bank account or card number: 12–30 digits, spaces allowed on input. Masked in `Debug`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BankAccountNumber(String);

impl BankAccountNumber {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Masked: the last four digits only.
    pub fn masked(&self) -> String {
        format!("****{}", &self.0[self.0.len() - 4..])
    }
}

impl std::str::FromStr for BankAccountNumber {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let digits: String = raw.chars().filter(|c| *c != ' ').collect();
        if (12..=30).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(Invalid::new(
                "bank_account",
                "银行账号应为12至30位数字",
                "a bank account number has 12 to 30 digits",
            ))
        }
    }
}

impl fmt::Debug for BankAccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BankAccountNumber({})", self.masked())
    }
}
parse_via_str!(BankAccountNumber);

/// The SHA-256 of an uploaded document, 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Sha256Hex {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().to_ascii_lowercase();
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s))
        } else {
            Err(Invalid::new(
                "sha256",
                "文件摘要应为64位十六进制SHA-256值",
                "a document digest is a 64-digit hex SHA-256",
            ))
        }
    }
}
parse_via_str!(Sha256Hex);

/// A stage of the flow, each handled by one agency (or, for pre-review, the platform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 预审: the platform's automatic completeness and eligibility check (附件1 三(一)1).
    PreReview,
    /// 卫健核对: the hospital issues the birth and vaccination certificates (附件1 三(一)2).
    HealthCheck,
    /// 公安落户: the police station registers the newborn (附件1 三(一)3).
    Police,
    /// 出生医学证明给付: the platform reports the registration result to the hospital, which
    /// releases the certificate's main page when the newborn was registered online, or the full
    /// certificate with its counterfoil when not (附件1 三(一)2–3).
    CertificateRelease,
    /// 医保: maternity benefit and medical-insurance enrolment (附件1 三(一)4).
    Insurance,
    /// 社保卡: the social-security office issues the card (附件1 三(一)5).
    SocialSecurityCard,
}

impl Stage {
    /// Every stage, in flow order.
    pub const ALL: [Stage; 6] = [
        Stage::PreReview,
        Stage::HealthCheck,
        Stage::Police,
        Stage::CertificateRelease,
        Stage::Insurance,
        Stage::SocialSecurityCard,
    ];

    /// The stages with a queue (and a function) of their own: one per agency.
    pub const QUEUES: [Stage; 5] = [
        Stage::PreReview,
        Stage::HealthCheck,
        Stage::Police,
        Stage::Insurance,
        Stage::SocialSecurityCard,
    ];

    /// The stage whose queue carries this stage's hand-offs: the hospital's queue carries both
    /// its certificate rounds and the release.
    pub fn queue(self) -> Stage {
        match self {
            Stage::CertificateRelease => Stage::HealthCheck,
            other => other,
        }
    }

    /// The agency responsible for the stage.
    pub fn agency(self) -> Agency {
        match self {
            Stage::PreReview => Agency::Platform,
            Stage::HealthCheck => Agency::Hospital,
            Stage::Police => Agency::PoliceStation,
            Stage::CertificateRelease => Agency::Hospital,
            Stage::Insurance => Agency::MedicalInsurance,
            Stage::SocialSecurityCard => Agency::SocialSecurity,
        }
    }

    /// Its name in both languages.
    pub fn label(self) -> Bilingual {
        let (zh, en) = match self {
            Stage::PreReview => ("自动预审", "pre-review"),
            Stage::HealthCheck => (
                "出生医学证明、预防接种证、科学育儿指导服务登记",
                "birth and vaccination certificates",
            ),
            Stage::Police => ("出生户口登记", "household registration"),
            Stage::CertificateRelease => (
                "户籍登记结果反馈及《出生医学证明》给付",
                "registration result to the hospital and release of the birth certificate",
            ),
            Stage::Insurance => (
                "生育保险待遇核准支付、城乡居民基本医疗保险参保登记",
                "maternity benefit and medical-insurance enrolment",
            ),
            Stage::SocialSecurityCard => ("社会保障卡办理", "social-security card"),
        };
        Bilingual::new(zh, en)
    }

    /// The snake_case name used in URLs, queues and policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PreReview => "pre_review",
            Stage::HealthCheck => "health_check",
            Stage::Police => "police",
            Stage::CertificateRelease => "certificate_release",
            Stage::Insurance => "insurance",
            Stage::SocialSecurityCard => "social_security_card",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown stage \"{s}\" (expected one of pre_review, health_check, police, insurance, social_security_card)"))
    }
}

/// What a family rates (好差评): one finished step's department (一次一评, 闽卫政法〔2024〕40号
/// 附件4 七 "对已办理的各个环节进行单独评价"), or the whole matter (一事一评, 永福县 八(一)).
/// Written as the stage's name or `matter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RatingSubject {
    /// One finished step, rated for its agency.
    Step(Stage),
    /// The whole matter, rated for the platform that answers for it.
    Matter,
}

impl RatingSubject {
    /// Its written name.
    pub fn as_str(self) -> &'static str {
        match self {
            RatingSubject::Step(stage) => stage.as_str(),
            RatingSubject::Matter => "matter",
        }
    }

    /// The department the rating is for: the step's agency, or the platform for the matter.
    pub fn agency(self) -> Agency {
        match self {
            RatingSubject::Step(stage) => stage.agency(),
            RatingSubject::Matter => Agency::Platform,
        }
    }

    /// Its name in words.
    pub fn label(self) -> Bilingual {
        match self {
            RatingSubject::Step(stage) => stage.label(),
            RatingSubject::Matter => {
                Bilingual::new("新生儿出生“一件事”整体办理", "the whole one-stop matter")
            }
        }
    }
}

impl fmt::Display for RatingSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RatingSubject {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        if s == "matter" {
            return Ok(RatingSubject::Matter);
        }
        // The value is not repeated: whatever was typed here must not come back.
        s.parse::<Stage>().map(RatingSubject::Step).map_err(|_| {
            Invalid::new(
                "rating_subject",
                "未知的评价对象：应为已办结的办理环节（如 police）或整件事项（matter）",
                "unknown rating subject: a finished step (e.g. police) or the whole matter (matter)",
            )
        })
    }
}

impl Serialize for RatingSubject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RatingSubject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Invalid| serde::de::Error::custom(e.to_serde_message()))
    }
}

/// What a supervised clock measures: one stage's work, one service inside a stage that has its
/// own promised time (永福县 附件2 六(二)5: 居民医保登记 1 个工作日 inside the insurance stage's
/// 15), or the whole matter (六(一): 承诺办结时限 33 个工作日). Written as the stage's name,
/// `service:<service>` or `matter`, so a stage's clock keeps the name it always had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Watch {
    /// A stage's clock.
    Stage(Stage),
    /// A service's own clock inside its stage.
    Service(Service),
    /// The whole matter, from acceptance to the end of the flow.
    Matter,
    /// The window a rating invitation leaves the family (not an SLA: when it closes unrated,
    /// the monitor records "not rated"). Written `rating:<subject>`.
    RatingWindow(RatingSubject),
    /// A stage handed to its agency that the agency has not yet acknowledged (no 2xx to the
    /// dispatch): the watchdog escalates it after the policy's minutes, before its deadline
    /// could even start. Written `delivery:<stage>`.
    Delivery(Stage),
}

impl Watch {
    /// Its written name.
    pub fn name(self) -> String {
        match self {
            Watch::Stage(stage) => stage.as_str().to_owned(),
            Watch::Service(service) => format!("service:{}", service.as_str()),
            Watch::Matter => "matter".to_owned(),
            Watch::RatingWindow(subject) => format!("rating:{subject}"),
            Watch::Delivery(stage) => format!("delivery:{}", stage.as_str()),
        }
    }

    /// The stage it belongs to, if any.
    pub fn stage(self) -> Option<Stage> {
        match self {
            Watch::Stage(stage) => Some(stage),
            Watch::Service(service) => Some(service.stage()),
            Watch::Matter | Watch::RatingWindow(RatingSubject::Matter) => None,
            Watch::RatingWindow(RatingSubject::Step(stage)) | Watch::Delivery(stage) => Some(stage),
        }
    }
}

impl fmt::Display for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Watch {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        if s == "matter" {
            return Ok(Watch::Matter);
        }
        if let Some(subject) = s.strip_prefix("rating:") {
            return subject.parse().map(Watch::RatingWindow);
        }
        if let Some(stage) = s.strip_prefix("delivery:") {
            return stage
                .parse::<Stage>()
                .map(Watch::Delivery)
                .map_err(|e| Invalid::new("watch", "未知的监察对象", e));
        }
        if let Some(name) = s.strip_prefix("service:") {
            return Service::ALL
                .into_iter()
                .find(|x| x.as_str() == name)
                .map(Watch::Service)
                .ok_or_else(|| {
                    Invalid::new(
                        "watch",
                        "未知的办理事项",
                        format!("unknown service {name:?}"),
                    )
                });
        }
        s.parse::<Stage>()
            .map(Watch::Stage)
            .map_err(|e| Invalid::new("watch", "未知的监察对象", e))
    }
}

impl Serialize for Watch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Watch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Invalid| serde::de::Error::custom(e.to_serde_message()))
    }
}

/// Who acts on a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agency {
    /// The one-stop platform itself (pre-review).
    Platform,
    /// 助产机构
    Hospital,
    /// 派出所
    PoliceStation,
    /// 医保经办机构
    MedicalInsurance,
    /// 人社部门（社保卡）
    SocialSecurity,
    /// 省电子证照共享平台: answers licence look-ups and reviews missing-licence registrations.
    LicenceDirectory,
}

impl Agency {
    /// The agencies that receive dispatches.
    pub const DISPATCHED: [Agency; 4] = [
        Agency::Hospital,
        Agency::PoliceStation,
        Agency::MedicalInsurance,
        Agency::SocialSecurity,
    ];

    /// Its stable name (as in JSON), e.g. `police_station`.
    pub fn as_str(self) -> &'static str {
        match self {
            Agency::Platform => "platform",
            Agency::Hospital => "hospital",
            Agency::PoliceStation => "police_station",
            Agency::MedicalInsurance => "medical_insurance",
            Agency::SocialSecurity => "social_security",
            Agency::LicenceDirectory => "licence_directory",
        }
    }

    /// The path segment of the agency's dispatch endpoint, `<gateway>/dispatch/<segment>`
    /// (docs/agency-integration.md).
    pub fn dispatch_path(self) -> &'static str {
        match self {
            Agency::Hospital => "hospital",
            Agency::PoliceStation => "police",
            Agency::MedicalInsurance => "insurance",
            Agency::SocialSecurity => "social-security",
            Agency::Platform => "platform",
            Agency::LicenceDirectory => "licences",
        }
    }
}

/// A form generated for the applicant to confirm and sign (附件1 三(一)2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratedForm {
    /// 《出生医学证明》预览 (闽卫监督〔2021〕43号 办事指南 九(二): the certificate itself)
    BirthCertificatePreview,
    /// 出生医学证明首次签发登记表
    BirthCertificateRegistration,
    /// 常住人口登记表
    PermanentResidentRegistration,
}

impl GeneratedForm {
    /// Its name in both languages.
    pub fn label(self) -> Bilingual {
        match self {
            GeneratedForm::BirthCertificatePreview => {
                Bilingual::new("《出生医学证明》预览页面", "birth certificate preview")
            }
            GeneratedForm::BirthCertificateRegistration => Bilingual::new(
                "出生医学证明首次签发登记表",
                "birth certificate first-issue registration form",
            ),
            GeneratedForm::PermanentResidentRegistration => {
                Bilingual::new("常住人口登记表", "permanent-resident registration form")
            }
        }
    }
}

/// A reference to an electronic licence in the form, given instead of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRef {
    /// Which material it stands for (e.g. `mother_id_card`).
    pub kind: DocumentKind,
    /// The holder's 公民身份号码.
    pub holder_id_number: IdNumber,
    /// The licence number (证照编号).
    pub number: Text,
    /// The issuing authority (发证机关).
    pub issuer: Text,
}

/// Why a licence reference was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceProblem {
    /// The directory has no such licence.
    NotFound,
    /// The licence belongs to someone other than the parent it stands for.
    OtherHolder,
    /// The licence number differs from the number given on the form.
    NumberMismatch,
    /// The licence is no longer valid.
    Expired,
    /// Another person's licence, not authorised to the applicant (or the authorisation lapsed).
    NotAuthorised,
    /// A photo was given where the licence is expected: a photo counts only after an approved
    /// missing-licence registration (闽卫政法〔2024〕40号 附件2 一(一)).
    RegistrationRequired,
}

impl LicenceProblem {
    /// What is wrong with the licence of `kind`, for the applicant.
    pub fn message(self, kind: DocumentKind) -> Bilingual {
        let k = kind.label();
        let (zh, en) = match self {
            LicenceProblem::NotFound => (
                "电子证照库中未找到该证照",
                "the licence directory has no such licence",
            ),
            LicenceProblem::OtherHolder => (
                "该电子证照不属于对应的父母一方",
                "the licence belongs to someone else",
            ),
            LicenceProblem::NumberMismatch => (
                "电子证照编号与申请表填写的不一致",
                "the licence number differs from the one on the form",
            ),
            LicenceProblem::Expired => ("该电子证照已过有效期", "the licence has expired"),
            LicenceProblem::NotAuthorised => (
                "证照持有人尚未将该电子证照授权给申请人（请在闽政通“我的-电子证照-出生一件事”中授权）",
                "its holder has not authorised the licence to the applicant (authorise it in the Minzhengtong app)",
            ),
            LicenceProblem::RegistrationRequired => (
                "省内身份证须提供电子证照；未找到或有误的，请先进行授权缺失登记，审核通过后（一个工作日）上传的照片方可使用",
                "an identity card issued in the province is given as its licence; if it is missing or wrong, file a missing-licence registration first: the photo counts once it is approved (one working day)",
            ),
        };
        Bilingual::new(
            format!("{}电子证照：{zh}", k.zh),
            format!("electronic licence of the {}: {en}", k.en),
        )
    }
}

/// An application's identifier: 1–64 characters of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationId(String);

impl ApplicationId {
    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ApplicationId {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        if (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(Invalid::new(
                "application_id",
                "办件编号格式错误",
                "malformed application id",
            ))
        }
    }
}
parse_via_str!(ApplicationId);

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which version of the 《出生医学证明》 the hospital gives the family (闽卫政法〔2024〕40号 附件1
/// 三(一)2: "线上户籍登记成功的，助产机构给付（邮寄）申请人《出生医学证明》正页；线上户籍登记不成功的，
/// 助产机构给付（邮寄）申请人完整无裁切的《出生医学证明》正、副页").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateVersion {
    /// 正页: the newborn was registered online; the counterfoil (副页) stays with the hospital,
    /// which hands it to the police.
    MainPage,
    /// 完整无裁切的正、副页: the registration failed or the family went offline; the family
    /// takes the counterfoil to the police station.
    Full,
}

impl CertificateVersion {
    /// Its name in both languages.
    pub fn label(self) -> Bilingual {
        match self {
            CertificateVersion::MainPage => {
                Bilingual::new("《出生医学证明》正页", "the birth certificate's main page")
            }
            CertificateVersion::Full => Bilingual::new(
                "完整无裁切的《出生医学证明》正、副页",
                "the full, uncut birth certificate with its counterfoil",
            ),
        }
    }
}

/// A result document the family collects (出生医学证明, 户口簿, 社会保障卡).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectedDocument {
    /// 出生医学证明
    BirthCertificate,
    /// 户口簿
    HouseholdBooklet,
    /// 社会保障卡
    SocialSecurityCard,
}

impl CollectedDocument {
    /// Every one.
    pub const ALL: [CollectedDocument; 3] = [
        CollectedDocument::BirthCertificate,
        CollectedDocument::HouseholdBooklet,
        CollectedDocument::SocialSecurityCard,
    ];

    /// The JSON name (also the field under `delivery`).
    pub fn as_str(self) -> &'static str {
        match self {
            CollectedDocument::BirthCertificate => "birth_certificate",
            CollectedDocument::HouseholdBooklet => "household_booklet",
            CollectedDocument::SocialSecurityCard => "social_security_card",
        }
    }

    /// Its name in both languages.
    pub fn label(self) -> Bilingual {
        match self {
            CollectedDocument::BirthCertificate => {
                Bilingual::new("《出生医学证明》", "birth certificate")
            }
            CollectedDocument::HouseholdBooklet => Bilingual::new("户口簿", "household booklet"),
            CollectedDocument::SocialSecurityCard => {
                Bilingual::new("社会保障卡", "social-security card")
            }
        }
    }
}

/// How a result document reaches the family (送达方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionMethod {
    /// 自行领取
    Pickup,
    /// 委托新生儿父亲领取
    PickupByFather,
    /// 邮寄送达（自费）
    Mail,
    /// 重新打印后寄回（原件作废）
    Reprint,
}

impl CollectionMethod {
    /// Its name in both languages.
    pub fn label(self) -> Bilingual {
        match self {
            CollectionMethod::Pickup => Bilingual::new("自行领取", "collected in person"),
            CollectionMethod::PickupByFather => Bilingual::new(
                "委托新生儿父亲领取",
                "collected by the father on the mother's letter",
            ),
            CollectionMethod::Mail => {
                Bilingual::new("邮寄送达（自费）", "mailed (at the family's cost)")
            }
            CollectionMethod::Reprint => Bilingual::new(
                "重新打印后寄回（原件作废）",
                "reprinted and mailed back (the old one void)",
            ),
        }
    }
}

/// Where the maternity benefit is paid (发放方式), by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutTo {
    /// 发放至母亲社会保障卡
    SocialSecurityCard,
    /// 发放至母亲银行卡
    BankAccount,
}
