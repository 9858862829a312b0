//! Typed ids, so an `AccountId` can never be passed where a `MeterId` is meant.
//!
//! Public ids are UUID v7 (time-ordered, so inserts stay local in the index); they serialise as
//! the bare UUID string and map to the `uuid` column type on both backends. Ledger entries are
//! high-volume and keep a `BIGINT` id.

use std::fmt;
use std::str::FromStr;

use sea_orm::{DbErr, DeriveValueType, TryFromU64};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh UUID v7.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        // sea-orm asks primary-key types to convert from an autoincrement u64; UUIDs never do.
        impl TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, DbErr> {
                Err(DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    )*};
}

uuid_id!(
    /// An organization: the tenancy boundary.
    OrgId,
    UserId,
    SiteId,
    BuildingId,
    UnitId,
    TenantId,
    AccountId,
    TariffId,
    /// A tariff version row.
    TariffVersionId,
    /// The row id of a gateway (not its wire id `gw-...`).
    GatewayId,
    MeterId,
    CommandId,
    WorkOrderId,
    RefreshTokenId,
    InvitationId,
    PasswordResetId,
);

/// The id of a ledger entry (`BIGINT` autoincrement).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    DeriveValueType,
)]
#[serde(transparent)]
pub struct LedgerEntryId(pub i64);

impl TryFromU64 for LedgerEntryId {
    fn try_from_u64(n: u64) -> Result<Self, DbErr> {
        i64::try_from(n)
            .map(Self)
            .map_err(|_| DbErr::ConvertFromU64("LedgerEntryId"))
    }
}

impl fmt::Display for LedgerEntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
