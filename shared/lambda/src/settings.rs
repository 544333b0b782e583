//! The typed settings of a function, read once from the environment that `template.yaml` sets.
//! A missing or empty variable stops the function at start-up with its name.

use crate::allow::AllowList;
use newborn_domain::stage::Stage;
use newborn_service::ports::QueueName;
use std::collections::HashMap;

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// A required variable is not set.
    #[error("environment variable {0} is not set (template.yaml sets it for every function)")]
    Missing(String),
    /// A variable has an unusable value.
    #[error("environment variable {name}: {why}")]
    Invalid {
        /// The variable.
        name: String,
        /// What is wrong.
        why: String,
    },
}

/// Everything a function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `NEWBORN_TABLE`: the DynamoDB table.
    pub table: String,
    /// `NEWBORN_BUCKET`: the scan bucket.
    pub bucket: String,
    /// `NEWBORN_POLICY`: the default region policy (default `fujian-2.0`).
    pub policy: String,
    /// `NEWBORN_AGENCIES_URL`: base URL of the agency gateway; dispatches go to
    /// `<base>/dispatch/<agency>`.
    pub agencies_url: String,
    /// `NEWBORN_SUPERVISORS_URL`: base URL of the agencies' supervisors; SLA escalations go to
    /// `<base>/supervision/<agency>`.
    pub supervisors_url: String,
    /// `NEWBORN_WEBHOOK_KEYS_SECRET`: the Secrets Manager secret (ARN or name) holding the key
    /// file (a JSON array of `{key_id, owner, algorithm, secret}`); its value is read at run time and
    /// never logged.
    pub webhook_keys_secret: String,
    /// `NEWBORN_QUEUE_<STAGE>`: the queue URL of each stage, e.g. `NEWBORN_QUEUE_PRE_REVIEW`.
    pub queues: HashMap<Stage, String>,
    /// `NEWBORN_QUEUE_NOTIFICATIONS`: the queue URL of the notification deliveries.
    pub notifications_queue: String,
    /// `NEWBORN_QUEUE_EVALUATION`: the queue URL of the evaluation stage's tasks.
    pub evaluation_queue: String,
    /// `NEWBORN_NOTIFY_URL`: the applicant notification gateway (the app's push / SMS service).
    pub notify_url: String,
    /// `NEWBORN_RATING_PLATFORM_URL`: the provincial 好差评 platform; ratings go to
    /// `<base>/ratings`.
    pub rating_platform_url: String,
    /// `NEWBORN_LICENCE_DIRECTORY_URL` (optional, default the agency gateway): the province's
    /// licence directory; look-ups and registrations go to `<base>/licences/...`.
    pub licence_directory_url: String,
    /// `NEWBORN_CALLBACK_ALLOWED_CIDRS` (optional): the addresses agency callbacks may come from.
    pub callback_allowed: AllowList,
}

/// The variable holding the URL of a queue, e.g. `NEWBORN_QUEUE_POLICE`.
pub fn queue_variable(queue: impl Into<QueueName>) -> String {
    format!(
        "NEWBORN_QUEUE_{}",
        queue.into().as_str().to_ascii_uppercase()
    )
}

