//! Instance settings kept in the database (such as the generated secret key).

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::params;

impl<A: Access> Conn<'_, A> {
    pub async fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        let row = self.fetch_optional("SELECT value FROM setting WHERE key = $1", params![key]).await?;
        row.map(|r| r.text("value")).transpose()
    }
}

impl Conn<'_, ReadWrite> {
    /// Stores `value` unless the key is already set; returns the value now stored (so several
    /// instances starting together agree on one generated secret).
    pub async fn setting_or_insert(&mut self, key: &str, value: &str) -> StoreResult<String> {
        self.execute(
            "INSERT INTO setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            params![key, value],
        )
        .await?;
        Ok(self.setting(key).await?.unwrap_or_else(|| value.to_owned()))
    }

    pub async fn delete_setting(&mut self, key: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM setting WHERE key = $1", params![key]).await? > 0)
    }
}
