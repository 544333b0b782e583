//! Policies as data: one file per region under `policies/`, embedded in the binary.
//!
//! A policy says who may apply, which stages each case runs, what materials are needed and
//! when, each stage's deadline in working days and when its clock starts. Every value carries
//! the document and section it comes from (`source`). An application records the
//! [`PolicyRef`] (id and version) it was submitted under and is judged by that version.

use crate::kinds::{Case, DocumentKind, GeneratedForm, ParentRole, Service, Stage};
use crate::text::Bilingual;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What the policy allows a stage, for the case at hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageRules {
    /// May ask for a supplement (附件4 三).
    pub supplement: bool,
    /// Forms the applicant confirms at this stage.
    pub confirmation_forms: Vec<GeneratedForm>,
}

/// Names a policy version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PolicyRef {
    /// e.g. `fujian-2.0`
    pub id: String,
    /// e.g. `2024-07-05`, the date of the document it encodes
    pub version: String,
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

/// The newborn must be younger than this when the application is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeLimit {
    /// 未满 N 个月
    pub under_months: u32,
    /// Where the rule is written.
    pub source: String,
}

/// A list of region-code prefixes with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    /// GB/T 2260 prefixes, e.g. `35` (Fujian), `3502` (Xiamen), `450326` (永福县).
    pub region_prefixes: Vec<String>,
    /// Where the rule is written.
    pub source: String,
}

impl Regions {
    /// Whether `code` lies in one of the regions.
    pub fn contains(&self, code: &crate::region::RegionCode) -> bool {
        self.region_prefixes.iter().any(|p| code.is_within(p))
    }
}

/// Whose household registration must lie in the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidencyRule {
    /// At least one parent (Fujian 2.0, Guangxi).
    AtLeastOne,
    /// Both parents (Xiamen).
    Both,
    /// The parent the newborn registers with (Fuzhou pilot, Putian: 随父或随母落户 in the city).
    RegisteringParent,
}

/// Household registration of the parents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Residency {
    /// Whose registration counts.
    pub rule: ResidencyRule,
    /// Where it must be.
    pub region_prefixes: Vec<String>,
    /// Where the rule is written.
    pub source: String,
}

/// Who may apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicantRule {
    /// The father may apply with the mother's authorisation letter.
    pub father_with_authorisation: bool,
    /// Counter staff (一窗受理) may submit on the parents' behalf.
    pub counter_intake: bool,
    /// Where the rule is written.
    pub source: String,
}

/// Whether the newborn may register in a collective household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectiveHousehold {
    /// Only family households (随父或随母落家庭户).
    NotAllowed,
    /// Fujian 2.0 附件2 一(四) and 附件4 一: a collective household only where the other parent
    /// has no family household in the same area.
    SameAreaRule,
    /// The policy sets no rule.
    NoRule,
}

/// The family-versus-collective household rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdKindRule {
    /// Which rule.
    pub collective: CollectiveHousehold,
    /// Where the rule is written.
    pub source: String,
}

/// A rule that applies when present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Where the rule is written.
    pub source: String,
}

/// Who may use the online service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    /// Newborn age limit.
    pub newborn_age: AgeLimit,
    /// Where the hospital must be.
    pub birthplace: Regions,
    /// Parents' household registration.
    pub residency: Residency,
    /// Where the newborn must register, if restricted.
    #[serde(default)]
    pub registration_place: Option<Regions>,
    /// Where the marriage certificate must have been issued, if restricted.
    #[serde(default)]
    pub marriage_certificate: Option<Regions>,
    /// Both parents Chinese nationals; foreign, Hong Kong, Macao and Taiwan residents apply offline.
    pub nationality: Rule,
    /// Married parents only (婚生新生儿).
    pub marriage: Rule,
    /// Who may apply.
    pub applicant: ApplicantRule,
    /// Family versus collective household.
    pub household_kind: HouseholdKindRule,
    /// When only one parent is registered in the province, the newborn registers with that one.
    #[serde(default)]
    pub single_provincial_parent: Option<Rule>,
}

/// One case's route: a graph of stages. Each stage starts when every stage it depends on is
/// done as the dependency asks; by default a stage depends on the completion of the one before it
/// on the route (pre-review for the first), so a route without `after` is a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasePolicy {
    /// The agency stages after pre-review, in an order where each comes after what it depends on.
    pub route: Vec<Stage>,
    /// What a stage waits for when it is not the completion of the stage before it on the route:
    /// `"police"` (the police completed) or `"police:ended"` (the police stage ended in any way
    /// but being skipped by a failure elsewhere).
    #[serde(default)]
    pub after: BTreeMap<Stage, Vec<Dependency>>,
    /// What a stage's failure (转线下) ends, when not the whole package.
    #[serde(default)]
    pub on_failure: BTreeMap<Stage, FailureScope>,
    /// Where the route is written.
    pub source: String,
}

/// What a stage needs of one it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    /// The stage depended on.
    pub stage: Stage,
    /// Whether it must have completed, or only ended.
    pub needs: Needs,
}

/// What a dependency needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The stage completed.
    Completed,
    /// The stage completed, was terminated, or was not chosen: anything but being skipped
    /// because the package ended before it.
    Ended,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.needs {
            Needs::Completed => write!(f, "{}", self.stage),
            Needs::Ended => write!(f, "{}:ended", self.stage),
        }
    }
}

impl std::str::FromStr for Dependency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (stage, needs) = match s.split_once(':') {
            None => (s, Needs::Completed),
            Some((stage, "ended")) => (stage, Needs::Ended),
            Some((_, other)) => return Err(format!("unknown dependency {other:?} (only :ended)")),
        };
        Ok(Self {
            stage: stage.parse()?,
            needs,
        })
    }
}

impl<'de> Deserialize<'de> for Dependency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dependency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a stage's failure ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureScope {
    /// 终止套餐服务: every stage not started yet, but those that wait for this one's ending.
    Package,
    /// 终止本环节服务: only this stage, and the stages that need its completion.
    Stage,
}

/// When a stage's clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStart {
    /// When the agency receives the dispatch.
    OnReceipt,
    /// When the applicant has chosen the card's partner bank (附件1 四(四)); the stage asks for
    /// the choice before dispatch when the form has none.
    OnPartnerBankChoice,
}

