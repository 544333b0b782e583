//! Pre-review (预审): the platform's automatic completeness and eligibility check.
//!
//! 闽卫政法〔2024〕40号 附件1 三(一)1: "服务平台接收申请后，依据预先设定的条件对材料的完整性进行预审
//! （若材料缺失，则申请人可进行补件操作后继续申请），符合要求的自动受理。不符合要求的，实时通知申请人不予
//! 受理决定结果并告知申请人转线下办理。" Each rule below says whether materials (or a corrected
//! field) can fix a failure — then the applicant gets a supplement request naming every item at
//! once — or not — then the online flow ends with the reason (转线下办理). The rules' parameters
//! and their sources come from the policy.

use crate::application::{ApplicationForm, DocumentKind, HouseholdKind, ParentRole};
use crate::calendar::CHINA;
use crate::ids::IdHolder;
use crate::licence::LicenceCheck;
use crate::policy::{CollectiveHousehold, Policy, ResidencyRule};
use crate::region::{fujian_county, same_registration_area};
use crate::stage::{Stage, SupplementItem};
use crate::text::Bilingual;
use chrono::{DateTime, Months, Utc};
use serde::Serialize;

/// How a failed rule can be put right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "remedy", rename_all = "snake_case")]
pub enum Remedy {
    /// The applicant supplies these items and the application continues.
    Supplement {
        /// What to supply.
        items: Vec<SupplementItem>,
    },
    /// Materials cannot fix it: the applicant must go to a counter.
    GoOffline,
}

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule code, e.g. `newborn_age`.
    pub rule: &'static str,
    /// How to put it right.
    #[serde(flatten)]
    pub remedy: Remedy,
    /// What is wrong.
    pub message: Bilingual,
    /// Where the rule is written.
    pub source: String,
}

/// The pre-review's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// 自动受理: accepted, with notes for the agencies where something needs a human eye.
    Accept {
        /// e.g. a pre-2004 marriage certificate number whose place of issue is unknown.
        notes: Vec<Bilingual>,
    },
    /// 补件: every item to supply, at once.
    Supplement {
        /// What to supply.
        items: Vec<SupplementItem>,
        /// Why, every reason joined.
        reason: Bilingual,
    },
    /// 转线下办理, with every reason.
    GoOffline {
        /// Why.
        reason: Bilingual,
    },
}

/// The full pre-review: every finding, and the decision they lead to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreReview {
    /// Every failed rule.
    pub findings: Vec<Finding>,
    /// The decision.
    pub decision: Decision,
}

/// The documents `stage` needs under the policy that the form does not carry.
pub fn missing_materials(
    form: &ApplicationForm,
    policy: &Policy,
    stage: Stage,
) -> Vec<(DocumentKind, String)> {
    policy
        .materials_needed(stage, form.material_facts())
        .filter(|m| !form.has_material(m.kind))
        .map(|m| (m.kind, m.source.clone()))
        .collect()
}

/// The supplement request a stage makes before its agency sees an incomplete case: the
/// documents `stage` needs that the form lacks (e.g. the newborn's booklet page for the card),
/// when the policy lets that stage ask for a supplement. `None` when nothing is missing or the
/// stage may not ask.
pub fn stage_supplement(
    form: &ApplicationForm,
    policy: &Policy,
    stage: Stage,
) -> Option<(Vec<SupplementItem>, Bilingual)> {
    let missing = missing_materials(form, policy, stage);
    if missing.is_empty() || !policy.stage_rules(stage, form.case).supplement {
        return None;
    }
    let items = missing
        .iter()
        .map(|(kind, _)| SupplementItem::Document { kind: *kind })
        .collect();
    let names: Vec<Bilingual> = missing.iter().map(|(k, _)| k.label()).collect();
    let zh: Vec<&str> = names.iter().map(|n| n.zh.as_str()).collect();
    let en: Vec<&str> = names.iter().map(|n| n.en.as_str()).collect();
    let reason = Bilingual::new(
        format!("本环节需要补充：{}", zh.join("、")),
        format!("this stage needs: {}", en.join(", ")),
    );
    Some((items, reason))
}

