//! The build cache: a step's key to the image the step made.
//!
//! A key is a chain: the parent's key, then what the step is (the
//! instruction after substitution, the build args in scope for a RUN, the
//! content digests of what a COPY or ADD copies). A hit reuses the image
//! (its layers and config) and runs nothing. Entries live in the store
//! (`build_cache`), show as Build Cache in `system df`, and go with
//! `builder prune`, which also removes the hidden images only they kept.

use berth_image::Digest;
use berth_image::digest::Hasher;
use rusqlite::{OptionalExtension, params};

use crate::Engine;
use crate::error::Result;
use crate::images::record;

/// Extends a key by one step.
pub fn chain(parent: &str, parts: &[&str]) -> String {
    let mut h = Hasher::new();
    h.update(parent.as_bytes());
    for p in parts {
        h.update(b"\0");
        h.update(p.as_bytes());
    }
    h.finish().hex().to_string()
}

impl Engine {
    /// The image cached for `key`, if it is still in the store.
    pub(crate) fn build_cache_get(&self, key: &str) -> Result<Option<Digest>> {
        self.db.write_relaxed(|c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT image_id FROM build_cache WHERE key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id.and_then(|i| Digest::parse(&i).ok()) else {
                return Ok(None);
            };
            if !record::exists(c, &id)? || record::is_removed(c, &id)? {
                c.execute("DELETE FROM build_cache WHERE key = ?1", [key])?;
                return Ok(None);
            }
            c.execute(
                "UPDATE build_cache SET last_used = ?2 WHERE key = ?1",
                params![key, crate::now_nanos()],
            )?;
            Ok(Some(id))
        })
    }

    pub(crate) fn build_cache_put(&self, key: &str, image: &Digest) -> Result<()> {
        let now = crate::now_nanos();
        self.db.write_relaxed(|c| {
            c.execute(
                "INSERT OR REPLACE INTO build_cache (key, image_id, created_at, last_used)
                 VALUES (?1, ?2, ?3, ?3)",
                params![key, image.as_str(), now],
            )?;
            Ok(())
        })
    }

    /// `system df`'s Build Cache: (entries, bytes of the layers the
    /// cached steps made, of those the bytes no shown image uses).
    pub fn build_cache_usage(&self) -> Result<(usize, u64, u64)> {
        self.db.read(|c| {
            let entries: i64 = c.query_row("SELECT COUNT(*) FROM build_cache", [], |r| r.get(0))?;
            let (size, reclaimable): (i64, i64) = c.query_row(
                "WITH own AS (
                     SELECT DISTINCT l.diff_id, l.blob_size FROM build_cache b
                     JOIN image_layers l ON l.image_id = b.image_id
                      AND l.idx = (SELECT MAX(idx) FROM image_layers WHERE image_id = b.image_id)
                 )
                 SELECT COALESCE(SUM(blob_size), 0),
                        COALESCE(SUM(CASE WHEN diff_id NOT IN (
                            SELECT l.diff_id FROM image_layers l JOIN images i ON i.id = l.image_id
                            WHERE i.hidden = 0) THEN blob_size ELSE 0 END), 0)
                 FROM own",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((entries as usize, size as u64, reclaimable as u64))
        })
    }

    /// `builder prune`: forgets every cache entry, or those unused for
    /// `older_than` nanoseconds, or with `keep` the least recently used
    /// until what is left takes at most `keep` bytes; then removes the
    /// hidden images no entry, tag or container keeps. Returns (entries,
    /// bytes reclaimed).
    pub fn prune_build_cache(
        &self,
        older_than: Option<i64>,
        keep: Option<u64>,
    ) -> Result<(usize, u64)> {
        let cutoff = older_than.map(|d| crate::now_nanos() - d);
        let entries = self.db.write(|c| {
            let mut n = match cutoff {
                Some(t) => c.execute("DELETE FROM build_cache WHERE last_used < ?1", [t])?,
                None if keep.is_none() => c.execute("DELETE FROM build_cache", [])?,
                None => 0,
            };
            if let Some(keep) = keep {
                // Each entry's own layer, most recently used first.
                let mut stmt = c.prepare(
                    "SELECT b.key, COALESCE((SELECT l.blob_size FROM image_layers l
                         WHERE l.image_id = b.image_id ORDER BY l.idx DESC LIMIT 1), 0)
                     FROM build_cache b ORDER BY b.last_used DESC",
                )?;
                let rows: Vec<(String, i64)> = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .filter_map(|r| r.ok())
                    .collect();
                let mut total = 0u64;
                for (key, size) in rows {
                    total += size.max(0) as u64;
                    if total > keep {
                        n += c.execute("DELETE FROM build_cache WHERE key = ?1", [key])?;
                    }
                }
            }
            Ok(n)
        })?;
        if older_than.is_none() && keep.is_none() {
            // The remembered context digests go with everything else.
            let _ = std::fs::remove_dir_all(self.paths.root.join("build-context-digests"));
        }
        let hidden: Vec<Digest> = self.db.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id FROM images WHERE hidden = 1
                   AND id NOT IN (SELECT image_id FROM build_cache)",
            )?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .filter_map(|r| r.ok())
                .filter_map(|s| Digest::parse(&s).ok())
                .collect();
            Ok(ids)
        })?;
        let mut reclaimed = 0;
        for id in hidden {
            // The layer the step made (its image's last); shared ones are
            // collected only with their last user, so this is what goes.
            let own = self.db.read(|c| {
                Ok(record::layers(c, &id)?
                    .last()
                    .map(|l| (l.diff_id.clone(), l.blob_size)))
            })?;
            if self.remove_hidden_image(&id)? {
                let still_used = match &own {
                    Some((diff_id, _)) => self.db.read(|c| {
                        Ok(c.query_row(
                            "SELECT COUNT(*) FROM image_layers WHERE diff_id = ?1",
                            [diff_id.as_str()],
                            |r| r.get::<_, i64>(0),
                        )? > 0)
                    })?,
                    None => true,
                };
                if !still_used {
                    reclaimed += own.map_or(0, |(_, size)| size);
                }
            }
        }
        Ok((entries, reclaimed))
    }

    /// Removes a hidden image unless something names or uses it.
    fn remove_hidden_image(&self, id: &Digest) -> Result<bool> {
        let collected = self.db.write(|c| {
            let Some(row) = record::get(c, id)? else {
                return Ok(None);
            };
            if !row.hidden
                || !record::tags_of(c, id)?.is_empty()
                || !record::digests_of(c, id)?.is_empty()
                || !crate::containers::record::using_image(c, id.as_str())?.is_empty()
            {
                return Ok(None);
            }
            let mut events = Vec::new();
            crate::images::remove::delete_image(c, &self.paths, id, &mut events).map(Some)
        })?;
        match collected {
            Some(collected) => {
                collected.empty_trash();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
