//! Plex source property mappings.

use uuid::Uuid;

use crate::db::{Conn, Param, Row};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, Window};
use crate::params;
use plexid_core::listing::OrderTerm;

#[derive(Clone, Debug, PartialEq)]
pub struct MappingRecord {
    pub uuid: Uuid,
    pub name: String,
    pub expression: String,
    pub managed: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct MappingFilter {
    /// `?managed=a&managed=b`: any of these.
    pub managed: Vec<String>,
    pub managed_is_null: Option<bool>,
    pub name: Option<String>,
    pub search: Vec<String>,
}

pub const MAPPING_ORDERING: &[&str] = &["pk", "managed", "name", "expression"];

/// Ordering terms whose column has another name (the others are their own column).
const COLUMNS: &[(&str, &str)] = &[("pk", "uuid")];

const SELECT: &str = "SELECT p.uuid, p.name, p.expression, p.managed FROM property_mapping p";

fn from_row(row: &Row) -> StoreResult<MappingRecord> {
    Ok(MappingRecord {
        uuid: row.uuid("uuid")?,
        name: row.text("name")?,
        expression: row.text("expression")?,
        managed: row.opt_text("managed")?,
    })
}

impl Conn<'_> {
    pub async fn list_mappings(
        &mut self,
        filter: &MappingFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<MappingRecord>> {
        let mut f = Filter::default();
        if !filter.managed.is_empty() {
            let list = f.bind_list(filter.managed.iter().cloned().map(Param::from));
            f.clause(format!("p.managed IN ({list})"));
        }
        match filter.managed_is_null {
            Some(true) => f.clause("p.managed IS NULL".into()),
            Some(false) => f.clause("p.managed IS NOT NULL".into()),
            None => {}
        }
        f.eq("p.name", filter.name.clone());
        f.search(&filter.search, &["p.name"]);
        ListQuery { select: SELECT, columns: COLUMNS, tiebreak: "uuid" }.run(self, f, ordering, window, from_row).await
    }

    /// The `managed` values present, for validating the `managed` filter.
    pub async fn managed_mapping_values(&mut self) -> StoreResult<Vec<String>> {
        let rows = self.fetch_all("SELECT managed FROM property_mapping WHERE managed IS NOT NULL", vec![]).await?;
        rows.iter().map(|r| r.text("managed")).collect()
    }

    pub async fn mapping_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<MappingRecord>> {
        let sql = format!("{SELECT} WHERE p.uuid = $1");
        self.fetch_optional(&sql, params![uuid]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn insert_mapping(&mut self, m: &MappingRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO property_mapping (uuid, name, expression, managed) VALUES ($1, $2, $3, $4)",
            params![m.uuid, m.name.clone(), m.expression.clone(), m.managed.clone()],
        )
        .await
        .map(drop)
    }

    pub async fn update_mapping(&mut self, m: &MappingRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE property_mapping SET name = $2, expression = $3, managed = $4 WHERE uuid = $1",
            params![m.uuid, m.name.clone(), m.expression.clone(), m.managed.clone()],
        )
        .await
        .map(drop)
    }

    /// Deletes the mapping; it disappears from every source's mapping lists.
    pub async fn delete_mapping(&mut self, uuid: Uuid) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM property_mapping WHERE uuid = $1", params![uuid]).await? > 0)
    }

    pub async fn existing_mappings(&mut self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        self.existing("property_mapping", ids).await
    }

    /// Sources listing this mapping (user or group): (uuid, name), each once.
    pub async fn sources_using_mapping(&mut self, uuid: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
        let rows = self
            .fetch_all(
                "SELECT DISTINCT s.uuid, s.name FROM plex_source s JOIN source_property_mapping m ON m.source_uuid = s.uuid \
                 WHERE m.mapping_uuid = $1 ORDER BY s.name, s.uuid",
                params![uuid],
            )
            .await?;
        rows.iter().map(|r| Ok((r.uuid("uuid")?, r.text("name")?))).collect()
    }
}
