//! Plex source property mappings.

use plexid_core::model::Mapping;
use plexid_core::{MappingId, SourceId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};

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
const ORDER_COLUMNS: &[(&str, &str)] = &[("pk", "uuid")];

const SELECT: &str = "SELECT p.uuid, p.name, p.expression, p.managed FROM property_mapping p";

fn from_row(row: &Row) -> StoreResult<Mapping> {
    Ok(Mapping {
        id: MappingId(row.uuid("uuid")?),
        name: row.text("name")?,
        expression: row.text("expression")?,
        managed: row.opt_text("managed")?,
    })
}

impl<A: Access> Conn<'_, A> {
    pub async fn list_mappings(
        &mut self,
        filter: &MappingFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<Mapping>> {
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
        ListQuery { select: SELECT, columns: ORDER_COLUMNS, tiebreak: "uuid" }
            .run(self, f, ordering, window, from_row)
            .await
    }

    /// The `managed` values present, for validating the `managed` filter.
    pub async fn managed_mapping_values(&mut self) -> StoreResult<Vec<String>> {
        let rows = self.fetch_all("SELECT managed FROM property_mapping WHERE managed IS NOT NULL", vec![]).await?;
        rows.iter().map(|r| r.text("managed")).collect()
    }

    pub async fn mapping_by_id(&mut self, id: MappingId) -> StoreResult<Option<Mapping>> {
        let sql = format!("{SELECT} WHERE p.uuid = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn mapping_by_name(&mut self, name: &str) -> StoreResult<Option<Mapping>> {
        let sql = format!("{SELECT} WHERE p.name = $1");
        self.fetch_optional(&sql, params![name]).await?.as_ref().map(from_row).transpose()
    }

    /// The mappings with these ids, in the order given (missing ones left out).
    pub async fn mappings_by_ids(&mut self, ids: &[MappingId]) -> StoreResult<Vec<Mapping>> {
        let rows =
            self.rows_in(&format!("{SELECT} WHERE p.uuid IN"), ids.iter().map(|id| Param::from(*id)), "").await?;
        let found = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(ids.iter().filter_map(|id| found.iter().find(|m| m.id == *id).cloned()).collect())
    }

    pub async fn existing_mappings(&mut self, ids: &[MappingId]) -> StoreResult<Vec<MappingId>> {
        let rows = self.existing("property_mapping", ids.iter().map(|id| Param::from(*id)).collect()).await?;
        rows.iter().map(|r| Ok(MappingId(r.uuid("uuid")?))).collect()
    }

    /// Sources listing this mapping (user or group): (id, name), each once.
    pub async fn sources_using_mapping(&mut self, id: MappingId) -> StoreResult<Vec<(SourceId, String)>> {
        let rows = self
            .fetch_all(
                "SELECT DISTINCT s.uuid, s.name FROM plex_source s JOIN source_property_mapping m ON m.source_uuid = s.uuid \
                 WHERE m.mapping_uuid = $1 ORDER BY s.name, s.uuid",
                params![id],
            )
            .await?;
        rows.iter().map(|r| Ok((SourceId(r.uuid("uuid")?), r.text("name")?))).collect()
    }
}

impl Conn<'_, ReadWrite> {
    /// The mapping, locked until the transaction ends.
    pub async fn mapping_for_update(&mut self, id: MappingId) -> StoreResult<Option<Mapping>> {
        let sql = format!("{SELECT} WHERE p.uuid = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn insert_mapping(&mut self, m: &Mapping) -> StoreResult<()> {
        self.execute(
            "INSERT INTO property_mapping (uuid, name, expression, managed) VALUES ($1, $2, $3, $4)",
            params![m.id, &m.name, &m.expression, &m.managed],
        )
        .await
        .map(drop)
    }

    pub async fn update_mapping(&mut self, m: &Mapping) -> StoreResult<()> {
        self.execute(
            "UPDATE property_mapping SET name = $2, expression = $3, managed = $4 WHERE uuid = $1",
            params![m.id, &m.name, &m.expression, &m.managed],
        )
        .await
        .map(drop)
    }

    /// Deletes the mapping; it disappears from every source's mapping lists.
    pub async fn delete_mapping(&mut self, id: MappingId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM property_mapping WHERE uuid = $1", params![id]).await? > 0)
    }
}
