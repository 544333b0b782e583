//! What the family is told, in Chinese and English: one notification per status a change
//! leaves a stage in, the result of each finished stage and how it reaches the family, and the
//! texts of the applicant's own acts (submission, missing-licence registrations).

use crate::ports::Notification;
use chrono::{DateTime, Utc};
use newborn_domain::calendar::CHINA;
use newborn_domain::flow::{Application, Applied, Effect, Outcome, TimelineEvent};
use newborn_domain::kinds::RatingSubject;
use newborn_domain::policy::{NoticeOccasion, Policy};
use newborn_domain::stage::{
    ApplicantWait, CertificateVersion, Stage, StageResult, StageStatus, SupplementItem,
};
use newborn_domain::text::Bilingual;

/// The notice of a submitted application.
pub(crate) fn submitted(at: DateTime<Utc>) -> Notification {
    notice(
        at,
        "accepted",
        "您的“出生一件事”申请已提交，正在自动预审。",
        "Your application was submitted and is being pre-reviewed.",
    )
}

/// The notice (an SMS to the phone the hospital recorded) that drafts wait for the mother. It
/// names no one: the mother reads the drafts after signing in.
pub(crate) fn drafts_ready(
    at: DateTime<Utc>,
    count: usize,
    expires_at: DateTime<Utc>,
) -> Notification {
    let until = expires_at.with_timezone(&newborn_domain::calendar::CHINA);
    notice(
        at,
        "draft_ready",
        format!(
            "医院已为您的新生儿预填{count}份“出生一件事”申请，请于{}前登录闽政通核对并确认，无需重新填写；逾期未确认的预填信息将被删除。",
            until.format("%Y年%m月%d日")
        ),
        format!(
            "The hospital pre-filled {count} newborn one-stop application(s) for your child: sign in to the provincial app by {} to review and confirm them, with nothing to retype. Unconfirmed, the pre-filled data is deleted then.",
            until.format("%Y-%m-%d")
        ),
    )
}

/// The notice that parenting guidance is registered (闽卫政法〔2024〕40号 附件1 三(一)2).
pub(crate) fn parenting_guidance_registered(at: DateTime<Utc>) -> Notification {
    notice(
        at,
        "service_done",
        "您已阅读科学育儿知识库，科学育儿指导服务登记成功。",
        "You opened the parenting knowledge base: parenting guidance is registered.",
    )
}

/// The notice of a filed missing-licence registration.
pub(crate) fn registration_filed(
    at: DateTime<Utc>,
    number: u32,
    kinds: &[newborn_domain::application::DocumentKind],
    days: u32,
) -> Notification {
    let names: Vec<String> = kinds.iter().map(|k| k.label().zh).collect();
    let names_en: Vec<String> = kinds.iter().map(|k| k.label().en).collect();
    notice(
        at,
        "licence_registration_filed",
        format!(
            "授权缺失登记（第{number}号：{}）已提交，将在{days}个工作日内审核。",
            names.join("、")
        ),
        format!(
            "Missing-licence registration no. {number} ({}) is filed; it is reviewed within {days} working day(s).",
            names_en.join(", ")
        ),
    )
}

/// The notice of the directory's decision on a registration: the event's name and its message.
pub(crate) fn registration_decided(
    at: DateTime<Utc>,
    number: u32,
    rejection: Option<&Bilingual>,
) -> (TimelineEvent, Notification) {
    match rejection {
        Some(rejection) => {
            let event = TimelineEvent::LicenceRegistrationRejected;
            (
                event,
                notice(
                    at,
                    event.as_str(),
                    format!(
                        "授权缺失登记（第{number}号）未通过审核：{}。您可以重新登记或转线下办理。",
                        rejection.zh
                    ),
                    format!(
                        "Missing-licence registration no. {number} was rejected: {}. You may register again or go to a counter.",
                        rejection.en
                    ),
                ),
            )
        }
        None => {
            let event = TimelineEvent::LicenceRegistrationApproved;
            (
                event,
                notice(
                    at,
                    event.as_str(),
                    format!(
                        "授权缺失登记（第{number}号）已审核通过，请在补件中上传相应证件的照片，无需重新填写申请表。"
                    ),
                    format!(
                        "Missing-licence registration no. {number} is approved: upload photos of those documents with the supplement; nothing else to fill in again."
                    ),
                ),
            )
        }
    }
}

