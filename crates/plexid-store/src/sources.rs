//! Plex sources and their property-mapping lists.

use std::sync::LazyLock;

use uuid::Uuid;

use crate::db::{Conn, Dialect, Row};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, Window};
use crate::params;
use plexid_core::listing::OrderTerm;

/// A Plex source as stored. `plex_token` is the encrypted token, never the clear one.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRecord {
    pub uuid: Uuid,
    pub name: String,
    pub slug: String,
    pub enabled: bool,
    pub authentication_flow: Option<Uuid>,
    pub enrollment_flow: Option<Uuid>,
    pub user_property_mappings: Vec<Uuid>,
    pub group_property_mappings: Vec<Uuid>,
    pub policy_engine_mode: String,
    pub user_matching_mode: String,
    pub group_matching_mode: String,
    pub managed: Option<String>,
    pub user_path_template: String,
    pub icon: Option<String>,
    pub client_id: String,
    pub allowed_servers: Vec<String>,
    pub allow_friends: bool,
    pub plex_token: String,
}

/// Exact-match filters of `GET /sources/plex/`.
#[derive(Clone, Debug, Default)]
pub struct SourceFilter {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub enabled: Option<bool>,
    pub authentication_flow: Option<Uuid>,
    pub enrollment_flow: Option<Uuid>,
    pub policy_engine_mode: Option<String>,
    pub user_matching_mode: Option<String>,
    pub group_matching_mode: Option<String>,
    pub client_id: Option<String>,
    pub allow_friends: Option<bool>,
    pub search: Vec<String>,
}

/// Ordering terms of the source list, as authentik allows them.
pub const SOURCE_ORDERING: &[&str] = &[
    "pk",
    "name",
    "slug",
    "enabled",
    "authentication_flow",
    "enrollment_flow",
    "user_property_mappings",
    "group_property_mappings",
    "policy_engine_mode",
    "user_matching_mode",
    "managed",
    "user_path_template",
    "group_matching_mode",
    "client_id",
    "allowed_servers",
    "allow_friends",
    "plex_token",
];

/// Ordering terms whose column has another name (the others are their own column).
const COLUMNS: &[(&str, &str)] =
    &[("pk", "uuid"), ("user_property_mappings", "user_mappings"), ("group_property_mappings", "group_mappings")];