/// One stage's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagePolicy {
    /// The agency must finish within this many working days (24 h each); none for pre-review.
    #[serde(default)]
    pub deadline_working_days: Option<u32>,
    /// When the clock starts.
    #[serde(default = "on_receipt")]
    pub clock_starts: ClockStart,
    /// The cases in which the stage may ask for a supplement (补件).
    #[serde(default)]
    pub supplement_in: Vec<Case>,
    /// Forms the applicant confirms at this stage.
    #[serde(default)]
    pub confirmation_forms: Vec<GeneratedForm>,
    /// The release stage: what the family is told to collect after each registration result.
    #[serde(default)]
    pub release: Option<ReleaseNotices>,
    /// Services inside the stage with a promised time of their own, shorter than the stage's
    /// (永福县 附件2 六(二)5: 居民医保登记 1 个工作日 inside the insurance stage). Each runs its own
    /// clock from the stage's start until the agency reports that service done.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parts: BTreeMap<Service, PartPolicy>,
    /// Where the rules are written.
    pub source: String,
}

/// A service's own promised time inside its stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartPolicy {
    /// The agency must report the service done within this many working days.
    pub deadline_working_days: u32,
    /// Where it is written.
    pub source: String,
}

/// What the family collects from the hospital after the registration result, and where (the
/// documents differ on who brings the counterfoil to the police).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseNotices {
    /// Registered online: the main page.
    pub registered: Bilingual,
    /// Not registered online (refused, or the family went offline): the full certificate.
    pub not_registered: Bilingual,
    /// Where it is written.
    pub source: String,
}

fn on_receipt() -> ClockStart {
    ClockStart::OnReceipt
}

/// When a material is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialCondition {
    /// Always.
    Always,
    /// When the father applies.
    FatherApplies,
    /// When the parents' ethnicities differ.
    EthnicitiesDiffer,
    /// When the social-security card is mailed.
    CardByMail,
}

/// The facts of an application that decide which conditional materials it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaterialFacts {
    /// The case.
    pub case: Case,
    /// Who applies.
    pub applicant: ParentRole,
    /// The parents' ethnicities differ.
    pub ethnicities_differ: bool,
    /// The card is to be mailed.
    pub card_by_mail: bool,
}

impl MaterialCondition {
    /// Whether the condition holds for an application with `facts`.
    pub fn holds(self, facts: &MaterialFacts) -> bool {
        match self {
            MaterialCondition::Always => true,
            MaterialCondition::FatherApplies => facts.applicant == ParentRole::Father,
            MaterialCondition::EthnicitiesDiffer => facts.ethnicities_differ,
            MaterialCondition::CardByMail => facts.card_by_mail,
        }
    }

    /// When it applies, in words (none for `Always`).
    pub fn label(self) -> Option<Bilingual> {
        match self {
            MaterialCondition::Always => None,
            MaterialCondition::FatherApplies => {
                Some(Bilingual::new("父亲申请时", "when the father applies"))
            }
            MaterialCondition::EthnicitiesDiffer => Some(Bilingual::new(
                "父母民族不一致时",
                "when the parents' ethnicities differ",
            )),
            MaterialCondition::CardByMail => Some(Bilingual::new(
                "社会保障卡邮寄时",
                "when the card is mailed",
            )),
        }
    }
}

/// One required material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialRule {
    /// Which document.
    pub kind: DocumentKind,
    /// In which cases.
    pub cases: Vec<Case>,
    /// Under which condition.
    pub when: MaterialCondition,
    /// The stage that needs it (checked when the flow reaches that stage).
    pub at: Stage,
    /// Where the rule is written.
    pub source: String,
}

/// Whose licence a material is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceHolder {
    /// The mother's (her identity card).
    Mother,
    /// The father's (his identity card).
    Father,
    /// Either parent's (the marriage certificate both hold).
    EitherParent,
}

impl LicenceHolder {
    /// The parent whose material it is, when it is one parent's (identity cards).
    pub fn parent(self) -> Option<ParentRole> {
        match self {
            LicenceHolder::Mother => Some(ParentRole::Mother),
            LicenceHolder::Father => Some(ParentRole::Father),
            LicenceHolder::EitherParent => None,
        }
    }
}

/// One material that may be given as an electronic licence (电子证照).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRule {
    /// Which material.
    pub kind: DocumentKind,
    /// Whose licence it must be.
    pub holder: LicenceHolder,
    /// After its licence was found missing or wrong, a scan is taken only once a missing-licence
    /// registration for it was approved (附件2 一(一): 待缺失登记审核通过后允许用户进行身份证照片上传).
    pub registration_before_scan: bool,
    /// Where the rule is written.
    pub source: String,
}

/// Electronic licences and the missing-licence registration (授权缺失登记).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicencePolicy {
    /// The directory reviews a registration within this many working days.
    pub registration_review_working_days: u32,
    /// The region whose identity cards the directory holds (GB/T 2260 prefixes): an identity card
    /// issued elsewhere may simply be photographed (附件2 一(一) "省外身份证可通过拍照上传").
    pub province_prefixes: Vec<String>,
    /// The materials that may be licences.
    pub kinds: Vec<LicenceRule>,
    /// Where the registration rule is written.
    pub source: String,
}

/// A follow-up service offered when the flow ended because the applicant did not choose it
/// (proactive offer): accepting continues the same application with the data on file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferRule {
    /// The stage offered.
    pub stage: Stage,
    /// The services of that stage offered (only those whose data is on file or derived from it).
    pub services: Vec<crate::kinds::Service>,
    /// Offered only while the newborn is younger than this.
    #[serde(default)]
    pub newborn_under_months: Option<u32>,
    /// Where the rule is written.
    pub source: String,
}

/// Supervision (办件监察) settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervision {
    /// Warn at this share of a stage's budget, in percent.
    pub warning_percent: u8,
    /// The whole flow's promised deadline, where a policy gives one.
    #[serde(default)]
    pub overall_deadline_working_days: Option<u32>,
    /// Working days an agency has to follow up a bad rating (差评回访整改).
    pub follow_up_working_days: u32,
    /// Minutes an agency's system has to acknowledge a dispatch (answer 2xx) before the
    /// watchdog escalates it to its supervisor.
    pub acknowledge_minutes: u32,
    /// Where the settings come from.
    pub source: String,
}