impl Settings {
    /// Every queue URL by queue name (the stages' names and `notifications`), for the relay.
    pub fn queue_urls(&self) -> HashMap<String, String> {
        self.queues
            .iter()
            .map(|(stage, url)| (stage.as_str().to_owned(), url.clone()))
            .chain([
                (
                    newborn_service::ports::NOTIFICATIONS_QUEUE.to_owned(),
                    self.notifications_queue.clone(),
                ),
                (
                    newborn_service::ports::EVALUATION_QUEUE.to_owned(),
                    self.evaluation_queue.clone(),
                ),
            ])
            .collect()
    }

    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From any source of variables (the environment, or a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let required = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SettingsError::Missing(name.to_owned()))
        };
        let url = |name: &str| {
            let url = required(name)?;
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(url.trim_end_matches('/').to_owned())
            } else {
                Err(SettingsError::Invalid {
                    name: name.into(),
                    why: "must be an http(s) URL".into(),
                })
            }
        };
        let agencies_url = url("NEWBORN_AGENCIES_URL")?;
        let supervisors_url = url("NEWBORN_SUPERVISORS_URL")?;
        let notify_url = url("NEWBORN_NOTIFY_URL")?;
        let rating_platform_url = url("NEWBORN_RATING_PLATFORM_URL")?;
        let licence_directory_url =
            match var("NEWBORN_LICENCE_DIRECTORY_URL").filter(|v| !v.trim().is_empty()) {
                Some(_) => url("NEWBORN_LICENCE_DIRECTORY_URL")?,
                None => agencies_url.clone(),
            };
        let queues = Stage::QUEUES
            .into_iter()
            .map(|stage| Ok((stage, required(&queue_variable(stage))?)))
            .collect::<Result<_, SettingsError>>()?;
        Ok(Self {
            table: required("NEWBORN_TABLE")?,
            bucket: required("NEWBORN_BUCKET")?,
            policy: var("NEWBORN_POLICY")
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| newborn_domain::policy::DEFAULT_POLICY.to_owned()),
            agencies_url,
            supervisors_url,
            webhook_keys_secret: required("NEWBORN_WEBHOOK_KEYS_SECRET")?,
            queues,
            notifications_queue: required("NEWBORN_QUEUE_NOTIFICATIONS")?,
            evaluation_queue: required("NEWBORN_QUEUE_EVALUATION")?,
            notify_url,
            rating_platform_url,
            licence_directory_url,
            callback_allowed: AllowList::parse(
                &var("NEWBORN_CALLBACK_ALLOWED_CIDRS").unwrap_or_default(),
            )
            .map_err(|why| SettingsError::Invalid {
                name: "NEWBORN_CALLBACK_ALLOWED_CIDRS".into(),
                why,
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, String> {
        let mut v: HashMap<String, String> = [
            ("NEWBORN_TABLE", "t"),
            ("NEWBORN_BUCKET", "b"),
            ("NEWBORN_AGENCIES_URL", "https://gw.example.cn/"),
            ("NEWBORN_SUPERVISORS_URL", "https://supervision.example.cn"),
            ("NEWBORN_NOTIFY_URL", "https://push.example.cn/newborn"),
            ("NEWBORN_QUEUE_NOTIFICATIONS", "https://sqs/notifications"),
            ("NEWBORN_QUEUE_EVALUATION", "https://sqs/evaluation"),
            (
                "NEWBORN_RATING_PLATFORM_URL",
                "https://haochaping.example.cn",
            ),
            ("NEWBORN_WEBHOOK_KEYS_SECRET", "arn:aws-cn:secretsmanager:x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for stage in Stage::QUEUES {
            v.insert(queue_variable(stage), format!("https://sqs/{stage}"));
        }
        v
    }

    #[test]
    fn settings_come_from_the_variables_the_template_sets() {
        let v = vars();
        let s = Settings::from_vars(|k| v.get(k).cloned()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.agencies_url, "https://gw.example.cn");
        assert_eq!(s.policy, newborn_domain::policy::DEFAULT_POLICY);
        assert_eq!(
            s.queues.get(&Stage::SocialSecurityCard).map(String::as_str),
            Some("https://sqs/social_security_card")
        );
        assert_eq!(
            queue_variable(Stage::PreReview),
            "NEWBORN_QUEUE_PRE_REVIEW",
            "the name template.yaml uses"
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let mut v = vars();
        v.remove("NEWBORN_QUEUE_POLICE");
        assert_eq!(
            Settings::from_vars(|k| v.get(k).cloned()),
            Err(SettingsError::Missing("NEWBORN_QUEUE_POLICE".into()))
        );
        let mut v = vars();
        v.insert("NEWBORN_AGENCIES_URL".into(), "gw.example.cn".into());
        assert!(matches!(
            Settings::from_vars(|k| v.get(k).cloned()),
            Err(SettingsError::Invalid { .. })
        ));
    }
}
