//! Every unique constraint of the schema, by name. The store reports a violation as the
//! [`Constraint`] it broke; front ends turn it into their message with an exhaustive `match`, so
//! a constraint added here without a message does not compile.

/// A unique constraint (PostgreSQL's name in [`Constraint::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Constraint {
    SourceSlug,
    SourceManaged,
    FlowSlug,
    MappingName,
    MappingManaged,
    Username,
    UserUuid,
    GroupNameParent,
    UserConnectionUserSource,
    UserConnectionSourceIdentifier,
    GroupConnectionGroupSource,
    GroupConnectionSourceIdentifier,
    TokenIdentifier,
    TokenUuid,
    TokenKeyHash,
    TokenManaged,
    ApplicationSlug,
    ApplicationProvider,
    ProviderClientId,
    ProviderName,
}

impl Constraint {
    pub const ALL: &'static [Constraint] = &[
        Constraint::SourceSlug,
        Constraint::SourceManaged,
        Constraint::FlowSlug,
        Constraint::MappingName,
        Constraint::MappingManaged,
        Constraint::Username,
        Constraint::UserUuid,
        Constraint::GroupNameParent,
        Constraint::UserConnectionUserSource,
        Constraint::UserConnectionSourceIdentifier,
        Constraint::GroupConnectionGroupSource,
        Constraint::GroupConnectionSourceIdentifier,
        Constraint::TokenIdentifier,
        Constraint::TokenUuid,
        Constraint::TokenKeyHash,
        Constraint::TokenManaged,
        Constraint::ApplicationSlug,
        Constraint::ApplicationProvider,
        Constraint::ProviderClientId,
        Constraint::ProviderName,
    ];

    /// The constraint's name in PostgreSQL.
    pub fn name(self) -> &'static str {
        self.spec().0
    }

    /// The columns, as SQLite names them in its error message (`table.column, table.column`).
    pub fn sqlite_columns(self) -> &'static str {
        self.spec().1
    }

    fn spec(self) -> (&'static str, &'static str) {
        match self {
            Constraint::SourceSlug => ("plex_source_slug_key", "plex_source.slug"),
            Constraint::SourceManaged => ("plex_source_managed_key", "plex_source.managed"),
            Constraint::FlowSlug => ("flow_slug_key", "flow.slug"),
            Constraint::MappingName => ("property_mapping_name_key", "property_mapping.name"),
            Constraint::MappingManaged => ("property_mapping_managed_key", "property_mapping.managed"),
            Constraint::Username => ("app_user_username_key", "app_user.username"),
            Constraint::UserUuid => ("app_user_uuid_key", "app_user.uuid"),
            Constraint::GroupNameParent => ("app_group_name_parent_key", "app_group.name, app_group.parent"),
            Constraint::UserConnectionUserSource => (
                "user_source_connection_user_source_key",
                "user_source_connection.user_id, user_source_connection.source_uuid",
            ),
            Constraint::UserConnectionSourceIdentifier => (
                "user_source_connection_source_identifier_key",
                "user_source_connection.source_uuid, user_source_connection.identifier",
            ),
            Constraint::GroupConnectionGroupSource => (
                "group_source_connection_group_source_key",
                "group_source_connection.group_uuid, group_source_connection.source_uuid",
            ),
            Constraint::GroupConnectionSourceIdentifier => (
                "group_source_connection_source_identifier_key",
                "group_source_connection.source_uuid, group_source_connection.identifier",
            ),
            Constraint::TokenIdentifier => ("api_token_pkey", "api_token.identifier"),
            Constraint::TokenUuid => ("api_token_uuid_key", "api_token.uuid"),
            Constraint::TokenKeyHash => ("api_token_key_hash_key", "api_token.key_hash"),
            Constraint::TokenManaged => ("api_token_managed_key", "api_token.managed"),
            Constraint::ApplicationSlug => ("application_slug_key", "application.slug"),
            Constraint::ApplicationProvider => ("application_provider_key", "application.provider_id"),
            Constraint::ProviderClientId => ("provider_client_id_key", "provider.client_id"),
            Constraint::ProviderName => ("provider_name_key", "provider.name"),
        }
    }

    pub fn from_name(name: &str) -> Option<Constraint> {
        Constraint::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The constraint a SQLite "UNIQUE constraint failed: t.a, t.b" message names.
    pub fn from_sqlite_message(message: &str) -> Option<Constraint> {
        let columns = message.rsplit_once("failed: ")?.1;
        Constraint::ALL.iter().copied().find(|c| c.sqlite_columns() == columns)
    }
}

#[cfg(test)]
mod tests {
    use super::Constraint;

    #[test]
    fn names_and_columns_are_distinct_and_found_again() {
        for c in Constraint::ALL {
            assert_eq!(Constraint::from_name(c.name()), Some(*c));
            let message = format!("UNIQUE constraint failed: {}", c.sqlite_columns());
            assert_eq!(Constraint::from_sqlite_message(&message), Some(*c));
        }
        assert_eq!(Constraint::from_name("nope"), None);
    }
}