/// How the predicted completion ([`crate::forecast`]) reads the agencies' history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastRules {
    /// The recent window of finished stages a prediction draws from, in days.
    pub window_days: u32,
    /// A stage with fewer finished cases in the window is predicted from its deadline.
    pub min_cases: u32,
    /// Where the settings come from.
    pub source: String,
}

/// Drafts made from the hospital's birth record ([`crate::draft`]): how long one waits for the
/// mother before it is deleted with its personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftRules {
    /// Calendar days from the record's arrival to the draft's deletion unless confirmed.
    pub confirm_days: u32,
    /// Where the setting comes from.
    pub source: String,
}

/// 好差评 after the work: what the family is invited to rate and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// Each finished step is rated on its own (一次一评, 分环节评价).
    pub steps: bool,
    /// The whole matter is rated once it ends (一事一评).
    pub matter: bool,
    /// Days an invitation stays open. When it closes unrated the service records "not rated"
    /// and nothing else: no document gives a default rating, so none is invented.
    pub window_days: u32,
    /// Where the settings come from.
    pub source: String,
}

/// One region's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Identifier, e.g. `fujian-2.0`.
    pub id: String,
    /// Version: the date of the document.
    pub version: String,
    /// Human name.
    pub name: Bilingual,
    /// The documents the policy encodes.
    pub sources: Vec<String>,
    /// Eligibility rules.
    pub eligibility: Eligibility,
    /// Routes per case; a case not listed is not offered online.
    pub cases: BTreeMap<Case, CasePolicy>,
    /// Stage rules.
    pub stages: BTreeMap<Stage, StagePolicy>,
    /// Required materials.
    pub materials: Vec<MaterialRule>,
    /// Supervision settings.
    pub supervision: Supervision,
    /// Rating invitations (好差评).
    pub evaluation: Evaluation,
    /// The predicted completion shown to the family.
    pub forecast: ForecastRules,
    /// Drafts from the hospital's birth record.
    pub drafts: DraftRules,
    /// Electronic licences, where the region takes them.
    #[serde(default)]
    pub licences: Option<LicencePolicy>,
    /// Follow-up services offered after the flow ended without them.
    #[serde(default)]
    pub offers: Vec<OfferRule>,
    /// The births it governs by date: a policy starts new applications only for births in force.
    pub in_force: InForce,
    /// The region's own holidays on top of the national calendar (Guangxi's 壮族三月三).
    #[serde(default)]
    pub calendar: Option<crate::calendar::RegionalDays>,
    /// The services (办理事项) the region offers.
    pub services: Services,
    /// What the family is told on given occasions, as the documents word it.
    #[serde(default)]
    pub notices: Vec<PolicyNotice>,
    /// How each result document may reach the family.
    pub collection: Collection,
    /// What becomes of the certificate's counterfoil after an online registration.
    pub counterfoil: CounterfoilRule,
    /// Where the maternity benefit may be paid, where the region restricts it (Xiamen: the mother's
    /// savings card, 办理材料(四)); none: any of the form's options.
    #[serde(default)]
    pub maternity_payout: Option<PayoutRule>,
    /// Conditions the applicant declares on the form because the platform cannot look them up
    /// (Yongfu: insured in Guangxi, no card applied for elsewhere, not overseas Chinese).
    #[serde(default)]
    pub declarations: Vec<DeclarationRule>,
}

/// What becomes of the certificate's counterfoil (副页) when the birth is registered online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterfoilRule {
    /// Who keeps it and where it goes.
    pub handling: CounterfoilHandling,
    /// Handed over each quarter by this day of the quarter's last month (永福县: 30); none: at
    /// the bureau's own intervals.
    #[serde(default)]
    pub quarterly_by_day: Option<u32>,
    /// Where it is written.
    pub source: String,
}

/// Who keeps the counterfoil and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterfoilHandling {
    /// The hospital keeps it and hands it over to the police for their archive, on a register
    /// both sides sign (闽卫政法〔2024〕40号 附件1 三(一)2 via the county health bureau; 永福县
    /// 一(二)1(4) to the local station each quarter).
    Handover,
    /// The hospital keeps it (with the stub) for the family (厦门 办理流程(二); 莆田 二(二)2).
    KeptAtHospital,
    /// The platform sends the police an electronic counterfoil (闽卫监督〔2021〕43号 九(三)).
    Electronic,
}

impl CounterfoilRule {
    /// The day by which a counterfoil of a certificate issued on `issued` is handed over, where
    /// the policy sets a quarterly day (the quarter's last month, e.g. 30 June).
    pub fn hand_over_by(&self, issued: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
        use chrono::Datelike;
        let day = self.quarterly_by_day?;
        let last_month = issued.month0() / 3 * 3 + 3;
        chrono::NaiveDate::from_ymd_opt(issued.year(), last_month, day).or_else(|| {
            // A day the month lacks: its last day.
            chrono::NaiveDate::from_ymd_opt(issued.year(), last_month, 1)
                .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
                .and_then(|next| next.pred_opt())
        })
    }
}

/// Where a region pays the maternity benefit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutRule {
    /// The payout methods offered.
    pub to: Vec<crate::kinds::PayoutTo>,
    /// Where it is written.
    pub source: String,
}

/// A condition of the policy the applicant declares (确认) on the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclarationRule {
    /// Its name on the form (`declarations`), e.g. `insured_in_guangxi`.
    pub id: String,
    /// What the applicant declares.
    pub text: Bilingual,
    /// Where the condition is written.
    pub source: String,
}

/// How each result document may reach the family (送达方式), per document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    /// 《出生医学证明》
    pub birth_certificate: Vec<crate::kinds::CollectionMethod>,
    /// 户口簿
    pub household_booklet: Vec<crate::kinds::CollectionMethod>,
    /// 社会保障卡
    pub social_security_card: Vec<crate::kinds::CollectionMethod>,
    /// Where the options are written.
    pub source: String,
}

impl Collection {
    /// The ways `doc` may reach the family.
    pub fn methods(
        &self,
        doc: crate::kinds::CollectedDocument,
    ) -> &[crate::kinds::CollectionMethod] {
        use crate::kinds::CollectedDocument as D;
        match doc {
            D::BirthCertificate => &self.birth_certificate,
            D::HouseholdBooklet => &self.household_booklet,
            D::SocialSecurityCard => &self.social_security_card,
        }
    }

