//! Plex sources and their property-mapping lists.

use std::sync::LazyLock;

use plexid_core::model::Source;
use plexid_core::modes::{GroupMatchingMode, PolicyEngineMode, UserMatchingMode};
use plexid_core::{FlowId, GroupConnectionId, GroupId, MappingId, SourceId, UserConnectionId, UserId};

use crate::engine::{Access, Conn, Dialect, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{diff, Assignments, Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};

/// Exact-match filters of `GET /sources/plex/`.
#[derive(Clone, Debug, Default)]
pub struct SourceFilter {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub enabled: Option<bool>,
    pub authentication_flow: Option<FlowId>,
    pub enrollment_flow: Option<FlowId>,
    pub policy_engine_mode: Option<PolicyEngineMode>,
    pub user_matching_mode: Option<UserMatchingMode>,
    pub group_matching_mode: Option<GroupMatchingMode>,
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
const ORDER_COLUMNS: &[(&str, &str)] =
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

fn from_row(row: &Row) -> StoreResult<Source> {
    Ok(Source {
        id: SourceId(row.uuid("uuid")?),
        name: row.text("name")?,
        slug: row.text("slug")?,
        enabled: row.boolean("enabled")?,
        authentication_flow: row.opt_uuid("authentication_flow")?.map(FlowId),
        enrollment_flow: row.opt_uuid("enrollment_flow")?.map(FlowId),
        user_property_mappings: row.uuid_list("user_mappings")?.into_iter().map(MappingId).collect(),
        group_property_mappings: row.uuid_list("group_mappings")?.into_iter().map(MappingId).collect(),
        policy_engine_mode: row.choice("policy_engine_mode", PolicyEngineMode::parse)?,
        user_matching_mode: row.choice("user_matching_mode", UserMatchingMode::parse)?,
        group_matching_mode: row.choice("group_matching_mode", GroupMatchingMode::parse)?,
        managed: row.opt_text("managed")?,
        user_path_template: row.text("user_path_template")?,
        icon: row.opt_text("icon")?,
        client_id: row.text("client_id")?,
        allowed_servers: row.json("allowed_servers")?,
        allow_friends: row.boolean("allow_friends")?,
        plex_token: row.text("plex_token")?,
    })
}

fn servers_json(servers: &[String]) -> String {
    serde_json::to_string(servers).unwrap_or_else(|_| "[]".into())
}

impl<A: Access> Conn<'_, A> {
    pub async fn list_sources(
        &mut self,
        filter: &SourceFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<Source>> {
        let mut f = Filter::default();
        f.eq("s.name", filter.name.clone());
        f.eq("s.slug", filter.slug.clone());
        f.eq("s.enabled", filter.enabled);
        f.eq("s.authentication_flow", filter.authentication_flow);
        f.eq("s.enrollment_flow", filter.enrollment_flow);
        f.eq("s.policy_engine_mode", filter.policy_engine_mode.map(|m| m.as_str()));
        f.eq("s.user_matching_mode", filter.user_matching_mode.map(|m| m.as_str()));
        f.eq("s.group_matching_mode", filter.group_matching_mode.map(|m| m.as_str()));
        f.eq("s.client_id", filter.client_id.clone());
        f.eq("s.allow_friends", filter.allow_friends);
        f.search(&filter.search, &["s.name", "s.slug"]);
        let query = ListQuery { select: select_sql(self.dialect()), columns: ORDER_COLUMNS, tiebreak: "uuid" };
        query.run(self, f, ordering, window, from_row).await
    }

    /// Every source's id (what background jobs walk), by slug.
    pub async fn source_ids(&mut self) -> StoreResult<Vec<SourceId>> {
        let rows = self.fetch_all("SELECT uuid FROM plex_source ORDER BY slug", vec![]).await?;
        rows.iter().map(|r| Ok(SourceId(r.uuid("uuid")?))).collect()
    }

    pub async fn source_by_slug(&mut self, slug: &str) -> StoreResult<Option<Source>> {
        let sql = format!("{} WHERE s.slug = $1", select_sql(self.dialect()));
        self.fetch_optional(&sql, params![slug]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn source_by_id(&mut self, id: SourceId) -> StoreResult<Option<Source>> {
        let sql = format!("{} WHERE s.uuid = $1", select_sql(self.dialect()));
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    /// The sources with these ids (e.g. the nested `source` of a page of connections).
    pub async fn sources_by_ids(&mut self, ids: &[SourceId]) -> StoreResult<Vec<Source>> {
        let head = format!("{} WHERE s.uuid IN", select_sql(self.dialect()));
        let rows = self.rows_in(&head, ids.iter().map(|id| Param::from(*id)), "").await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn source_usage(&mut self, id: SourceId) -> StoreResult<SourceUsage> {
        let groups = self
            .fetch_all(
                "SELECT id, group_uuid FROM group_source_connection WHERE source_uuid = $1 ORDER BY id",
                params![id],
            )
            .await?;
        let users = self
            .fetch_all(
                "SELECT c.id AS connection_id, u.id AS user_id, u.username FROM user_source_connection c \
                 JOIN app_user u ON u.id = c.user_id WHERE c.source_uuid = $1 ORDER BY c.id",
                params![id],
            )
            .await?;
        Ok(SourceUsage {
            group_connections: groups
                .iter()
                .map(|r| Ok((GroupConnectionId(r.int("id")?), GroupId(r.uuid("group_uuid")?))))
                .collect::<StoreResult<_>>()?,
            users: users
                .iter()
                .map(|r| Ok((UserId(r.int("user_id")?), r.text("username")?)))
                .collect::<StoreResult<_>>()?,
            user_connections: users
                .iter()
                .map(|r| Ok((UserConnectionId(r.int("connection_id")?), UserId(r.int("user_id")?))))
                .collect::<StoreResult<_>>()?,
        })
    }
}

impl Conn<'_, ReadWrite> {
    /// The source, locked until the transaction ends.
    pub async fn source_for_update(&mut self, slug: &str) -> StoreResult<Option<Source>> {
        // PostgreSQL cannot lock rows of a query with aggregates in its select list: lock the
        // row first, then read it whole.
        if self.dialect() == Dialect::Postgres {
            self.fetch_optional("SELECT uuid FROM plex_source WHERE slug = $1 FOR UPDATE", params![slug]).await?;
        }
        self.source_by_slug(slug).await
    }

    pub async fn insert_source(&mut self, s: &Source) -> StoreResult<()> {
        self.execute(
            "INSERT INTO plex_source (uuid, name, slug, enabled, authentication_flow, enrollment_flow, \
             policy_engine_mode, user_matching_mode, group_matching_mode, managed, user_path_template, icon, \
             client_id, allowed_servers, allow_friends, plex_token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            params![
                s.id,
                &s.name,
                &s.slug,
                s.enabled,
                s.authentication_flow,
                s.enrollment_flow,
                s.policy_engine_mode.as_str(),
                s.user_matching_mode.as_str(),
                s.group_matching_mode.as_str(),
                &s.managed,
                &s.user_path_template,
                &s.icon,
                &s.client_id,
                servers_json(&s.allowed_servers),
                s.allow_friends,
                &s.plex_token,
            ],
        )
        .await?;
        self.replace_mappings(s.id, "user", &s.user_property_mappings).await?;
        self.replace_mappings(s.id, "group", &s.group_property_mappings).await
    }

    /// Writes the fields in which `after` differs from `before` (the slug may change).
    pub async fn update_source(&mut self, before: &Source, after: &Source) -> StoreResult<()> {
        let mut set = Assignments::default();
        set.set("name", diff(&before.name, &after.name));
        set.set("slug", diff(&before.slug, &after.slug));
        set.set("enabled", diff(&before.enabled, &after.enabled));
        set.set("authentication_flow", diff(&before.authentication_flow, &after.authentication_flow));
        set.set("enrollment_flow", diff(&before.enrollment_flow, &after.enrollment_flow));
        let mode = |changed: bool, text: &'static str| changed.then_some(text);
        set.set(
            "policy_engine_mode",
            mode(before.policy_engine_mode != after.policy_engine_mode, after.policy_engine_mode.as_str()),
        );
        set.set(
            "user_matching_mode",
            mode(before.user_matching_mode != after.user_matching_mode, after.user_matching_mode.as_str()),
        );
        set.set(
            "group_matching_mode",
            mode(before.group_matching_mode != after.group_matching_mode, after.group_matching_mode.as_str()),
        );
        set.set("user_path_template", diff(&before.user_path_template, &after.user_path_template));
        set.set("icon", diff(&before.icon, &after.icon));
        set.set("client_id", diff(&before.client_id, &after.client_id));
        set.set(
            "allowed_servers",
            (before.allowed_servers != after.allowed_servers).then(|| servers_json(&after.allowed_servers)),
        );
        set.set("allow_friends", diff(&before.allow_friends, &after.allow_friends));
        set.set("plex_token", diff(&before.plex_token, &after.plex_token));
        set.apply(self, "plex_source", "uuid", after.id).await?;
        if before.user_property_mappings != after.user_property_mappings {
            self.replace_mappings(after.id, "user", &after.user_property_mappings).await?;
        }
        if before.group_property_mappings != after.group_property_mappings {
            self.replace_mappings(after.id, "group", &after.group_property_mappings).await?;
        }
        Ok(())
    }

    async fn replace_mappings(&mut self, source: SourceId, kind: &str, list: &[MappingId]) -> StoreResult<()> {
        self.execute("DELETE FROM source_property_mapping WHERE source_uuid = $1 AND kind = $2", params![source, kind])
            .await?;
        // Django's M2M keeps one row per mapping; a repeated pk is stored once.
        let mut seen = Vec::with_capacity(list.len());
        for mapping in list {
            if seen.contains(mapping) {
                continue;
            }
            seen.push(*mapping);
            self.execute(
                "INSERT INTO source_property_mapping (source_uuid, kind, mapping_uuid, position) VALUES ($1, $2, $3, $4)",
                params![source, kind, *mapping, seen.len() as i64],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn delete_source(&mut self, id: SourceId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM plex_source WHERE uuid = $1", params![id]).await? > 0)
    }
}

/// What references a source (for `used_by`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceUsage {
    pub group_connections: Vec<(GroupConnectionId, GroupId)>,
    /// Users connected to the source, with their usernames.
    pub users: Vec<(UserId, String)>,
    /// (connection, its user)
    pub user_connections: Vec<(UserConnectionId, UserId)>,
}

/// The name an administrator's Plex server had when it was picked for a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerName {
    pub source: SourceId,
    /// The server's client identifier (what `allowed_servers` holds).
    pub identifier: String,
    pub name: String,
}

impl<A: Access> Conn<'_, A> {
    /// The stored names of every source's picked servers, by source and name.
    pub async fn server_names(&mut self) -> StoreResult<Vec<ServerName>> {
        let rows = self
            .fetch_all("SELECT source_uuid, identifier, name FROM plex_server_name ORDER BY source_uuid, name", vec![])
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ServerName {
                    source: SourceId(r.uuid("source_uuid")?),
                    identifier: r.text("identifier")?,
                    name: r.text("name")?,
                })
            })
            .collect()
    }

    /// Whether the source's Plex owner becomes an administrator at their next sign-in.
    pub async fn has_owner_admin_grant(&mut self, source: SourceId) -> StoreResult<bool> {
        let row =
            self.fetch_optional("SELECT source_uuid FROM owner_admin_grant WHERE source_uuid = $1", params![source]);
        Ok(row.await?.is_some())
    }
}

impl Conn<'_, ReadWrite> {
    /// Records the names of the source's servers (`(identifier, name)`), replacing those of the
    /// same identifiers; names of servers no longer allowed are dropped.
    pub async fn set_server_names(
        &mut self,
        source: SourceId,
        allowed: &[String],
        names: &[(String, String)],
    ) -> StoreResult<()> {
        for (identifier, name) in names.iter().filter(|(id, name)| allowed.contains(id) && !name.is_empty()) {
            self.execute(
                "INSERT INTO plex_server_name (source_uuid, identifier, name) VALUES ($1, $2, $3) \
                 ON CONFLICT (source_uuid, identifier) DO UPDATE SET name = excluded.name",
                params![source, identifier.as_str(), name.as_str()],
            )
            .await?;
        }
        let stored =
            self.fetch_all("SELECT identifier FROM plex_server_name WHERE source_uuid = $1", params![source]).await?;
        for row in stored {
            let identifier = row.text("identifier")?;
            if !allowed.contains(&identifier) {
                self.execute(
                    "DELETE FROM plex_server_name WHERE source_uuid = $1 AND identifier = $2",
                    params![source, identifier],
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Makes the source's Plex owner an administrator at their next sign-in through it.
    pub async fn grant_owner_admin(&mut self, source: SourceId) -> StoreResult<()> {
        self.execute("INSERT INTO owner_admin_grant (source_uuid) VALUES ($1) ON CONFLICT DO NOTHING", params![source])
            .await
            .map(drop)
    }

    /// Takes the source's owner grant: true when there was one (it is used up).
    pub async fn take_owner_admin_grant(&mut self, source: SourceId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM owner_admin_grant WHERE source_uuid = $1", params![source]).await? > 0)
    }
}