pub(crate) fn notice(
    at: DateTime<Utc>,
    kind: &str,
    zh: impl Into<String>,
    en: impl Into<String>,
) -> Notification {
    Notification {
        at,
        kind: kind.to_owned(),
        message: Bilingual::new(zh, en),
    }
}

/// What a finished stage produced and how it reaches the family, per the delivery choice on the
/// form: each agency delivers its own result by mail or pick-up (闽卫政法〔2024〕40号 附件1 五).
/// The policy's notices on `occasion`, joined, with `{backdated_until}` filled in.
fn policy_notices(
    app: &Application,
    policy: &Policy,
    occasion: NoticeOccasion,
) -> (String, String) {
    let until = newborn_domain::insurance::backdated_until(app.form.birth_date());
    let fill = |t: &str| t.replace("{backdated_until}", &until.format("%Y-%m-%d").to_string());
    policy
        .notices_on(occasion)
        .fold((String::new(), String::new()), |(zh, en), n| {
            (zh + &fill(&n.text.zh), en + &fill(&n.text.en) + " ")
        })
}

/// The occasion a stage's result makes for the policy's notices, if any.
fn occasion_of(app: &Application, result: &StageResult) -> Option<NoticeOccasion> {
    use newborn_domain::application::{DeliveryChoice, Service};
    let chose = |s| app.form.services.contains(&s);
    match result {
        StageResult::HealthCheck {
            vaccination_certificate_issued: false,
            ..
        } if chose(Service::VaccinationCertificate) => Some(NoticeOccasion::VaccinationNotIssued),
        StageResult::Police { .. }
            if app.form.case == newborn_domain::kinds::Case::Full
                && matches!(
                    app.form.delivery.household_booklet,
                    Some(DeliveryChoice::Mail { .. })
                ) =>
        {
            Some(NoticeOccasion::BookletMailed)
        }
        StageResult::Insurance { enrolled: true, .. } => Some(NoticeOccasion::InsuranceEnrolled),
        _ => None,
    }
}