fn join(messages: &[&Bilingual]) -> Bilingual {
    Bilingual::new(
        messages
            .iter()
            .map(|m| m.zh.as_str())
            .collect::<Vec<_>>()
            .join("；"),
        messages
            .iter()
            .map(|m| m.en.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Runs every pre-review rule of `policy` on `form`, as of `applied_at`: when the application
/// was made, whatever round this is, since the eligibility rules on dates apply when the
/// application is made (Yongfu 三(六) "出生1个月内提出申请"; 闽卫政法〔2024〕40号 附件1 二(一)), so
/// a family answering a supplement after the limit passed is not sent offline for it.
/// `licences` are the directory's findings on the form's licence references (the caller looked
/// them up); `photos_pending` the materials given as photos that count only after an approved
/// missing-licence registration (`Application::photos_awaiting_registration`).
pub fn pre_review(
    form: &ApplicationForm,
    policy: &Policy,
    applied_at: DateTime<Utc>,
    licences: &[LicenceCheck],
    photos_pending: &[DocumentKind],
) -> PreReview {
    let mut findings = vec![];
    let mut notes = vec![];
    let el = &policy.eligibility;

    // Completeness of materials, per case and applicant (附件2 一(一)–三(一) and each policy's list).
    for (kind, source) in missing_materials(form, policy, Stage::PreReview) {
        let label = kind.label();
        findings.push(Finding {
            rule: "materials_complete",
            remedy: Remedy::Supplement {
                items: vec![SupplementItem::Document { kind }],
            },
            message: Bilingual::new(
                format!("缺少材料：{}", label.zh),
                format!("missing document: {}", label.en),
            ),
            source,
        });
    }

    // Electronic licences: verified in the directory before they are accepted (附件2 一(一)); a
    // refused one is named, so the parent corrects it, authorises it, or files a missing-licence
    // registration and uploads a photo instead.
    for check in licences {
        if let Some(problem) = check.problem {
            let kind = check.reference.kind;
            findings.push(Finding {
                rule: "licence_verified",
                remedy: Remedy::Supplement {
                    items: vec![SupplementItem::Licence { kind, problem }],
                },
                message: problem.message(kind),
                source: policy
                    .licence_rule(kind)
                    .map(|r| r.source.clone())
                    .unwrap_or_default(),
            });
        }
    }

    // A photo where the licence is expected (附件2 一(一)): the licence, or a registration first.
    for kind in photos_pending {
        let problem = crate::licence::LicenceProblem::RegistrationRequired;
        findings.push(Finding {
            rule: "licence_expected",
            remedy: Remedy::Supplement {
                items: vec![SupplementItem::Licence {
                    kind: *kind,
                    problem,
                }],
            },
            message: problem.message(*kind),
            source: policy
                .licence_rule(*kind)
                .map(|r| r.source.clone())
                .unwrap_or_default(),
        });
    }

    // Newborn age limit (Fujian 附件1 二(一): 未满一年; Xiamen, Fuzhou, Putian: 6 months; Guangxi: 1 month).
    let today = applied_at.with_timezone(&CHINA).date_naive();
    let months = el.newborn_age.under_months;
    let limit = form.birth_date().checked_add_months(Months::new(months));
    if limit.is_none_or(|l| today >= l) {
        findings.push(offline(
            "newborn_age",
            Bilingual::new(
                format!("新生儿已满{months}个月，超出线上办理范围"),
                format!("the newborn is {months} months or older, beyond online handling"),
            ),
            &el.newborn_age.source,
        ));
    }

    // Born in a hospital of the region.
    let birthplace = &form.newborn.birthplace;
    if birthplace.is_within("35") && fujian_county(birthplace).is_none() {
        findings.push(fix_fields(
            "birthplace_code",
            &["newborn.birthplace"],
            Bilingual::new(
                format!(
                    "出生地点代码{}不是福建省现行县级行政区划代码",
                    birthplace.as_str()
                ),
                format!(
                    "birthplace {} is not a current Fujian county code",
                    birthplace.as_str()
                ),
            ),
            &el.birthplace.source,
        ));
    } else if !el.birthplace.contains(birthplace) {
        findings.push(offline(
            "birthplace",
            Bilingual::new(
                "新生儿不在本地区助产机构出生，不能线上办理",
                "the child was not born in a hospital of this region",
            ),
            &el.birthplace.source,
        ));
    }

    // Both parents Chinese nationals; foreign, Hong Kong, Macao and Taiwan residents apply offline.
    for (role, parent) in form.parents() {
        if parent.id_number.holder() != IdHolder::MainlandResident {
            let who = role.label();
            findings.push(offline(
                "nationality",
                Bilingual::new(format!("{}持港澳台居民居住证或外国人永久居留身份证，暂不可线上申请", who.zh), format!("the {} holds a Hong Kong/Macao/Taiwan or foreigner's residence card and cannot apply online", who.en)),
                &el.nationality.source,
            ));
        }
    }

    // Household registration of the parents.
    let in_region = |role: ParentRole| {
        form.parent(role).is_some_and(|parent| {
            el.residency
                .region_prefixes
                .iter()
                .any(|p| parent.household_region.is_within(p))
        })
    };
    let (mother_in, father_in) = (in_region(ParentRole::Mother), in_region(ParentRole::Father));
    let registering = form.household.as_ref().map(|h| h.registering_parent);
    let residency_ok = match (el.residency.rule, registering) {
        (ResidencyRule::Both, _) => mother_in && father_in,
        (ResidencyRule::RegisteringParent, Some(r)) => in_region(r),
        (ResidencyRule::AtLeastOne | ResidencyRule::RegisteringParent, _) => mother_in || father_in,
    };
    if !residency_ok {
        let fixable =
            el.residency.rule == ResidencyRule::RegisteringParent && (mother_in || father_in);
        let message = Bilingual::new(
            "父母户籍不符合本地区线上办理条件",
            "the parents' household registration does not meet this region's condition",
        );
        findings.push(if fixable {
            fix_fields(
                "residency",
                &["household.registering_parent"],
                Bilingual::new(
                    format!("{}，请选择本地户籍一方为落户方", message.zh),
                    format!("{}; choose the locally registered parent", message.en),
                ),
                &el.residency.source,
            )
        } else {
            offline("residency", message, &el.residency.source)
        });
    }

    // A household section needs both parents (a single mother is sent offline below).
    let household = form.household.as_ref().filter(|_| form.father.is_some());
    if let Some(household) = household {
        let reg = household.registering_parent;
        let parent = |role| form.parent(role).unwrap_or(&form.mother);
        // 附件2 一(二): only one parent registered in the province → register with that parent.
        if let Some(rule) = &el.single_provincial_parent
            && mother_in != father_in
            && !in_region(reg)
        {
            findings.push(fix_fields(
                "single_provincial_parent",
                &["household.registering_parent"],
                Bilingual::new("父母仅一方为省内户籍的，新生儿必须随省内户籍方落户", "with only one parent registered in the province, the newborn must register with that parent"),
                &rule.source,
            ));
        }
        if let Some(place) = &el.registration_place
            && !place.contains(&parent(reg).household_region)
        {
            let other_ok = place.contains(&parent(reg.other()).household_region);
            let message = Bilingual::new(
                "落户方户籍不在本地区",
                "the registering parent's household is outside this region",
            );
            findings.push(if other_ok {
                fix_fields(
                    "registration_place",
                    &["household.registering_parent"],
                    message,
                    &place.source,
                )
            } else {
                offline("registration_place", message, &place.source)
            });
        }
        // Family versus collective household (附件2 一(四); 附件4 一).
        let (this, other) = (parent(reg), parent(reg.other()));
        let rule = &el.household_kind;
        match rule.collective {
            CollectiveHousehold::NotAllowed if this.household_kind == HouseholdKind::Collective => {
                let message = Bilingual::new(
                    "线上办理仅限随父或随母落家庭户",
                    "online registration is for family households only",
                );
                findings.push(if other.household_kind == HouseholdKind::Family {
                    fix_fields(
                        "household_kind",
                        &["household.registering_parent"],
                        message,
                        &rule.source,
                    )
                } else {
                    offline("household_kind", message, &rule.source)
                });
            }
            CollectiveHousehold::SameAreaRule
                if this.household_kind == HouseholdKind::Collective
                    && other.household_kind == HouseholdKind::Family
                    && same_registration_area(&this.household_region, &other.household_region) =>
            {
                findings.push(fix_fields(
                    "household_kind",
                    &["household.registering_parent"],
                    Bilingual::new("父母一方为家庭户、一方为集体户且在同一市辖区或同一县（市）的，应随家庭户一方落户", "when one parent has a family and the other a collective household in the same district area or county, the newborn registers with the family household"),
                    &rule.source,
                ));
            }
            _ => {}
        }
    }

    // Conditions the platform cannot look up, declared on the form (永福县 三(三)(四)(五)).
    for d in &policy.declarations {
        if !form.declarations.iter().any(|x| x.as_str() == d.id) {
            findings.push(offline(
                "declaration",
                Bilingual::new(
                    format!("未确认申请条件：{}", d.text.zh),
                    format!("a condition is not declared: {}", d.text.en),
                ),
                &d.source,
            ));
        }
    }
    marriage(form, policy, &mut findings, &mut notes);
    applicant(form, policy, applied_at, &mut findings);

    if !policy.stage_rules(Stage::PreReview, form.case).supplement {
        // Policies without online supplements (Xiamen, Fuzhou, Putian: "不符合要求的…转线下办理")
        // send the applicant offline for what elsewhere would be a supplement.
        for f in &mut findings {
            f.remedy = Remedy::GoOffline;
        }
    }
    let decision = decide(&findings, notes);
    PreReview { findings, decision }
}

fn offline(rule: &'static str, message: Bilingual, source: &str) -> Finding {
    Finding {
        rule,
        remedy: Remedy::GoOffline,
        message,
        source: source.to_owned(),
    }
}

fn fix_fields(rule: &'static str, fields: &[&str], message: Bilingual, source: &str) -> Finding {
    Finding {
        rule,
        remedy: Remedy::Supplement {
            items: fields
                .iter()
                .map(|f| SupplementItem::Field {
                    field: (*f).to_owned(),
                })
                .collect(),
        },
        message,
        source: source.to_owned(),
    }
}

/// Born in wedlock (闽卫政法〔2024〕40号 附件1 二(一) 婚生新生儿; 附件2 一(二) "暂不支持单亲母亲和未婚
/// 公民进行申请"): a single mother or unmarried parents go offline with that reason; otherwise both
/// parents give the same certificate, issued in the province where the policy requires it.
fn marriage(
    form: &ApplicationForm,
    policy: &Policy,
    findings: &mut Vec<Finding>,
    notes: &mut Vec<Bilingual>,
) {
    let el = &policy.eligibility;
    let Some(father) = &form.father else {
        findings.push(offline(
            "married_parents",
            Bilingual::new(
                "线上办理暂不支持单亲母亲申请，请到助产机构或户籍地派出所线下办理",
                "a single mother cannot apply online yet; apply at the hospital or the police station of the household",
            ),
            &el.marriage.source,
        ));
        return;
    };
    let (cert, other) = match (
        &form.mother.marriage_certificate,
        &father.marriage_certificate,
    ) {
        (None, None) => {
            findings.push(offline(
                "married_parents",
                Bilingual::new(
                    "线上办理暂不支持未婚父母申请，请到助产机构或户籍地派出所线下办理",
                    "unmarried parents cannot apply online yet; apply at the hospital or the police station of the household",
                ),
                &el.marriage.source,
            ));
            return;
        }
        (Some(c), o) | (o, Some(c)) => (c, o.as_ref()),
    };
    if other != Some(cert) {
        // Either number may be the wrong one (or one left out): the answer gives both.
        findings.push(fix_fields(
            "marriage_certificate_same",
            &["mother.marriage_certificate", "father.marriage_certificate"],
            Bilingual::new(
                "父母的结婚证字号不一致，请同时填写父母双方的结婚证字号",
                "the parents give different marriage certificate numbers; give both again",
            ),
            &el.marriage.source,
        ));
    }
    match (cert.issuing_region(), &el.marriage_certificate) {
        (Some(region), Some(rule)) if !rule.contains(region) => findings.push(offline(
            "marriage_certificate_region",
            Bilingual::new("结婚证非省内领取，暂不可线上申请", "the marriage certificate was not issued in the province"),
            &rule.source,
        )),
        (None, _) => notes.push(Bilingual::new(
            format!("结婚证字号“{}”为旧式编号，发证地需人工核对", cert.as_str()),
            format!("marriage certificate \"{}\" has an old free-text number; check its place of issue by hand", cert.as_str()),
        )),
        _ => {}
    }
}

/// The applicant: the mother, or the father where the policy allows it (附件2 一(三)). Where only
/// the mother may apply (厦门 办理流程(一); 永福县 三(一)) the father goes offline at once, whatever
/// letter he holds; in Fujian 2.0 the letter is a material (asked for as a supplement when
/// missing, 附件1 三(一)1) and its term (委托期限, 附件3) must cover the day of application.
fn applicant(
    form: &ApplicationForm,
    policy: &Policy,
    applied_at: DateTime<Utc>,
    findings: &mut Vec<Finding>,
) {
    let el = &policy.eligibility;
    if form.applicant != ParentRole::Father {
        return;
    }
    if !el.applicant.father_with_authorisation {
        findings.push(offline(
            "applicant",
            Bilingual::new(
                "本地区须由新生儿母亲申请，父亲不能代为线上申请",
                "in this region the mother must apply; the father cannot apply online for her",
            ),
            &el.applicant.source,
        ));
        return;
    }
    let today = applied_at.with_timezone(&CHINA).date_naive();
    let message = match form.authorisation {
        None => Bilingual::new(
            "父亲申请须填写母亲授权委托书的委托期限",
            "when the father applies, give the term of the mother's authorisation letter",
        ),
        Some(a)
            if a.valid_from > a.valid_until || today < a.valid_from || today > a.valid_until =>
        {
            Bilingual::new(
                "申请之日不在授权委托书的委托期限内，请提供有效期内的授权委托书",
                "the day of application is outside the authorisation letter's term; give a letter in force",
            )
        }
        Some(_) => return,
    };
    let mut finding = fix_fields(
        "authorisation_term",
        &["authorisation"],
        message,
        &el.applicant.source,
    );
    if let Remedy::Supplement { items } = &mut finding.remedy
        && form.has_material(DocumentKind::AuthorisationLetter)
    {
        // A new term comes with a new letter.
        items.push(SupplementItem::Document {
            kind: DocumentKind::AuthorisationLetter,
        });
    }
    findings.push(finding);
}

fn decide(findings: &[Finding], notes: Vec<Bilingual>) -> Decision {
    let offline: Vec<&Bilingual> = findings
        .iter()
        .filter(|f| f.remedy == Remedy::GoOffline)
        .map(|f| &f.message)
        .collect();
    if !offline.is_empty() {
        return Decision::GoOffline {
            reason: join(&offline),
        };
    }
    if findings.is_empty() {
        return Decision::Accept { notes };
    }
    let all: Vec<&Bilingual> = findings.iter().map(|f| &f.message).collect();
    let mut items: Vec<SupplementItem> = vec![];
    for f in findings {
        if let Remedy::Supplement { items: its } = &f.remedy {
            for i in its {
                if !items.contains(i) {
                    items.push(i.clone());
                }
            }
        }
    }
    Decision::Supplement {
        items,
        reason: join(&all),
    }
}
