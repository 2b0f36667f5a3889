//! Typed ids: a user id cannot be passed where a connection id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = <$inner as FromStr>::Err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id!(/// A user's integer primary key (authentik's `pk` of a user).
    UserId(i64));
id!(/// A group's UUID (authentik's `group_uuid`).
    GroupId(Uuid));
id!(/// A Plex source's UUID (authentik's `pbm_uuid`).
    SourceId(Uuid));
id!(/// A property mapping's UUID (`pm_uuid`).
    MappingId(Uuid));
id!(/// A flow's UUID (`flow_uuid`).
    FlowId(Uuid));
id!(/// An API token's UUID (its `pk`; the URL names it by identifier).
    TokenId(Uuid));
id!(/// A user source connection's integer id.
    UserConnectionId(i64));
id!(/// A group source connection's integer id.
    GroupConnectionId(i64));
id!(/// A provider's integer id (OAuth2 and proxy providers share the sequence, as in authentik).
    ProviderId(i64));
id!(/// An application's UUID (its `pk`; the URL names it by slug).
    ApplicationId(Uuid));

impl GroupId {
    pub fn new() -> Self {
        GroupId(Uuid::new_v4())
    }
}
impl Default for GroupId {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! new_uuid {
    ($($name:ident),*) => {$(
        impl $name {
            /// A new random id.
            pub fn random() -> Self {
                $name(Uuid::new_v4())
            }
        }
    )*};
}
new_uuid!(SourceId, MappingId, FlowId, TokenId, ApplicationId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_their_value() {
        assert_eq!(UserId(7).to_string(), "7");
        assert_eq!("7".parse::<UserId>().unwrap(), UserId(7));
        let g = GroupId::new();
        assert_eq!(g.to_string().parse::<GroupId>().unwrap(), g);
        assert_eq!(serde_json::to_string(&UserConnectionId(3)).unwrap(), "3");
        assert!("x".parse::<UserId>().is_err());
    }
}