fn result_details(app: &Application, policy: &Policy, result: &StageResult) -> (String, String) {
    use newborn_domain::application::DeliveryChoice;
    let mailed =
        |choice: &Option<DeliveryChoice>| matches!(choice, Some(DeliveryChoice::Mail { .. }));
    let delivery = &app.form.delivery;
    match result {
        // 闽卫政法〔2024〕40号 附件1 三(一)2: after the registration result, the hospital hands over
        // (or mails) the certificate.
        StageResult::HealthCheck { .. } => {
            if mailed(&delivery.birth_certificate) {
                (
                    "《出生医学证明》已签发，户籍登记结果反馈后由助产机构邮寄给您（邮费自理）。".into(),
                    "The birth certificate is issued; the hospital mails it once the registration result is back. ".into(),
                )
            } else if matches!(delivery.birth_certificate, Some(DeliveryChoice::PickupByFather)) {
                // 永福县 附件2 四(六), 七(一)1.
                (
                    format!(
                        "《出生医学证明》已签发，户籍登记结果反馈后由新生儿父亲持母亲签字捺印的授权委托书及父母双方身份证原件到{}领取。",
                        app.form.newborn.hospital.name.as_str()
                    ),
                    "The birth certificate is issued; the father collects it at the hospital with the mother's signed and fingerprinted letter and both parents' identity cards once the registration result is back. ".into(),
                )
            } else {
                (
                    format!(
                        "《出生医学证明》已签发，户籍登记结果反馈后请携带有效身份证件到{}领取。",
                        app.form.newborn.hospital.name.as_str()
                    ),
                    "The birth certificate is issued; collect it at the hospital with your identity card once the registration result is back. ".into(),
                )
            }
        }
        // 附件1 三(二)2: in case 2 the family holds the full certificate: it brings (or mails, EMS
        // both ways) the booklet and the full certificate; the station returns the booklet and
        // the main page.
        StageResult::Police { .. } if app.form.case == newborn_domain::kinds::Case::HasBirthCertificate => {
            if mailed(&delivery.household_booklet) {
                (
                    "新生儿户口登记信息已核验，请将落户方户口簿和正、副页完全版的《出生医学证明》通过EMS邮寄到派出所，派出所完成落户登记后将户口簿和《出生医学证明》正页寄回（邮费自付）。".into(),
                    "The registration is checked: mail the household booklet and the full birth certificate to the police station (EMS); it registers the newborn and mails back the booklet and the certificate's main page. ".into(),
                )
            } else {
                (
                    "新生儿户口登记信息已核验，请持落户方户口簿和正、副页完全版的《出生医学证明》到派出所办理落户登记，打印新生儿户口页。".into(),
                    "The registration is checked: bring the household booklet and the full birth certificate to the police station to register the newborn and print its page. ".into(),
                )
            }
        }
        // 附件1 三(一)3: print the newborn's page at the station, or mail the booklet there.
        StageResult::Police { .. } => {
            if matches!(delivery.household_booklet, Some(DeliveryChoice::Reprint { .. })) {
                // 莆卫办〔2022〕44号 二(二)3.
                (
                    "新生儿户口已登记，派出所将重新打印户口簿后寄回给您（邮费自付），原户口簿自然作废。".into(),
                    "The newborn is registered; the police station reprints the household booklet and mails it to you (postage yours); the old booklet is void. ".into(),
                )
            } else if mailed(&delivery.household_booklet) {
                (
                    "新生儿户口已登记，请将落户方户口簿邮寄到派出所，打印新生儿户口页后寄回（邮费自付）。".into(),
                    "The newborn is registered; mail the household booklet to the police station, which prints the newborn's page and mails it back. ".into(),
                )
            } else {
                (
                    "新生儿户口已登记，请持落户方户口簿到派出所打印新生儿户口页。".into(),
                    "The newborn is registered; bring the household booklet to the police station to print the newborn's page. ".into(),
                )
            }
        }
        // 附件1 三(一)4: the premium is paid through the tax bureau's channels.
        StageResult::Insurance { .. } => (
            "新生儿已完成医保参保登记，请在工作日内关注税务缴费渠道，及时缴纳城乡居民医疗保险费。".into(),
            "The newborn is enrolled in medical insurance; pay the premium through the tax bureau's channels. ".into(),
        ),
        // 附件1 三(一)5: the card is made by the chosen partner bank.
        StageResult::SocialSecurityCard {
            partner_bank,
            ready_on,
        } => {
            // 附件1 三(一)5: the financial functions are activated at a branch of the issuing
            // bank; collecting needs the newborn's booklet and the guardian's identity card.
            let how = if mailed(&delivery.social_security_card) {
                ("将邮寄给您", "it will be mailed to you")
            } else {
                (
                    "请携带新生儿户口簿及监护人有效身份证件到该银行网点领取",
                    "collect it at a branch of that bank with the newborn's household booklet and the guardian's identity card",
                )
            };
            (
                format!(
                    "社会保障卡已由{}制卡，{}起{}。金融功能须到发卡银行营业网点激活。",
                    partner_bank.as_str(),
                    ready_on.format("%Y年%m月%d日"),
                    how.0
                ),
                format!(
                    "The social-security card is made by {}; from {ready_on} {}. Its financial functions are activated at a branch of the issuing bank. ",
                    partner_bank.as_str(),
                    how.1
                ),
            )
        }
        // 附件1 三(一)2: what the family collects after the registration result.
        StageResult::CertificateRelease { version } => {
            let text = policy
                .release_notice(*version)
                .cloned()
                .unwrap_or_else(|| version.label());
            (text.zh, format!("{} ", text.en))
        }
        StageResult::PreReview { .. } => (String::new(), String::new()),
    }
}

