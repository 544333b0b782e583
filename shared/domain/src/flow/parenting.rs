//! 科学育儿指导服务登记 where the parent registers it herself: "申请人通过“闽政通APP”自动链接至
//! 科学育儿知识库，点击阅读后即登记成功", in parallel with the certificates (闽卫政法〔2024〕40号
//! 附件1 三(一)2; 附件4 四). Where the hospital registers it (永福县 五(三)6) its result says so.

use super::{Application, FlowError, Outcome};
use crate::kinds::{Service, Stage};
use crate::policy::{ParentingRegistrar, Policy};
use crate::stage::StageStatus;
use crate::text::Invalid;
use chrono::{DateTime, Utc};

impl Application {
    /// Registers parenting guidance when the parent opened the knowledge base at `now`. `Ok(false)`
    /// when it was registered already (a repeat changes nothing); refused where the family did not
    /// choose it, where the hospital registers it, before pre-review accepted the application, or
    /// after the application was withdrawn.
    pub fn read_parenting_guidance(
        &mut self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<bool, FlowError> {
        let refuse =
            |code: &str, zh: &str, en: &str| Err(FlowError::NotAllowed(Invalid::new(code, zh, en)));
        if !self.form.services.contains(&Service::ParentingGuidance) {
            return refuse(
                "parenting_guidance_not_chosen",
                "本办件未选择科学育儿指导服务登记",
                "this application did not choose parenting guidance",
            );
        }
        let by_parent = policy
            .services
            .parenting_guidance
            .as_ref()
            .is_some_and(|r| r.registered_by == ParentingRegistrar::KnowledgeBase);
        if !by_parent {
            return refuse(
                "parenting_guidance_by_hospital",
                "本地区的科学育儿指导服务登记由助产机构办理，无需阅读知识库登记",
                "here the hospital registers parenting guidance; nothing to do in the app",
            );
        }
        if self.parenting_guidance_read_at.is_some() {
            return Ok(false);
        }
        let accepted = matches!(
            self.stage(Stage::PreReview).map(|s| &s.status),
            Some(StageStatus::Completed { .. })
        );
        if !accepted || self.outcome() == Outcome::Withdrawn {
            return refuse(
                "parenting_guidance_not_open",
                "申请受理后才能登记科学育儿指导服务（撤回的申请不能登记）",
                "parenting guidance is registered once the application is accepted (and not after a withdrawal)",
            );
        }
        self.parenting_guidance_read_at = Some(now);
        Ok(true)
    }
}