    /// Whether `doc` may reach the family by `method`.
    pub fn offers(
        &self,
        doc: crate::kinds::CollectedDocument,
        method: crate::kinds::CollectionMethod,
    ) -> bool {
        self.methods(doc).contains(&method)
    }
}

/// When a policy's notice is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeOccasion {
    /// Pre-review accepted the application (自动受理; 受理通知书).
    Accepted,
    /// Pre-review sent the application offline (不予受理通知书), after its reason.
    NotAccepted,
    /// The hospital finished without issuing the vaccination certificate.
    VaccinationNotIssued,
    /// The newborn was registered and the family mails the booklet to the station.
    BookletMailed,
    /// The insurance office enrolled the newborn. `{backdated_until}` in the text becomes the
    /// last day on which paying still covers from the birth (附件2 一(五)).
    InsuranceEnrolled,
}

/// One notice of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyNotice {
    /// When it is given.
    pub on: NoticeOccasion,
    /// What it says.
    pub text: Bilingual,
    /// Where it is written.
    pub source: String,
}

/// The services (办理事项) a policy offers online, and how 科学育儿指导服务登记 is registered
/// where it is one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    /// The services a family may choose.
    pub offered: std::collections::BTreeSet<Service>,
    /// How parenting guidance is registered, where it is offered.
    #[serde(default)]
    pub parenting_guidance: Option<ParentingGuidanceRule>,
    /// Where the list is written.
    pub source: String,
}

/// Who registers 科学育儿指导服务登记.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentingRegistrar {
    /// The parent, by opening the knowledge base in the app (闽卫政法〔2024〕40号 附件1 三(一)2
    /// "点击阅读后即登记成功"; 附件4 四), in parallel with the certificates.
    KnowledgeBase,
    /// The hospital, with the certificates (its result reports it).
    Hospital,
}

/// How parenting guidance is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentingGuidanceRule {
    /// Who registers it.
    pub registered_by: ParentingRegistrar,
    /// Where the rule is written.
    pub source: String,
}

/// The births a policy governs, by date of birth (an application made under it keeps it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InForce {
    /// The first birth date it governs; none: since before any birth the service sees.
    #[serde(default)]
    pub from: Option<chrono::NaiveDate>,
    /// The first birth date it no longer governs (a later document took over); none: still in force.
    #[serde(default)]
    pub until: Option<chrono::NaiveDate>,
    /// Where the dates come from.
    pub source: String,
}

