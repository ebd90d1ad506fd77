//! What the node can run (`GET /ignis/v1/runtimes`).

use ignis_model::runtime::RuntimeList;

use crate::{Client, ClientError};

impl Client {
    /// Lists every runtime identifier and what runs it on the server's node.
    pub async fn runtimes(&self) -> Result<RuntimeList, ClientError> {
        let url = self.url(&["ignis", "v1", "runtimes"]);
        self.json("ListRuntimes", self.http.get(url)).await
    }
}
