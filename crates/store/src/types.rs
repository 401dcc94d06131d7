//! Portable column types: one Rust type, the native representation on each backend.
//!
//! | type | PostgreSQL | SQLite |
//! |---|---|---|
//! | [`Id`] | `uuid` | `TEXT`, lower-case hyphenated |
//! | [`Ts`] | `timestamptz` | `TEXT` `YYYY-MM-DDTHH:MM:SS.ffffffZ` (fixed width, so text order is time order) |
//! | [`JsonText`] | `jsonb` | `TEXT` |
//!
//! Timestamps are truncated to microseconds, PostgreSQL's precision, so a value reads back the
//! same on both backends and computed results agree.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Serialize, de::DeserializeOwned};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use uuid::Uuid;

/// A UUID column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub Uuid);

/// A UTC timestamp column with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ts(DateTime<Utc>);

/// A JSON column holding a `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText<T>(pub T);

impl Ts {
    /// Wraps a time, truncated to microseconds.
    pub fn new(t: DateTime<Utc>) -> Self {
        Ts(t.trunc_subsecs(6))
    }

    /// The time.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }

    /// The SQLite text form, also handy for logs.
    pub fn to_text(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl From<DateTime<Utc>> for Ts {
    fn from(t: DateTime<Utc>) -> Self {
        Ts::new(t)
    }
}

impl From<Ts> for DateTime<Utc> {
    fn from(t: Ts) -> Self {
        t.0
    }
}

macro_rules! id_conversions {
    ($($t:ty),+) => {$(
        impl From<$t> for Id {
            fn from(id: $t) -> Id {
                Id(id.as_uuid())
            }
        }
        impl From<Id> for $t {
            fn from(id: Id) -> $t {
                <$t>::from_uuid(id.0)
            }
        }
    )+};
}
id_conversions!(
    domain::UserId,
    domain::OrgId,
    domain::MembershipId,
    domain::JobId,
    domain::RepoId,
    domain::IntegrationId,
    domain::IdentityId,
    domain::SyncRunId,
    domain::WorkItemId,
    domain::TeamId
);

impl serde::Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

// --- Id ---------------------------------------------------------------------------------------

impl Type<Postgres> for Id {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }
}
impl Encode<'_, Postgres> for Id {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <Uuid as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}
impl<'r> Decode<'r, Postgres> for Id {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Id(<Uuid as Decode<Postgres>>::decode(value)?))
    }
}
impl Type<Sqlite> for Id {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}
impl Encode<'_, Sqlite> for Id {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::sqlite::SqliteArgumentsBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.hyphenated().to_string(), buf)
    }
}
impl<'r> Decode<'r, Sqlite> for Id {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Id(Uuid::parse_str(text)?))
    }
}

// --- Ts ---------------------------------------------------------------------------------------

impl Type<Postgres> for Ts {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}
impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}
impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts::new(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}
impl Type<Sqlite> for Ts {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}
impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::sqlite::SqliteArgumentsBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.to_text(), buf)
    }
}
impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Ts::new(
            DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc),
        ))
    }
}

// --- JsonText ---------------------------------------------------------------------------------

impl<T> Type<Postgres> for JsonText<T> {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <sqlx::types::Json<serde_json::Value> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <sqlx::types::Json<serde_json::Value> as Type<Postgres>>::compatible(ty)
    }
}
impl<T: Serialize> Encode<'_, Postgres> for JsonText<T> {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <sqlx::types::Json<&T> as Encode<Postgres>>::encode(sqlx::types::Json(&self.0), buf)
    }
}
impl<'r, T: DeserializeOwned> Decode<'r, Postgres> for JsonText<T> {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(JsonText(
            <sqlx::types::Json<T> as Decode<Postgres>>::decode(value)?.0,
        ))
    }
}
impl<T> Type<Sqlite> for JsonText<T> {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}
impl<T: Serialize> Encode<'_, Sqlite> for JsonText<T> {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::sqlite::SqliteArgumentsBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(serde_json::to_string(&self.0)?, buf)
    }
}
impl<'r, T: DeserializeOwned> Decode<'r, Sqlite> for JsonText<T> {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(JsonText(serde_json::from_str(text)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_timestamps_are_fixed_width_so_text_order_is_time_order() {
        let a = Ts::new(
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .into(),
        );
        let b = Ts::new(
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00.5Z")
                .unwrap()
                .into(),
        );
        let c = Ts::new(
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00.123456789Z")
                .unwrap()
                .into(),
        );
        assert_eq!(a.to_text(), "2026-01-01T00:00:00.000000Z");
        assert_eq!(c.to_text(), "2026-01-01T00:00:00.123456Z");
        assert!(a.to_text() < c.to_text() && c.to_text() < b.to_text());
        assert_eq!(
            c.get().timestamp_subsec_nanos(),
            123_456_000,
            "truncated to microseconds"
        );
    }
}