/// The applicant's notifications for a change, in Chinese and English: the latest status of
/// each stage the change touched, and the end of the flow.
pub(crate) fn for_change(
    app: &Application,
    policy: &Policy,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let mut out = vec![];
    // Entries that change no status (a rating, a follow-up, an invitation) describe nothing
    // new about the stage: the desk that makes them says what it has to.
    for t in applied
        .transitions
        .iter()
        .filter(|t| matches!(t.event, TimelineEvent::Stage(_)))
    {
        let Some(state) = app.stage(t.stage) else {
            continue;
        };
        let label = t.stage.label();
        // Only the latest status of the stage is described; earlier steps of the same write are
        // intermediate.
        if applied
            .transitions
            .iter()
            .rev()
            .find(|x| x.stage == t.stage && matches!(x.event, TimelineEvent::Stage(_)))
            .is_some_and(|last| !std::ptr::eq(last, t))
        {
            continue;
        }
        match &state.status {
            StageStatus::AwaitingApplicant { wait, .. } => match wait {
                ApplicantWait::Supplement { items, reason } => {
                    let names: Vec<String> = items
                        .iter()
                        .map(|i| match i {
                            SupplementItem::Document { kind } => kind.label().zh,
                            SupplementItem::Field { field } => {
                                newborn_domain::fields::label(field).zh
                            }
                            SupplementItem::Licence { kind, .. } => {
                                format!("{}电子证照", kind.label().zh)
                            }
                        })
                        .collect();
                    out.push(notice(
                        now,
                        "supplement_needed",
                        format!(
                            "{}环节需要补件：{}。原因：{}",
                            label.zh,
                            names.join("、"),
                            reason.zh
                        ),
                        format!("{} needs more: {}", label.en, reason.en),
                    ));
                }
                ApplicantWait::ConfirmForms { forms } => {
                    let names: Vec<String> = forms.iter().map(|f| f.label().zh).collect();
                    out.push(notice(
                        now,
                        "forms_to_confirm",
                        format!("请确认并签署：{}", names.join("、")),
                        "please confirm and sign the generated forms",
                    ));
                }
                ApplicantWait::PartnerBank => out.push(notice(
                    now,
                    "choose_partner_bank",
                    "请选择新生儿社保卡合作银行",
                    "please choose the partner bank for the newborn's social-security card",
                )),
                ApplicantWait::Mailing { what } => out.push(notice(
                    now,
                    "mail_documents",
                    format!("请邮寄：{}（寄件时间不计入办理时限）", what.zh),
                    format!("please mail: {}", what.en),
                )),
            },
            StageStatus::Completed { .. } if t.stage == Stage::PreReview => {
                let (zh, en) = policy_notices(app, policy, NoticeOccasion::Accepted);
                if !zh.is_empty() {
                    out.push(notice(now, "pre_review_accepted", zh, en.trim_end()));
                }
            }
            StageStatus::Completed { result } => {
                let (zh, en) = result_details(app, policy, result);
                let (more_zh, more_en) = occasion_of(app, result)
                    .map(|o| policy_notices(app, policy, o))
                    .unwrap_or_default();
                let (rate_zh, rate_en) = invitation(app, RatingSubject::Step(t.stage), now);
                out.push(notice(
                    now,
                    "stage_done",
                    format!("{}已办结。{zh}{more_zh}{rate_zh}", label.zh),
                    format!("{} is done. {en}{more_en}{rate_en}", label.en)
                        .trim_end()
                        .to_owned(),
                ));
            }
            StageStatus::Terminated { reason, .. } => {
                // 附件1 三(一)2–3: after a failed registration the family learns at once which
                // certificate the hospital will give, where the route reports it there.
                let release = app
                    .stage(Stage::CertificateRelease)
                    .filter(|_| t.stage == Stage::Police)
                    .and_then(|_| policy.release_notice(CertificateVersion::Full));
                let (mut then_zh, mut then_en) = release
                    .map(|b| (b.zh.clone(), format!(" {}", b.en)))
                    .unwrap_or_default();
                // 永福县 附件2 五(二): a refusal at acceptance comes with its notice (不予受理通知书).
                if t.stage == Stage::PreReview {
                    let (zh, en) = policy_notices(app, policy, NoticeOccasion::NotAccepted);
                    then_zh.push_str(&zh);
                    if !en.is_empty() {
                        then_en.push(' ');
                        then_en.push_str(en.trim_end());
                    }
                }
                let (rate_zh, rate_en) = invitation(app, RatingSubject::Step(t.stage), now);
                out.push(notice(
                    now,
                    "gone_offline",
                    format!(
                        "线上办理已终止，请到线下窗口办理。原因：{}。{then_zh}{rate_zh}",
                        reason.zh
                    ),
                    format!(
                        "online handling ended; please visit a counter. Reason: {}.{then_en}{rate_en}",
                        reason.en
                    ),
                ));
            }
            _ => {}
        }
    }
    let (rate_zh, rate_en) = invitation(app, RatingSubject::Matter, now);
    if applied.effects.iter().any(|e| {
        matches!(
            e,
            Effect::FlowEnded {
                outcome: Outcome::Completed
            }
        )
    }) {
        out.push(notice(
            now,
            "all_done",
            format!("您选择的事项已全部办结。{rate_zh}"),
            format!("every service you chose is done.{rate_en}"),
        ));
    } else if !rate_zh.is_empty() {
        // The matter ended otherwise (offline): its rating is invited on its own.
        out.push(notice(
            now,
            "rating_invitation",
            rate_zh,
            rate_en.trim_start(),
        ));
    }
    out
}

