//! Envelope-encrypted personal data. This crate sees only ciphertext, wrapped keys and blind
//! indexes; sealing and opening happen above it.

pub use crate::limits::{BLIND_INDEX_MATCHES_MAX, REWRAP_BATCH_LEN_MAX};
use crate::{Pool, Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProfileRecord {
    pub user_id: String,
    pub kek_id: String,
    pub kek_version: i64,
    pub dek_wrapped: Vec<u8>,
    pub legal_name: Vec<u8>,
    pub date_of_birth: Vec<u8>,
    pub national_id: Vec<u8>,
    pub address: Vec<u8>,
    pub national_id_index: Vec<u8>,
    pub updated_at: i64,
}

/// Whose data key a wrapped key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrappedKeyOwner {
    /// A profile's, by user id.
    Profile(String),
    /// A row of `data_keys`, by id.
    DataKey(String),
}

/// A wrapped data key awaiting rewrap.
#[derive(Debug, Clone)]
pub struct WrappedKeyRow {
    pub owner: WrappedKeyOwner,
    pub kek_id: String,
    pub kek_version: i64,
    pub bytes: Vec<u8>,
}

/// A row of `data_keys`: a data key wrapped by KEK `kek_id` at `kek_version`.
#[derive(Debug, Clone)]
pub struct DataKeyRecord {
    pub kek_id: String,
    pub kek_version: i64,
    pub dek_wrapped: Vec<u8>,
}

impl Store {
    pub async fn put_profile(&self, profile: &ProfileRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO profiles (user_id, kek_id, kek_version, dek_wrapped, legal_name, date_of_birth, \
                   national_id, address, national_id_index, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                   ON CONFLICT (user_id) DO UPDATE SET kek_id = excluded.kek_id, kek_version = excluded.kek_version, \
                   dek_wrapped = excluded.dek_wrapped, legal_name = excluded.legal_name, \
                   date_of_birth = excluded.date_of_birth, national_id = excluded.national_id, \
                   address = excluded.address, national_id_index = excluded.national_id_index, \
                   updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&profile.user_id).bind(&profile.kek_id).bind(profile.kek_version).bind(&profile.dek_wrapped)
            .bind(&profile.legal_name).bind(&profile.date_of_birth).bind(&profile.national_id)
            .bind(&profile.address).bind(&profile.national_id_index).bind(profile.updated_at)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn find_profile(&self, user_id: &str) -> Result<Option<ProfileRecord>, StoreError> {
        let sql = "SELECT user_id, kek_id, kek_version, dek_wrapped, legal_name, date_of_birth, national_id, \
                   address, national_id_index, updated_at FROM profiles WHERE user_id = $1";
        let row: Option<ProfileRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// Crypto-shredding: removes the wrapped data key with the ciphertext. On SQLite the
    /// freed pages are zeroed (`secure_delete`) and the WAL is checkpointed and truncated, so
    /// the old wrapped key does not linger in the files.
    pub async fn delete_profile(&self, user_id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM profiles WHERE user_id = $1";
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(user_id).execute(pool).await?.rows_affected());
        if let Pool::Sqlite(pool) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(changed == 1)
    }

    /// Users whose national id has this blind index (duplicate-identity checks).
    pub async fn profiles_by_national_id_index(
        &self,
        index: &[u8],
    ) -> Result<Vec<String>, StoreError> {
        let sql =
            "SELECT user_id FROM profiles WHERE national_id_index = $1 ORDER BY user_id LIMIT $2";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(index).bind(BLIND_INDEX_MATCHES_MAX).fetch_all(pool).await?),
        )
    }

    /// Up to `REWRAP_BATCH_LEN_MAX` data keys (of profiles and in `data_keys`) wrapped by a
    /// version other than `current`.
    pub async fn wrapped_keys_not_at(
        &self,
        kek_id: &str,
        current: i64,
    ) -> Result<Vec<WrappedKeyRow>, StoreError> {
        let sql = "SELECT 'profile', user_id, kek_id, kek_version, dek_wrapped FROM profiles \
                   WHERE NOT (kek_id = $1 AND kek_version = $2) \
                   UNION ALL SELECT 'data_key', id, kek_id, kek_version, dek_wrapped FROM data_keys \
                   WHERE NOT (kek_id = $1 AND kek_version = $2) ORDER BY 2 LIMIT $3";
        let rows: Vec<(String, String, String, i64, Vec<u8>)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(kek_id).bind(current).bind(REWRAP_BATCH_LEN_MAX).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(table, id, kek_id, kek_version, bytes)| WrappedKeyRow {
                owner: if table == "profile" {
                    WrappedKeyOwner::Profile(id)
                } else {
                    WrappedKeyOwner::DataKey(id)
                },
                kek_id,
                kek_version,
                bytes,
            })
            .collect())
    }

    /// Replaces a wrapped key only if it is still the one that was read (the record may have
    /// been rewritten or shredded meanwhile). Field ciphertext is untouched.
    pub async fn rewrap_key(
        &self,
        owner: &WrappedKeyOwner,
        old_wrapped: &[u8],
        kek_id: &str,
        version: i64,
        new_wrapped: &[u8],
    ) -> Result<bool, StoreError> {
        let (sql, id) = match owner {
            WrappedKeyOwner::Profile(user_id) => (
                "UPDATE profiles SET kek_id = $1, kek_version = $2, dek_wrapped = $3 \
                 WHERE user_id = $4 AND dek_wrapped = $5",
                user_id,
            ),
            WrappedKeyOwner::DataKey(id) => (
                "UPDATE data_keys SET kek_id = $1, kek_version = $2, dek_wrapped = $3 \
                 WHERE id = $4 AND dek_wrapped = $5",
                id,
            ),
        };
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(kek_id).bind(version).bind(new_wrapped).bind(id).bind(old_wrapped).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// How many data keys each (KEK id, version) wraps — for operators and rotation checks.
    pub async fn wrapped_key_versions(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let sql = "SELECT kek_id, kek_version, CAST(COUNT(*) AS BIGINT) FROM \
                   (SELECT kek_id, kek_version FROM profiles UNION ALL SELECT kek_id, kek_version FROM data_keys) AS wrapped \
                   GROUP BY kek_id, kek_version ORDER BY kek_id, kek_version";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// A data key from `data_keys`.
    pub async fn find_data_key(&self, id: &str) -> Result<Option<DataKeyRecord>, StoreError> {
        let sql = "SELECT kek_id, kek_version, dek_wrapped FROM data_keys WHERE id = $1";
        let row: Option<(String, i64, Vec<u8>)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(|(kek_id, kek_version, dek_wrapped)| DataKeyRecord {
            kek_id,
            kek_version,
            dek_wrapped,
        }))
    }

    /// Stores a data key unless one with this id exists; `false` when it did (another request
    /// won the race: read theirs).
    pub async fn insert_data_key(
        &self,
        id: &str,
        key: &DataKeyRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO data_keys (id, kek_id, kek_version, dek_wrapped, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(&key.kek_id).bind(key.kek_version)
            .bind(&key.dek_wrapped).bind(now).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn delete_data_key(&self, id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM data_keys WHERE id = $1";
        let changed =
            on_pool!(self, pool => sqlx::query(sql).bind(id).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }
}