impl InForce {
    /// Whether a birth on `born` falls in it.
    pub fn covers(&self, born: chrono::NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= born) && self.until.is_none_or(|u| born < u)
    }
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not valid TOML of the policy shape.
    #[error("policy file {file}: {source}")]
    Format {
        /// The file.
        file: String,
        /// The parser's message.
        source: toml::de::Error,
    },
    /// Valid shape, inconsistent content.
    #[error("policy {id}: {problem}")]
    Inconsistent {
        /// The policy.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

impl Policy {
    /// Parses and checks one policy file.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|source| PolicyError::Format {
            file: file.to_owned(),
            source,
        })?;
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let bad = |problem: String| {
            Err(PolicyError::Inconsistent {
                id: self.id.clone(),
                problem,
            })
        };
        if self.cases.is_empty() {
            return bad("no case is offered".into());
        }
        if !self.stages.contains_key(&Stage::PreReview) {
            return bad("the pre_review stage has no rules".into());
        }
        if let Some(problem) = self
            .calendar
            .as_ref()
            .and_then(|c| c.problems().into_iter().next())
        {
            return bad(format!("calendar: {problem}"));
        }
        {
            use crate::kinds::{CollectedDocument as D, CollectionMethod as M};
            for doc in D::ALL {
                let methods = self.collection.methods(doc);
                if methods.is_empty() {
                    return bad(format!(
                        "collection: no way to collect the {}",
                        doc.as_str()
                    ));
                }
                let fits = |m: &M| match m {
                    M::PickupByFather => doc == D::BirthCertificate,
                    M::Reprint => doc == D::HouseholdBooklet,
                    M::Pickup | M::Mail => true,
                };
                if let Some(m) = methods.iter().find(|m| !fits(m)) {
                    return bad(format!(
                        "collection: {m:?} does not apply to the {}",
                        doc.as_str()
                    ));
                }
            }
        }
        if self
            .counterfoil
            .quarterly_by_day
            .is_some_and(|d| !(1..=31).contains(&d))
            || (self.counterfoil.quarterly_by_day.is_some()
                && self.counterfoil.handling != CounterfoilHandling::Handover)
        {
            return bad("counterfoil: a quarterly day (1–31) is for handovers only".into());
        }
        if self.services.offered.contains(&Service::ParentingGuidance)
            != self.services.parenting_guidance.is_some()
        {
            return bad(
                "services: parenting_guidance says how it is registered exactly when it is offered"
                    .into(),
            );
        }
        for service in &self.services.offered {
            if !self
                .cases
                .values()
                .any(|c| c.route.contains(&service.stage()))
            {
                return bad(format!(
                    "services: {service:?} is offered but no route reaches it"
                ));
            }
        }
        for (case, c) in &self.cases {
            if c.route.contains(&Stage::PreReview) {
                return bad(format!(
                    "case {case:?}: pre_review always runs first and is not part of a route"
                ));
            }
            for (i, stage) in c.route.iter().enumerate() {
                for dep in c.after.get(stage).into_iter().flatten() {
                    if dep.stage != Stage::PreReview && !c.route[..i].contains(&dep.stage) {
                        return bad(format!(
                            "case {case:?}: {stage} depends on {dep}, which is not before it on the route"
                        ));
                    }
                }
                match self.stages.get(stage) {
                    Some(StagePolicy {
                        deadline_working_days: Some(d),
                        ..
                    }) if *d > 0 => {}
                    _ => {
                        return bad(format!(
                            "case {case:?}: stage {stage} needs rules with a deadline"
                        ));
                    }
                }
            }
        }
        for (case, c) in &self.cases {
            let stray = c
                .after
                .keys()
                .chain(c.on_failure.keys())
                .find(|s| !c.route.contains(s));
            if let Some(stage) = stray {
                return bad(format!(
                    "case {case:?}: {stage} has rules but is not on the route"
                ));
            }
        }
        for (stage, rules) in &self.stages {
            for (service, part) in &rules.parts {
                if service.stage() != *stage {
                    return bad(format!(
                        "stage {stage}: part {} belongs to stage {}",
                        service.as_str(),
                        service.stage()
                    ));
                }
                if part.deadline_working_days == 0
                    || rules
                        .deadline_working_days
                        .is_some_and(|d| part.deadline_working_days > d)
                {
                    return bad(format!(
                        "stage {stage}: part {} needs a deadline between 1 and the stage's",
                        service.as_str()
                    ));
                }
            }
        }
        for m in &self.materials {
            if let Some(case) = m.cases.iter().find(|c| !self.cases.contains_key(c)) {
                return bad(format!(
                    "material {:?} names case {case:?}, which is not offered",
                    m.kind
                ));
            }
        }
        if let Some(l) = &self.licences {
            if l.registration_review_working_days == 0 {
                return bad("registration_review_working_days must be at least 1".into());
            }
            for (i, rule) in l.kinds.iter().enumerate() {
                if l.kinds[..i].iter().any(|r| r.kind == rule.kind) {
                    return bad(format!("licence kind {:?} is listed twice", rule.kind));
                }
            }
        }
        for offer in &self.offers {
            if !self.cases.values().any(|c| c.route.contains(&offer.stage)) {
                return bad(format!("offer of stage {}: no case routes it", offer.stage));
            }
            if offer.services.is_empty() || offer.services.iter().any(|s| s.stage() != offer.stage)
            {
                return bad(format!(
                    "offer of stage {}: its services must be of that stage",
                    offer.stage
                ));
            }
        }
        if self.supervision.follow_up_working_days == 0 {
            return bad("follow_up_working_days must be at least 1".into());
        }
        if !(1..=100).contains(&self.supervision.warning_percent) {
            return bad("warning_percent must be 1 to 100".into());
        }
        if self.supervision.acknowledge_minutes == 0 {
            return bad("acknowledge_minutes must be at least 1".into());
        }
        if !(1..=90).contains(&self.drafts.confirm_days) {
            return bad("drafts.confirm_days must be 1 to 90".into());
        }
        if self.forecast.window_days == 0 || self.forecast.min_cases == 0 {
            return bad("forecast.window_days and forecast.min_cases must be at least 1".into());
        }
        Ok(())
    }

    /// Its reference, stored with each application.
    pub fn reference(&self) -> PolicyRef {
        PolicyRef {
            id: self.id.clone(),
            version: self.version.clone(),
        }
    }

    /// The agency stages of a case, or `None` when the case is not offered.
    pub fn route(&self, case: Case) -> Option<&[Stage]> {
        self.cases.get(&case).map(|c| c.route.as_slice())
    }

    /// What `stage` waits for in `case`: its `after` list, or the completion of the stage before
    /// it on the route (pre-review for the first). Pre-review waits for nothing.
    pub fn dependencies(&self, case: Case, stage: Stage) -> Vec<Dependency> {
        let Some(c) = self.cases.get(&case) else {
            return vec![];
        };
        if let Some(after) = c.after.get(&stage) {
            return after.clone();
        }
        let at = c.route.iter().position(|s| *s == stage);
        match at {
            Some(0) => vec![Dependency {
                stage: Stage::PreReview,
                needs: Needs::Completed,
            }],
            Some(i) => vec![Dependency {
                stage: c.route[i - 1],
                needs: Needs::Completed,
            }],
            None => vec![],
        }
    }

    /// What the family is told to collect from the hospital when it releases `version`, where
    /// the policy routes a release.
    pub fn release_notice(&self, version: crate::kinds::CertificateVersion) -> Option<&Bilingual> {
        let notices = self
            .stages
            .get(&Stage::CertificateRelease)?
            .release
            .as_ref()?;
        Some(match version {
            crate::kinds::CertificateVersion::MainPage => &notices.registered,
            crate::kinds::CertificateVersion::Full => &notices.not_registered,
        })
    }

    /// What the failure of `stage` ends in `case` (the package unless the policy says otherwise).
    pub fn failure_scope(&self, case: Case, stage: Stage) -> FailureScope {
        self.cases
            .get(&case)
            .and_then(|c| c.on_failure.get(&stage))
            .copied()
            .unwrap_or(FailureScope::Package)
    }

    /// What a stage may do in a case.
    pub fn stage_rules(&self, stage: Stage, case: Case) -> StageRules {
        self.stages
            .get(&stage)
            .map(|s| StageRules {
                supplement: s.supplement_in.contains(&case),
                confirmation_forms: s.confirmation_forms.clone(),
            })
            .unwrap_or_default()
    }

    /// A stage's budget of working time: N working days of 24 hours.
    pub fn budget(&self, stage: Stage) -> Option<TimeDelta> {
        self.stages
            .get(&stage)?
            .deadline_working_days
            .map(|d| TimeDelta::hours(24 * i64::from(d)))
    }

    /// The services inside `stage` with a budget of their own, and the budgets.
    pub fn part_budgets(&self, stage: Stage) -> impl Iterator<Item = (Service, TimeDelta)> + '_ {
        self.stages
            .get(&stage)
            .into_iter()
            .flat_map(|s| s.parts.iter())
            .map(|(service, p)| {
                (
                    *service,
                    TimeDelta::hours(24 * i64::from(p.deadline_working_days)),
                )
            })
    }

    /// The whole matter's budget, where the policy promises one (永福县 附件2 六(一)).
    pub fn matter_budget(&self) -> Option<TimeDelta> {
        self.supervision
            .overall_deadline_working_days
            .map(|d| TimeDelta::hours(24 * i64::from(d)))
    }

    /// When a stage's clock starts.
    pub fn clock_start(&self, stage: Stage) -> ClockStart {
        self.stages
            .get(&stage)
            .map(|s| s.clock_starts)
            .unwrap_or(ClockStart::OnReceipt)
    }

    /// The rule of a material that may be given as an electronic licence.
    pub fn licence_rule(&self, kind: DocumentKind) -> Option<&LicenceRule> {
        self.licences
            .as_ref()?
            .kinds
            .iter()
            .find(|r| r.kind == kind)
    }

    /// The budget of a missing-licence registration's review.
    pub fn registration_budget(&self) -> Option<TimeDelta> {
        self.licences
            .as_ref()
            .map(|l| TimeDelta::hours(24 * i64::from(l.registration_review_working_days)))
    }

    /// The offer rule of `stage`.
    pub fn offer_rule(&self, stage: Stage) -> Option<&OfferRule> {
        self.offers.iter().find(|o| o.stage == stage)
    }

    /// The materials `stage` needs in `case` when `applicant` applies.
    pub fn materials_at(&self, stage: Stage, case: Case) -> impl Iterator<Item = &MaterialRule> {
        self.materials
            .iter()
            .filter(move |m| m.at == stage && m.cases.contains(&case))
    }

    /// `national` with this region's own holidays, where the policy lists any (Guangxi's
    /// 壮族三月三); `None`: the region runs on the national calendar.
    pub fn regional_calendar(
        &self,
        national: &crate::calendar::WorkingCalendar,
    ) -> Option<crate::calendar::WorkingCalendar> {
        self.calendar
            .as_ref()
            .map(|days| national.with_regional(days))
    }

    /// The notices the policy gives on `occasion`.
    pub fn notices_on(&self, occasion: NoticeOccasion) -> impl Iterator<Item = &PolicyNotice> {
        self.notices.iter().filter(move |n| n.on == occasion)
    }

    /// Whether `service` is the business of its stage's agency (part of what the agency is sent
    /// and reports), rather than registered by the family itself.
    pub fn agency_delivers(&self, service: Service) -> bool {
        service != Service::ParentingGuidance
            || self
                .services
                .parenting_guidance
                .as_ref()
                .is_some_and(|r| r.registered_by == ParentingRegistrar::Hospital)
    }

    /// The materials `stage` needs of an application with `facts`.
    pub fn materials_needed(
        &self,
        stage: Stage,
        facts: MaterialFacts,
    ) -> impl Iterator<Item = &MaterialRule> {
        self.materials_at(stage, facts.case)
            .filter(move |m| m.when.holds(&facts))
    }
}