/// The invitation to rate `subject` that this change (at `now`) made, as a sentence in each
/// language; empty when it made none (一次一评, 一事一评: the window comes from the policy).
fn invitation(app: &Application, subject: RatingSubject, now: DateTime<Utc>) -> (String, String) {
    match app.invitation(subject) {
        Some(i) if i.at == now && i.ended.is_none() => {
            let until = i.closes_at.with_timezone(&CHINA).format("%Y-%m-%d");
            let what = subject.label();
            (
                format!("欢迎在{until}前对“{}”进行评价（好差评）。", what.zh),
                format!(" Please rate {} by {until} (好差评).", what.en),
            )
        }
        _ => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use newborn_domain::policy::PolicyRegistry;
    use newborn_domain::stage::StageEvent;

    const SAMPLE: &str = include_str!("../../../events/api/submit-application.json");

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn submitted(policy: &Policy, edit: impl FnOnce(&mut serde_json::Value)) -> Application {
        let mut v: serde_json::Value = serde_json::from_str(SAMPLE).unwrap_or_default();
        edit(&mut v);
        let form = newborn_domain::application::parse_form(v.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{}: {}", e.field, e.error));
        let id = "NB20251117ABCDEF0123"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        Application::submit(id, form, policy, at("2025-11-17T09:00:00+08:00"))
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }

    /// 闽卫政法〔2024〕40号 附件1 三(一)2: a vaccination certificate the hospital did not issue is
    /// got at the vaccination unit of the household or residence; the family is told so.
    /// Rules: FJ2-VACCINATION-ELSEWHERE.
    #[test]
    fn a_vaccination_certificate_not_issued_at_the_hospital_is_explained() {
        let registry = PolicyRegistry::builtin();
        let p = registry
            .latest("fujian-2.0")
            .unwrap_or_else(|| panic!("fujian-2.0"));
        let mut app = submitted(p, |_| {});
        let now = at("2025-11-17T10:00:00+08:00");
        let result = StageResult::HealthCheck {
            birth_certificate_number: "Q350012345".parse().unwrap_or_else(|e| panic!("{e}")),
            vaccination_certificate_issued: false,
            parenting_guidance_registered: false,
        };
        let mut applied = Applied::default();
        for (stage, event) in [
            (Stage::PreReview, StageEvent::Dispatch),
            (
                Stage::PreReview,
                StageEvent::Complete {
                    result: StageResult::PreReview { notes: vec![] },
                },
            ),
            (Stage::HealthCheck, StageEvent::Dispatch),
            (Stage::HealthCheck, StageEvent::Complete { result }),
        ] {
            applied = app
                .apply(stage, event, p, now)
                .unwrap_or_else(|e| panic!("{stage}: {e}"));
        }
        let notes = for_change(&app, p, &applied, now);
        assert!(
            notes
                .iter()
                .any(|n| n.kind == "stage_done" && n.message.zh.contains("接种单位办理")),
            "{notes:?}"
        );
    }

    /// 永福县 附件2 五(二): a refusal at acceptance comes with the 不予受理通知书 after its reason.
    /// Rules: YF-NOTICES.
    #[test]
    fn a_refusal_in_yongfu_comes_with_its_notice() {
        let registry = PolicyRegistry::builtin();
        let p = registry
            .latest("guangxi-yongfu")
            .unwrap_or_else(|| panic!("yongfu"));
        let mut app = submitted(p, |v| {
            v["newborn"]["birthplace"] = serde_json::json!("450326");
            // Yongfu takes no electronic licences: the identity cards are scans.
            v.as_object_mut().map(|f| f.remove("licences"));
            if let Some(docs) = v["documents"].as_array_mut() {
                for (kind, digit) in [("mother_id_card", "a"), ("father_id_card", "b")] {
                    docs.push(serde_json::json!({"kind": kind, "sha256": digit.repeat(64)}));
                }
            }
        });
        let now = at("2025-11-17T10:00:00+08:00");
        app.apply(Stage::PreReview, StageEvent::Dispatch, p, now)
            .unwrap_or_else(|e| panic!("{e}"));
        let reason = Bilingual::new("父母户籍不符合本地区线上办理条件", "residency");
        let applied = app
            .apply(Stage::PreReview, StageEvent::GoOffline { reason }, p, now)
            .unwrap_or_else(|e| panic!("{e}"));
        let notes = for_change(&app, p, &applied, now);
        let offline = notes
            .iter()
            .find(|n| n.kind == "gone_offline")
            .unwrap_or_else(|| panic!("{notes:?}"));
        assert!(
            offline.message.zh.contains("父母户籍")
                && offline.message.zh.contains("不予受理通知书"),
            "{offline:?}"
        );
    }
}
