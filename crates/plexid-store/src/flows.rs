//! Flows as named objects (what sources point their authentication/enrollment at).

use plexid_core::model::Flow;
use plexid_core::modes::*;
use plexid_core::{FlowId, SourceId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};

#[derive(Clone, Debug, Default)]
pub struct FlowFilter {
    pub slug: Option<String>,
    pub designation: Option<FlowDesignation>,
    pub name: Option<String>,
    pub search: Vec<String>,
}

pub const FLOW_ORDERING: &[&str] = &["pk", "slug", "name", "title", "designation"];

/// Ordering terms whose column has another name (the others are their own column).
const ORDER_COLUMNS: &[(&str, &str)] = &[("pk", "uuid")];

const SELECT: &str = "SELECT f.uuid, f.slug, f.name, f.title, f.designation, f.authentication, f.policy_engine_mode, \
                      f.compatibility_mode, f.layout, f.denied_action FROM flow f";

fn from_row(row: &Row) -> StoreResult<Flow> {
    Ok(Flow {
        id: FlowId(row.uuid("uuid")?),
        slug: row.text("slug")?,
        name: row.text("name")?,
        title: row.text("title")?,
        designation: row.choice("designation", FlowDesignation::parse)?,
        authentication: row.choice("authentication", FlowAuthentication::parse)?,
        policy_engine_mode: row.choice("policy_engine_mode", PolicyEngineMode::parse)?,
        compatibility_mode: row.boolean("compatibility_mode")?,
        layout: row.choice("layout", FlowLayout::parse)?,
        denied_action: row.choice("denied_action", FlowDeniedAction::parse)?,
    })
}

impl<A: Access> Conn<'_, A> {
    pub async fn list_flows(
        &mut self,
        filter: &FlowFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<Flow>> {
        let mut f = Filter::default();
        f.eq("f.slug", filter.slug.clone());
        f.eq("f.designation", filter.designation.map(|d| d.as_str()));
        f.eq("f.name", filter.name.clone());
        f.search(&filter.search, &["f.name", "f.slug", "f.title"]);
        ListQuery { select: SELECT, columns: ORDER_COLUMNS, tiebreak: "uuid" }
            .run(self, f, ordering, window, from_row)
            .await
    }

    pub async fn flow_by_slug(&mut self, slug: &str) -> StoreResult<Option<Flow>> {
        let sql = format!("{SELECT} WHERE f.slug = $1");
        self.fetch_optional(&sql, params![slug]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn flow_by_id(&mut self, id: FlowId) -> StoreResult<Option<Flow>> {
        let sql = format!("{SELECT} WHERE f.uuid = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    /// Which of `ids` are flows.
    pub async fn existing_flows(&mut self, ids: &[FlowId]) -> StoreResult<Vec<FlowId>> {
        let rows = self.existing("flow", ids.iter().map(|id| Param::from(*id)).collect()).await?;
        rows.iter().map(|r| Ok(FlowId(r.uuid("uuid")?))).collect()
    }

    /// Sources whose authentication or enrollment flow is this one: (id, name).
    pub async fn sources_using_flow(&mut self, id: FlowId) -> StoreResult<Vec<(SourceId, String)>> {
        let rows = self
            .fetch_all(
                "SELECT uuid, name FROM plex_source WHERE authentication_flow = $1 OR enrollment_flow = $1 ORDER BY name, uuid",
                params![id],
            )
            .await?;
        rows.iter().map(|r| Ok((SourceId(r.uuid("uuid")?), r.text("name")?))).collect()
    }
}

const INSERT: &str = "INSERT INTO flow (uuid, slug, name, title, designation, authentication, policy_engine_mode, \
                      compatibility_mode, layout, denied_action) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

fn flow_params(flow: &Flow) -> Vec<Param> {
    params![
        flow.id,
        &flow.slug,
        &flow.name,
        &flow.title,
        flow.designation.as_str(),
        flow.authentication.as_str(),
        flow.policy_engine_mode.as_str(),
        flow.compatibility_mode,
        flow.layout.as_str(),
        flow.denied_action.as_str(),
    ]
}

impl Conn<'_, ReadWrite> {
    /// The flow, locked until the transaction ends.
    pub async fn flow_for_update(&mut self, slug: &str) -> StoreResult<Option<Flow>> {
        let sql = format!("{SELECT} WHERE f.slug = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![slug]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn insert_flow(&mut self, flow: &Flow) -> StoreResult<()> {
        self.execute(INSERT, flow_params(flow)).await.map(drop)
    }

    /// Creates the flow unless one with its slug exists (first start, several instances).
    pub async fn ensure_flow(&mut self, flow: &Flow) -> StoreResult<bool> {
        let sql = format!("{INSERT} ON CONFLICT (slug) DO NOTHING");
        Ok(self.execute(&sql, flow_params(flow)).await? > 0)
    }

    /// Rewrites the flow's columns (a flow has no fields that change behind an edit's back).
    pub async fn update_flow(&mut self, flow: &Flow) -> StoreResult<()> {
        self.execute(
            "UPDATE flow SET slug = $2, name = $3, title = $4, designation = $5, authentication = $6, \
             policy_engine_mode = $7, compatibility_mode = $8, layout = $9, denied_action = $10 WHERE uuid = $1",
            flow_params(flow),
        )
        .await
        .map(drop)
    }

    /// Deletes the flow; sources pointing at it get null (ON DELETE SET NULL).
    pub async fn delete_flow(&mut self, id: FlowId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM flow WHERE uuid = $1", params![id]).await? > 0)
    }
}
