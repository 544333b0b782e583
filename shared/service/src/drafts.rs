//! Drafts from the hospital's birth record (无感申办, [`newborn_domain::draft`]) as the desks hold
//! them: the store, and the ids a delivery's children get.

use crate::ports::DraftStore;
use newborn_domain::calendar::CHINA;
use newborn_domain::draft::BirthRecord;
use newborn_domain::flow::ApplicationId;
use sha2::Digest;
use std::sync::Arc;

/// The draft store, as the hospital's, the mother's and the monitor's desks hold it.
#[derive(Clone)]
pub struct Drafts {
    pub(crate) store: Arc<dyn DraftStore>,
}

impl Drafts {
    /// Drafts kept in `store`.
    pub fn new(store: Arc<dyn DraftStore>) -> Self {
        Self { store }
    }
}

/// The id of the draft (and, once confirmed, of the application) of the `position`th child
/// (from 0) of the delivery `record` names: `NB<birth date><10 hex digits>` like every
/// application's, the digits taken from SHA-256 of the delivery's key and the position, so the
/// same record posted again names the same drafts.
pub(crate) fn draft_id(record: &BirthRecord, position: usize) -> ApplicationId {
    let date = record.newborns.get(position).map_or_else(
        || "00000000".to_owned(),
        |n| {
            n.birth_time
                .with_timezone(&CHINA)
                .format("%Y%m%d")
                .to_string()
        },
    );
    let digest = sha2::Sha256::digest(format!("{}#{position}", record.delivery_key()));
    let hex = hex::encode_upper(&digest[..5]);
    format!("NB{date}{hex}")
        .parse()
        .unwrap_or_else(|_| unreachable!("derived ids are well formed"))
}