fn select_sql(dialect: Dialect) -> &'static str {
    fn build(dialect: Dialect) -> String {
        let agg = |kind: &str| {
            format!(
                "(SELECT {} FROM source_property_mapping m WHERE m.source_uuid = s.uuid AND m.kind = '{kind}')",
                dialect.string_agg("m.mapping_uuid", "m.position")
            )
        };
        format!(
            "SELECT s.uuid, s.name, s.slug, s.enabled, s.authentication_flow, s.enrollment_flow, \
             s.policy_engine_mode, s.user_matching_mode, s.group_matching_mode, s.managed, s.user_path_template, \
             s.icon, s.client_id, s.allowed_servers, s.allow_friends, s.plex_token, \
             {} AS user_mappings, {} AS group_mappings FROM plex_source s",
            agg("user"),
            agg("group")
        )
    }
    static SQLITE: LazyLock<String> = LazyLock::new(|| build(Dialect::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| build(Dialect::Postgres));
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

fn from_row(row: &Row) -> StoreResult<SourceRecord> {
    Ok(SourceRecord {
        uuid: row.uuid("uuid")?,
        name: row.text("name")?,
        slug: row.text("slug")?,
        enabled: row.boolean("enabled")?,
        authentication_flow: row.opt_uuid("authentication_flow")?,
        enrollment_flow: row.opt_uuid("enrollment_flow")?,
        user_property_mappings: row.uuid_list("user_mappings")?,
        group_property_mappings: row.uuid_list("group_mappings")?,
        policy_engine_mode: row.text("policy_engine_mode")?,
        user_matching_mode: row.text("user_matching_mode")?,
        group_matching_mode: row.text("group_matching_mode")?,
        managed: row.opt_text("managed")?,
        user_path_template: row.text("user_path_template")?,
        icon: row.opt_text("icon")?,
        client_id: row.text("client_id")?,
        allowed_servers: row.json("allowed_servers")?,
        allow_friends: row.boolean("allow_friends")?,
        plex_token: row.text("plex_token")?,
    })
}

impl Conn<'_> {
    pub async fn list_sources(
        &mut self,
        filter: &SourceFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<SourceRecord>> {
        let mut f = Filter::default();
        f.eq("s.name", filter.name.clone());
        f.eq("s.slug", filter.slug.clone());
        f.eq("s.enabled", filter.enabled);
        f.eq("s.authentication_flow", filter.authentication_flow);
        f.eq("s.enrollment_flow", filter.enrollment_flow);
        f.eq("s.policy_engine_mode", filter.policy_engine_mode.clone());
        f.eq("s.user_matching_mode", filter.user_matching_mode.clone());
        f.eq("s.group_matching_mode", filter.group_matching_mode.clone());
        f.eq("s.client_id", filter.client_id.clone());
        f.eq("s.allow_friends", filter.allow_friends);
        f.search(&filter.search, &["s.name", "s.slug"]);
        let query = ListQuery { select: select_sql(self.dialect()), columns: COLUMNS, tiebreak: "uuid" };
        query.run(self, f, ordering, window, from_row).await
    }

    pub async fn source_by_slug(&mut self, slug: &str) -> StoreResult<Option<SourceRecord>> {
        let sql = format!("{} WHERE s.slug = $1", select_sql(self.dialect()));
        self.fetch_optional(&sql, params![slug]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn source_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<SourceRecord>> {
        let sql = format!("{} WHERE s.uuid = $1", select_sql(self.dialect()));
        self.fetch_optional(&sql, params![uuid]).await?.as_ref().map(from_row).transpose()
    }

    /// The sources with these uuids (e.g. the nested `source` of a page of connections).
    pub async fn sources_by_uuids(&mut self, ids: &[Uuid]) -> StoreResult<Vec<SourceRecord>> {
        let head = format!("{} WHERE s.uuid IN", select_sql(self.dialect()));
        let rows = self.rows_in(&head, ids.iter().map(|id| crate::db::Param::from(*id)), "").await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn insert_source(&mut self, s: &SourceRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO plex_source (uuid, name, slug, enabled, authentication_flow, enrollment_flow, \
             policy_engine_mode, user_matching_mode, group_matching_mode, managed, user_path_template, icon, \
             client_id, allowed_servers, allow_friends, plex_token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            source_params(s),
        )
        .await?;
        self.replace_source_mappings(s).await
    }

    /// Rewrites every column of the source identified by `s.uuid` (the slug may change).
    pub async fn update_source(&mut self, s: &SourceRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE plex_source SET name = $2, slug = $3, enabled = $4, authentication_flow = $5, \
             enrollment_flow = $6, policy_engine_mode = $7, user_matching_mode = $8, group_matching_mode = $9, \
             managed = $10, user_path_template = $11, icon = $12, client_id = $13, allowed_servers = $14, \
             allow_friends = $15, plex_token = $16 WHERE uuid = $1",
            source_params(s),
        )
        .await?;
        self.replace_source_mappings(s).await
    }

    async fn replace_source_mappings(&mut self, s: &SourceRecord) -> StoreResult<()> {
        self.execute("DELETE FROM source_property_mapping WHERE source_uuid = $1", params![s.uuid]).await?;
        for (kind, list) in [("user", &s.user_property_mappings), ("group", &s.group_property_mappings)] {
            // Django's M2M keeps one row per mapping; a repeated pk is stored once.
            let mut seen = Vec::with_capacity(list.len());
            for mapping in list {
                if seen.contains(mapping) {
                    continue;
                }
                seen.push(*mapping);
                self.execute(
                    "INSERT INTO source_property_mapping (source_uuid, kind, mapping_uuid, position) VALUES ($1, $2, $3, $4)",
                    params![s.uuid, kind, *mapping, seen.len() as i64],
                )
                .await?;
            }
        }
        Ok(())
    }

    pub async fn delete_source(&mut self, uuid: Uuid) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM plex_source WHERE uuid = $1", params![uuid]).await? > 0)
    }
}

fn source_params(s: &SourceRecord) -> Vec<crate::db::Param> {
    params![
        s.uuid,
        s.name.clone(),
        s.slug.clone(),
        s.enabled,
        s.authentication_flow,
        s.enrollment_flow,
        s.policy_engine_mode.clone(),
        s.user_matching_mode.clone(),
        s.group_matching_mode.clone(),
        s.managed.clone(),
        s.user_path_template.clone(),
        s.icon.clone(),
        s.client_id.clone(),
        serde_json::to_string(&s.allowed_servers).unwrap_or_else(|_| "[]".into()),
        s.allow_friends,
        s.plex_token.clone(),
    ]
}

/// What references a source (for `used_by`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceUsage {
    /// (connection id, group uuid)
    pub group_connections: Vec<(i64, Uuid)>,
    /// (user id, username) of users connected to the source
    pub users: Vec<(i64, String)>,
    /// (connection id, user id)
    pub user_connections: Vec<(i64, i64)>,
}

impl Conn<'_> {
    pub async fn source_usage(&mut self, uuid: Uuid) -> StoreResult<SourceUsage> {
        let groups = self
            .fetch_all(
                "SELECT id, group_uuid FROM group_source_connection WHERE source_uuid = $1 ORDER BY id",
                params![uuid],
            )
            .await?;
        let users = self
            .fetch_all(
                "SELECT c.id AS connection_id, u.id AS user_id, u.username FROM user_source_connection c \
                 JOIN app_user u ON u.id = c.user_id WHERE c.source_uuid = $1 ORDER BY c.id",
                params![uuid],
            )
            .await?;
        Ok(SourceUsage {
            group_connections: groups
                .iter()
                .map(|r| Ok((r.int("id")?, r.uuid("group_uuid")?)))
                .collect::<StoreResult<_>>()?,
            users: users.iter().map(|r| Ok((r.int("user_id")?, r.text("username")?))).collect::<StoreResult<_>>()?,
            user_connections: users
                .iter()
                .map(|r| Ok((r.int("connection_id")?, r.int("user_id")?)))
                .collect::<StoreResult<_>>()?,
        })
    }
}
