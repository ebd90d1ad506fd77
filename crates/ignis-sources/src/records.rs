//! What is written on a mapping besides the operations' changes: the
//! pollers' `LastProcessingResult`, the tag operations' tags, the
//! supervisor's settled states — each a compare-and-swap on the revision.

use std::collections::BTreeMap;
use std::sync::PoisonError;

use ignis_model::LambdaError;
use ignis_store::StoreError;

use crate::errors::{changed_meanwhile, store_err, WRITE_ATTEMPTS};
use crate::mapping::Mapping;
use crate::service::Mappings;

impl Mappings {
    /// Records a batch's outcome as the mapping's `LastProcessingResult`
    /// when it differs from the last one recorded (in the background; a
    /// mapping changed meanwhile is read again).
    pub fn report(&self, uuid: &str, result: &str) {
        {
            let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
            if results.get(uuid).is_some_and(|r| r == result) {
                return;
            }
            results.insert(uuid.to_owned(), result.to_owned());
        }
        let this = self.clone();
        let (uuid, result) = (uuid.to_owned(), result.to_owned());
        tokio::spawn(async move {
            for _ in 0..WRITE_ATTEMPTS {
                let Ok(mut m) = this.load(&uuid).await else {
                    return;
                };
                if m.last_processing_result == result {
                    return;
                }
                m.last_processing_result = result.clone();
                match this.save(&m).await {
                    Ok(Some(_)) | Err(_) => return,
                    Ok(None) => {}
                }
            }
        });
    }

    /// A mapping's tags (ListTags on its ARN).
    pub async fn tags(&self, uuid: &str) -> Result<BTreeMap<String, String>, LambdaError> {
        Ok(self.load(uuid).await?.tags)
    }

    /// Edits a mapping's tags (TagResource, UntagResource on its ARN).
    pub async fn edit_tags(
        &self,
        uuid: &str,
        edit: impl Fn(&mut BTreeMap<String, String>),
    ) -> Result<(), LambdaError> {
        for _ in 0..WRITE_ATTEMPTS {
            let mut m = self.load(uuid).await?;
            edit(&mut m.tags);
            if self.save(&m).await.map_err(store_err)?.is_some() {
                return Ok(());
            }
        }
        Err(changed_meanwhile())
    }

    /// Saves a mapping read at `m.revision` (the supervisor's settled
    /// states); its new revision, or `None` when it moved since.
    pub async fn save(&self, m: &Mapping) -> Result<Option<i64>, StoreError> {
        self.store().update_mapping(&m.to_row()).await
    }
}
