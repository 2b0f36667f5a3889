//! Flows as named objects (what sources point their authentication/enrollment at).

use uuid::Uuid;

use crate::db::{Conn, Param, Row};
use crate::error::StoreResult;
use crate::listing::{bind_list, Filter, ListQuery, Listed, Window};
use crate::params;
use plexid_core::listing::OrderTerm;

#[derive(Clone, Debug, PartialEq)]
pub struct FlowRecord {
    pub uuid: Uuid,
    pub slug: String,
    pub name: String,
    pub title: String,
    pub designation: String,
    pub authentication: String,
    pub policy_engine_mode: String,
    pub compatibility_mode: bool,
    pub layout: String,
    pub denied_action: String,
}

#[derive(Clone, Debug, Default)]
pub struct FlowFilter {
    pub slug: Option<String>,
    pub designation: Option<String>,
    pub name: Option<String>,
    pub search: Vec<String>,
}

pub const FLOW_ORDERING: &[&str] = &["pk", "slug", "name", "title", "designation"];

/// Ordering terms whose column has another name (the others are their own column).
const COLUMNS: &[(&str, &str)] = &[("pk", "uuid")];

const SELECT: &str = "SELECT f.uuid, f.slug, f.name, f.title, f.designation, f.authentication, f.policy_engine_mode, \
                      f.compatibility_mode, f.layout, f.denied_action FROM flow f";

fn from_row(row: &Row) -> StoreResult<FlowRecord> {
    Ok(FlowRecord {
        uuid: row.uuid("uuid")?,
        slug: row.text("slug")?,
        name: row.text("name")?,
        title: row.text("title")?,
        designation: row.text("designation")?,
        authentication: row.text("authentication")?,
        policy_engine_mode: row.text("policy_engine_mode")?,
        compatibility_mode: row.boolean("compatibility_mode")?,
        layout: row.text("layout")?,
        denied_action: row.text("denied_action")?,
    })
}

impl Conn<'_> {
    pub async fn list_flows(
        &mut self,
        filter: &FlowFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<FlowRecord>> {
        let mut f = Filter::default();
        f.eq("f.slug", filter.slug.clone());
        f.eq("f.designation", filter.designation.clone());
        f.eq("f.name", filter.name.clone());
        f.search(&filter.search, &["f.name", "f.slug", "f.title"]);
        ListQuery { select: SELECT, columns: COLUMNS, tiebreak: "uuid" }.run(self, f, ordering, window, from_row).await
    }

    pub async fn flow_by_slug(&mut self, slug: &str) -> StoreResult<Option<FlowRecord>> {
        let sql = format!("{SELECT} WHERE f.slug = $1");
        self.fetch_optional(&sql, params![slug]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn flow_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<FlowRecord>> {
        let sql = format!("{SELECT} WHERE f.uuid = $1");
        self.fetch_optional(&sql, params![uuid]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn insert_flow(&mut self, flow: &FlowRecord) -> StoreResult<()> {
        let sql = format!("{INSERT} {VALUES}");
        self.execute(&sql, flow_params(flow)).await.map(drop)
    }

    /// Creates the flow unless one with its slug exists (first start, several instances).
    pub async fn ensure_flow(&mut self, flow: &FlowRecord) -> StoreResult<bool> {
        let sql = format!("{INSERT} {VALUES} ON CONFLICT (slug) DO NOTHING");
        let n = self.execute(&sql, flow_params(flow)).await?;
        Ok(n > 0)
    }

    pub async fn update_flow(&mut self, flow: &FlowRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE flow SET slug = $2, name = $3, title = $4, designation = $5, authentication = $6, \
             policy_engine_mode = $7, compatibility_mode = $8, layout = $9, denied_action = $10 WHERE uuid = $1",
            flow_params(flow),
        )
        .await
        .map(drop)
    }

    /// Deletes the flow; sources pointing at it get null (ON DELETE SET NULL).
    pub async fn delete_flow(&mut self, uuid: Uuid) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM flow WHERE uuid = $1", params![uuid]).await? > 0)
    }

    /// Which of `ids` are flows.
    pub async fn existing_flows(&mut self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        self.existing("flow", ids).await
    }

    /// Which of `ids` exist as `uuid` in `table` (a fixed table name, never user input).
    pub(crate) async fn existing(&mut self, table: &'static str, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let rows = self
            .rows_in(&format!("SELECT uuid FROM {table} WHERE uuid IN"), ids.iter().map(|id| Param::from(*id)), "")
            .await?;
        rows.iter().map(|r| r.uuid("uuid")).collect()
    }

    /// Runs `head (…) tail` with `values` as the `IN` list; no values, no query.
    pub(crate) async fn rows_in(
        &mut self,
        head: &str,
        values: impl IntoIterator<Item = Param>,
        tail: &str,
    ) -> StoreResult<Vec<Row>> {
        let mut params = Vec::new();
        let list = bind_list(&mut params, values);
        if params.is_empty() {
            return Ok(Vec::new());
        }
        self.fetch_all(&format!("{head} ({list}){tail}"), params).await
    }

    /// Sources whose authentication or enrollment flow is this one: (uuid, name).
    pub async fn sources_using_flow(&mut self, uuid: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
        let rows = self
            .fetch_all(
                "SELECT uuid, name FROM plex_source WHERE authentication_flow = $1 OR enrollment_flow = $1 ORDER BY name, uuid",
                params![uuid],
            )
            .await?;
        rows.iter().map(|r| Ok((r.uuid("uuid")?, r.text("name")?))).collect()
    }
}

const INSERT: &str = "INSERT INTO flow (uuid, slug, name, title, designation, authentication, policy_engine_mode, \
                      compatibility_mode, layout, denied_action)";
const VALUES: &str = "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

fn flow_params(flow: &FlowRecord) -> Vec<crate::db::Param> {
    params![
        flow.uuid,
        flow.slug.clone(),
        flow.name.clone(),
        flow.title.clone(),
        flow.designation.clone(),
        flow.authentication.clone(),
        flow.policy_engine_mode.clone(),
        flow.compatibility_mode,
        flow.layout.clone(),
        flow.denied_action.clone(),
    ]
}