/// The embedded policy files.
const BUILTIN: [(&str, &str); 5] = [
    (
        "fujian-2.0.toml",
        include_str!("../policies/fujian-2.0.toml"),
    ),
    ("xiamen.toml", include_str!("../policies/xiamen.toml")),
    (
        "fuzhou-pilot-2021.toml",
        include_str!("../policies/fuzhou-pilot-2021.toml"),
    ),
    (
        "putian-2022.toml",
        include_str!("../policies/putian-2022.toml"),
    ),
    (
        "guangxi-yongfu.toml",
        include_str!("../policies/guangxi-yongfu.toml"),
    ),
];

/// The id of the default policy: the Fujian 2.0 notice, 闽卫政法〔2024〕40号.
pub const DEFAULT_POLICY: &str = "fujian-2.0";

/// All known policy versions.
#[derive(Debug, Clone)]
pub struct PolicyRegistry {
    policies: Vec<Policy>,
}

impl PolicyRegistry {
    /// The policies embedded in the binary.
    pub fn builtin() -> Self {
        Self::from_files(BUILTIN)
            .expect("the embedded policy files are valid (checked by the tests)")
    }

    /// Builds a registry from `(file name, TOML text)` pairs.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, PolicyError> {
        let mut policies: Vec<Policy> = vec![];
        for (file, text) in files {
            let p = Policy::from_toml(file, text)?;
            if policies.iter().any(|q| q.reference() == p.reference()) {
                return Err(PolicyError::Inconsistent {
                    id: p.id,
                    problem: format!("version {} is defined twice", p.version),
                });
            }
            policies.push(p);
        }
        Ok(Self { policies })
    }

    /// Every policy version.
    pub fn all(&self) -> &[Policy] {
        &self.policies
    }

    /// The newest version of policy `id`.
    pub fn latest(&self, id: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .filter(|p| p.id == id)
            .max_by(|a, b| a.version.cmp(&b.version))
    }

    /// The policy that governs a birth at `birthplace` on `born`: among those in force that day
    /// whose birthplace rule covers the hospital's county, the one with the most specific region
    /// (Xiamen's `3502` before Fujian's `35`), then the latest version. `None` when no policy
    /// covers the birth (the caller falls back to its default, whose pre-review then says why).
    pub fn for_birth(
        &self,
        birthplace: &crate::region::RegionCode,
        born: chrono::NaiveDate,
    ) -> Option<&Policy> {
        self.policies
            .iter()
            .filter(|p| p.in_force.covers(born))
            .filter_map(|p| {
                let depth = p
                    .eligibility
                    .birthplace
                    .region_prefixes
                    .iter()
                    .filter(|prefix| birthplace.is_within(prefix))
                    .map(String::len)
                    .max()?;
                Some((depth, p))
            })
            .max_by(|(a, p), (b, q)| a.cmp(b).then_with(|| p.version.cmp(&q.version)))
            .map(|(_, p)| p)
    }

    /// The exact version an application was submitted under.
    pub fn get(&self, r: &PolicyRef) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.id == r.id && p.version == r.version)
    }

    /// The default policy (Fujian 2.0).
    pub fn default_policy(&self) -> Option<&Policy> {
        self.latest(DEFAULT_POLICY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_policy_loads_and_fujian_is_the_default() {
        let reg = PolicyRegistry::builtin();
        assert_eq!(reg.all().len(), 5);
        let ids: Vec<&str> = reg.all().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "fujian-2.0",
                "xiamen",
                "fuzhou-pilot-2021",
                "putian-2022",
                "guangxi-yongfu"
            ]
        );
        assert_eq!(
            reg.default_policy().map(|p| p.id.as_str()),
            Some("fujian-2.0")
        );
    }

    /// The deadlines of the seeds, table-driven.
    /// Rules: FJ2-DEADLINES.
    #[test]
    fn deadlines_per_region_match_their_documents() {
        let reg = PolicyRegistry::builtin();
        let table = [
            // 闽卫政法〔2024〕40号 附件1 四(一)–(五)
            ("fujian-2.0", Stage::HealthCheck, 1),
            ("fujian-2.0", Stage::Police, 1),
            ("fujian-2.0", Stage::Insurance, 1),
            ("fujian-2.0", Stage::SocialSecurityCard, 3),
            // 永福县 附件2 六(二): certificate 1, registration 2, reimbursement 15, card 30
            ("guangxi-yongfu", Stage::HealthCheck, 1),
            ("guangxi-yongfu", Stage::Police, 2),
            ("guangxi-yongfu", Stage::Insurance, 15),
            ("guangxi-yongfu", Stage::SocialSecurityCard, 30),
            // 闽卫监督〔2021〕43号 附件 十一
            ("fuzhou-pilot-2021", Stage::SocialSecurityCard, 3),
        ];
        for (id, stage, days) in table {
            let p = reg.latest(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(
                p.budget(stage),
                Some(TimeDelta::hours(24 * days)),
                "{id} {stage}"
            );
        }
        let fj = reg.latest("fujian-2.0").unwrap_or_else(|| panic!("fujian"));
        assert_eq!(
            fj.clock_start(Stage::SocialSecurityCard),
            ClockStart::OnPartnerBankChoice
        );
        assert_eq!(fj.budget(Stage::PreReview), None);
    }

    /// 闽卫政法〔2024〕40号 附件1 三(一)–(三): the three routes.
    /// Rules: FJ2-CASES, FJ2-CASE2-POLICE-FAIL, XM-RELEASE, PT22-RELEASE, YF-PARALLEL.
    #[test]
    fn fujian_routes_per_case() {
        use crate::kinds::CertificateVersion;
        let reg = PolicyRegistry::builtin();
        let fj = reg.latest("fujian-2.0").unwrap_or_else(|| panic!("fujian"));
        use Stage::*;
        assert_eq!(
            fj.route(Case::Full),
            Some(
                &[
                    HealthCheck,
                    Police,
                    CertificateRelease,
                    Insurance,
                    SocialSecurityCard
                ][..]
            )
        );
        // 三(一)2–3: the hospital learns the registration result however the police stage ends.
        let ended = |stage| Dependency {
            stage,
            needs: Needs::Ended,
        };
        let completed = |stage| Dependency {
            stage,
            needs: Needs::Completed,
        };
        assert_eq!(
            fj.dependencies(Case::Full, CertificateRelease),
            [ended(Police)]
        );
        assert_eq!(fj.dependencies(Case::Full, Insurance), [completed(Police)]);
        assert_eq!(
            fj.dependencies(Case::Full, SocialSecurityCard),
            [completed(Insurance)]
        );
        assert_eq!(fj.failure_scope(Case::Full, Police), FailureScope::Package);
        assert_eq!(
            fj.route(Case::HasBirthCertificate),
            Some(&[Police, Insurance, SocialSecurityCard][..])
        );
        // 三(二)2 "终止本环节服务": a police failure leaves insurance and the card running.
        assert_eq!(
            fj.failure_scope(Case::HasBirthCertificate, Police),
            FailureScope::Stage
        );
        assert_eq!(
            fj.dependencies(Case::HasBirthCertificate, Insurance),
            [ended(Police)]
        );
        assert_eq!(
            fj.route(Case::HasHouseholdBooklet),
            Some(&[Insurance, SocialSecurityCard][..])
        );
        // Xiamen offers only the full flow.
        let xm = reg.latest("xiamen").unwrap_or_else(|| panic!("xiamen"));
        assert_eq!(xm.route(Case::HasBirthCertificate), None);
        // Xiamen 办理流程(二)(三) and Putian 二(二)2–3: the hospital learns the result too, and
        // each tells the family where to collect which version.
        for id in ["xiamen", "putian-2022"] {
            let p = reg.latest(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(
                p.dependencies(Case::Full, CertificateRelease),
                [ended(Police)],
                "{id}"
            );
            for v in [CertificateVersion::MainPage, CertificateVersion::Full] {
                assert!(p.release_notice(v).is_some(), "{id} {v:?}");
            }
        }
        // Yongfu 五(三)3(1): the police result goes to insurance and the card office at once.
        let yf = reg
            .latest("guangxi-yongfu")
            .unwrap_or_else(|| panic!("yongfu"));
        assert_eq!(yf.dependencies(Case::Full, Insurance), [completed(Police)]);
        assert_eq!(
            yf.dependencies(Case::Full, SocialSecurityCard),
            [completed(Police)]
        );
        assert_eq!(yf.dependencies(Case::Full, CertificateRelease), []);
    }

    /// The policy follows the birth: the hospital's county and the birth date choose it, a later
    /// province-wide notice governs a city's births from its date, and an ended pilot starts
    /// nothing new.
    /// Rules: XM-VERSION, FZ21-ENDED.
    #[test]
    fn the_birthplace_and_birth_date_choose_the_policy() {
        let reg = PolicyRegistry::builtin();
        let at = |place: &str, born: &str| {
            let place: crate::region::RegionCode =
                place.parse().unwrap_or_else(|e| panic!("{e:?}"));
            let born: chrono::NaiveDate = born.parse().unwrap_or_else(|e| panic!("{e}"));
            reg.for_birth(&place, born).map(|p| p.id.as_str())
        };
        assert_eq!(
            at("350203", "2025-11-10"),
            Some("fujian-2.0"),
            "Xiamen today"
        );
        assert_eq!(
            at("350203", "2024-03-01"),
            Some("xiamen"),
            "Xiamen before 2.0"
        );
        assert_eq!(
            at("350102", "2021-08-01"),
            Some("fuzhou-pilot-2021"),
            "the pilot"
        );
        assert_eq!(
            at("350102", "2025-11-10"),
            Some("fujian-2.0"),
            "the pilot ended"
        );
        assert_eq!(at("350302", "2023-05-01"), Some("putian-2022"));
        assert_eq!(at("350302", "2025-05-01"), Some("fujian-2.0"));
        assert_eq!(at("450326", "2025-11-10"), Some("guangxi-yongfu"));
        assert_eq!(at("440104", "2025-11-10"), None, "Guangzhou: no policy");
    }

    /// A route whose stage depends on one after it (or off the route) is refused.
    #[test]
    fn a_dependency_must_come_before_its_stage_on_the_route() {
        let reg = PolicyRegistry::builtin();
        let fj = reg.latest("fujian-2.0").unwrap_or_else(|| panic!("fujian"));
        let mut bad = fj.clone();
        if let Some(c) = bad.cases.get_mut(&Case::Full) {
            c.after.insert(
                Stage::Police,
                vec![Dependency {
                    stage: Stage::SocialSecurityCard,
                    needs: Needs::Completed,
                }],
            );
        }
        assert!(bad.validate().is_err());
    }

    #[test]
    fn age_limits_per_region() {
        let reg = PolicyRegistry::builtin();
        let table = [
            ("fujian-2.0", 12),
            ("xiamen", 6),
            ("fuzhou-pilot-2021", 6),
            ("putian-2022", 6),
            ("guangxi-yongfu", 1),
        ];
        for (id, months) in table {
            assert_eq!(
                reg.latest(id)
                    .map(|p| p.eligibility.newborn_age.under_months),
                Some(months),
                "{id}"
            );
        }
    }

    /// Guangxi's 壮族三月三 (自治区人民政府令第98号; the 2024 and 2025 notices) is a rest day on the
    /// Yongfu calendar and a working day on the national one; a year without the regional notice
    /// is provisional; a regional day outside its covered years is refused.
    /// Rules: YF-REGIONAL-HOLIDAYS.
    #[test]
    fn yongfus_calendar_has_guangxis_own_holiday() {
        let reg = PolicyRegistry::builtin();
        let yf = reg
            .latest("guangxi-yongfu")
            .unwrap_or_else(|| panic!("yongfu"));
        let national = crate::calendar::WorkingCalendar::builtin();
        let days = yf
            .calendar
            .as_ref()
            .unwrap_or_else(|| panic!("no calendar"));
        let cal = national.with_regional(days);
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap_or_default();
        for day in ["2024-04-11", "2024-04-12", "2025-03-31", "2025-04-01"] {
            assert!(!cal.is_working_day(d(day)), "{day}");
            assert!(national.is_working_day(d(day)), "{day}");
        }
        assert!(cal.covers(d("2025-06-02")) && !cal.covers(d("2026-04-20")));
        assert!(national.covers(d("2026-04-20")));
        let mut wrong = days.clone();
        wrong.covered_years = vec![2024];
        assert!(!wrong.problems().is_empty());
    }

    /// Where the counterfoil goes, per region (issue 19 row 12): handed over (Fujian 2.0 via the
    /// county health bureau; Yongfu to the station by the 30th of each quarter's last month), kept
    /// at the hospital for the family (Xiamen, Putian), or sent electronically (Fuzhou 2021).
    /// Rules: FJ2-COUNTERFOIL-HANDOVER, YF-COUNTERFOIL, XM-COUNTERFOIL, PT22-COUNTERFOIL, FZ21-COUNTERFOIL.
    #[test]
    fn each_region_says_where_the_counterfoil_goes() {
        let reg = PolicyRegistry::builtin();
        let handling = |id: &str| {
            reg.latest(id)
                .map(|p| p.counterfoil.handling)
                .unwrap_or_else(|| panic!("{id}"))
        };
        assert_eq!(handling("fujian-2.0"), CounterfoilHandling::Handover);
        assert_eq!(handling("guangxi-yongfu"), CounterfoilHandling::Handover);
        assert_eq!(handling("xiamen"), CounterfoilHandling::KeptAtHospital);
        assert_eq!(handling("putian-2022"), CounterfoilHandling::KeptAtHospital);
        assert_eq!(
            handling("fuzhou-pilot-2021"),
            CounterfoilHandling::Electronic
        );
        let yf = reg
            .latest("guangxi-yongfu")
            .map(|p| p.counterfoil.clone())
            .unwrap_or_else(|| panic!("yongfu"));
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap_or_default();
        assert_eq!(yf.hand_over_by(d("2025-11-20")), Some(d("2025-12-30")));
        assert_eq!(yf.hand_over_by(d("2025-01-02")), Some(d("2025-03-30")));
        assert_eq!(yf.hand_over_by(d("2025-06-30")), Some(d("2025-06-30")));
        let fj = reg.latest("fujian-2.0").map(|p| p.counterfoil.clone());
        assert_eq!(fj.and_then(|c| c.hand_over_by(d("2025-11-20"))), None);
    }

    /// Materials follow the case, the applicant and the delivery chosen.
    /// Rules: FJ2-CARD-MAIL-PAGES, FJ2-CASE2-CONFIRM.
    #[test]
    fn materials_depend_on_case_and_applicant() {
        let reg = PolicyRegistry::builtin();
        let fj = reg.latest("fujian-2.0").unwrap_or_else(|| panic!("fujian"));
        let facts = |case, applicant| MaterialFacts {
            case,
            applicant,
            ethnicities_differ: false,
            card_by_mail: false,
        };
        let kinds = |case, who| {
            fj.materials_needed(Stage::PreReview, facts(case, who))
                .map(|m| m.kind)
                .collect::<Vec<_>>()
        };
        assert!(
            !kinds(Case::Full, ParentRole::Mother).contains(&DocumentKind::AuthorisationLetter)
        );
        assert!(kinds(Case::Full, ParentRole::Father).contains(&DocumentKind::AuthorisationLetter));
        // 附件2 二(一): case 2 confirms holding the certificate; no scan of it is asked for.
        assert!(
            !kinds(Case::HasBirthCertificate, ParentRole::Mother)
                .contains(&DocumentKind::BirthCertificate)
        );
        assert!(!kinds(Case::Full, ParentRole::Mother).contains(&DocumentKind::BirthCertificate));
        let card = |card_by_mail| -> Vec<DocumentKind> {
            fj.materials_needed(
                Stage::SocialSecurityCard,
                MaterialFacts {
                    card_by_mail,
                    ..facts(Case::Full, ParentRole::Mother)
                },
            )
            .map(|m| m.kind)
            .collect()
        };
        assert_eq!(card(false), [DocumentKind::HouseholdBookletNewborn]);
        // 附件2 一(七): a card by mail needs the booklet's front, head and newborn pages.
        assert_eq!(
            card(true),
            [
                DocumentKind::HouseholdBookletNewborn,
                DocumentKind::HouseholdBookletFront,
                DocumentKind::HouseholdBookletHead,
            ]
        );
    }

    #[test]
    fn inconsistent_policies_are_refused() {
        let text = include_str!("../policies/fujian-2.0.toml");
        let broken = text.replace(
            "route = [\"insurance\", \"social_security_card\"]",
            "route = [\"pre_review\"]",
        );
        assert!(matches!(
            Policy::from_toml("x", &broken),
            Err(PolicyError::Inconsistent { .. })
        ));
        assert!(matches!(
            Policy::from_toml("x", "id = 1"),
            Err(PolicyError::Format { .. })
        ));
        let twice = PolicyRegistry::from_files([("a", text), ("b", text)]);
        assert!(twice.is_err());
    }
}
