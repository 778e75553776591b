//! Image rows: writing a new image with its layers and tags in one
//! transaction, and reading them back.

use berth_image::spec::{Descriptor, ImageConfig};
use berth_image::{Digest, Reference};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};

/// An image row as stored.
#[derive(Clone, Debug)]
pub struct ImageRow {
    pub id: Digest,
    pub manifest: Descriptor,
    pub created: Option<String>,
    pub labels: Option<String>,
    pub size: u64,
    pub last_tag_time: Option<String>,
    /// The image a commit was made from, "" for others.
    pub parent: String,
    /// Made by the builder for its cache alone: listed by `images -a` only.
    pub hidden: bool,
}

#[derive(Clone, Debug)]
pub struct LayerRow {
    pub diff_id: Digest,
    pub blob_digest: Digest,
    pub blob_size: u64,
    pub media_type: String,
}

/// An image ready to be recorded: every blob committed, every layer's
/// snapshot ready (both held by the caller's lease until the commit).
pub struct NewImage<'a> {
    pub id: &'a Digest,
    pub config: &'a ImageConfig,
    pub manifest: &'a Descriptor,
    pub layers: &'a [LayerRow],
    pub size: u64,
    /// `commit`'s image: the container's.
    pub parent: Option<&'a Digest>,
}

/// Inserts the image unless it already exists (same ID, same content).
pub fn insert(conn: &Connection, image: &NewImage) -> Result<()> {
    let labels = image
        .config
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .map(|l| serde_json::to_string(l).unwrap_or_default());
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO images (id, manifest_digest, manifest_media_type, manifest_size, created,
                                       architecture, os, labels, size, added_at, parent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            image.id.as_str(),
            image.manifest.digest.as_str(),
            image.manifest.media_type,
            image.manifest.size as i64,
            image.config.created,
            image.config.architecture,
            image.config.os,
            labels,
            image.size as i64,
            crate::now_nanos(),
            image.parent.map(Digest::as_str).unwrap_or_default(),
        ],
    )?;
    if inserted == 1 {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO image_layers (image_id, idx, diff_id, blob_digest, blob_size, media_type)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (i, l) in image.layers.iter().enumerate() {
            stmt.execute(params![
                image.id.as_str(),
                i as i64,
                l.diff_id.as_str(),
                l.blob_digest.as_str(),
                l.blob_size as i64,
                l.media_type
            ])?;
        }
    }
    Ok(())
}

/// Points `tag` at `image`; returns the image it pointed at before, if another.
pub fn set_tag(conn: &Connection, tag: &Reference, image: &Digest) -> Result<Option<Digest>> {
    let name = tag.to_string();
    let previous: Option<String> = conn
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [&name], |r| {
            r.get(0)
        })
        .optional()?;
    conn.execute(
        "INSERT INTO tags (name, image_id, tagged_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, tagged_at = excluded.tagged_at",
        params![name, image.as_str(), crate::now_nanos()],
    )?;
    conn.execute(
        "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
        params![image.as_str(), crate::now_rfc3339()],
    )?;
    let previous = previous.map(|p| parse_digest(&p)).transpose()?;
    Ok(previous.filter(|p| p != image))
}

/// Records that the registry serves `image` as `name` (`NAME@DIGEST`).
pub fn set_repo_digest(conn: &Connection, name: &str, image: &Digest) -> Result<()> {
    conn.execute(
        "INSERT INTO repo_digests (name, image_id) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        params![name, image.as_str()],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &Digest) -> Result<Option<ImageRow>> {
    conn.query_row(
        &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?1"),
        [id.as_str()],
        image_row,
    )
    .optional()?
    .transpose()
}

/// Every image a user can name (not the force-removed ones kept for
/// their containers).
pub fn all(conn: &Connection) -> Result<Vec<ImageRow>> {
    rows(conn, "WHERE removed = 0")
}

/// Every image row, the force-removed ones too (for `system check`).
pub fn all_kept(conn: &Connection) -> Result<Vec<ImageRow>> {
    rows(conn, "")
}

fn rows(conn: &Connection, filter: &str) -> Result<Vec<ImageRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {IMAGE_COLUMNS} FROM images {filter}"))?;
    let rows = stmt.query_map([], image_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

const IMAGE_COLUMNS: &str = "id, manifest_digest, manifest_media_type, manifest_size, created, architecture, os, labels, size, added_at, last_tag_time, parent, hidden";

fn image_row(r: &rusqlite::Row) -> rusqlite::Result<Result<ImageRow>> {
    let id: String = r.get(0)?;
    let manifest_digest: String = r.get(1)?;
    let row = (|| {
        Ok(ImageRow {
            id: parse_digest(&id)?,
            manifest: Descriptor::new(
                &r.get::<_, String>(2)?,
                parse_digest(&manifest_digest)?,
                r.get::<_, i64>(3)? as u64,
            ),
            created: r.get(4)?,
            labels: r.get(7)?,
            size: r.get::<_, i64>(8)? as u64,
            last_tag_time: r.get(10)?,
            parent: r.get(11)?,
            hidden: r.get(12)?,
        })
    })();
    Ok(row)
}

pub fn layers(conn: &Connection, id: &Digest) -> Result<Vec<LayerRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT diff_id, blob_digest, blob_size, media_type FROM image_layers WHERE image_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map([id.as_str()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (diff_id, blob, size, media_type) = row?;
        out.push(LayerRow {
            diff_id: parse_digest(&diff_id)?,
            blob_digest: parse_digest(&blob)?,
            blob_size: size as u64,
            media_type,
        });
    }
    Ok(out)
}

/// Tags of an image, sorted.
pub fn tags_of(conn: &Connection, id: &Digest) -> Result<Vec<Reference>> {
    names_of(
        conn,
        "SELECT name FROM tags WHERE image_id = ?1 ORDER BY name",
        id,
    )
}

/// Repo digests (`name@sha256:…`) of an image, sorted.
pub fn digests_of(conn: &Connection, id: &Digest) -> Result<Vec<Reference>> {
    names_of(
        conn,
        "SELECT name FROM repo_digests WHERE image_id = ?1 ORDER BY name",
        id,
    )
}

fn names_of(conn: &Connection, sql: &str, id: &Digest) -> Result<Vec<Reference>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let names = stmt.query_map([id.as_str()], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for name in names {
        let name = name?;
        out.push(Reference::parse_normalized(&name).map_err(|e| {
            Error::internal(format!("metadata database: stored name {name:?}: {e}"))
        })?);
    }
    Ok(out)
}

/// Every tag in the store as (name, image id).
pub fn all_tags(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT name, image_id FROM tags ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| Error::internal(format!("metadata database: {e}")))
}

/// Deletes an image row (layers cascade); tags and digests must be gone.
pub fn delete(conn: &Connection, id: &Digest) -> Result<()> {
    conn.execute(
        "DELETE FROM repo_digests WHERE image_id = ?1",
        [id.as_str()],
    )?;
    conn.execute("DELETE FROM tags WHERE image_id = ?1", [id.as_str()])?;
    conn.execute("DELETE FROM images WHERE id = ?1", [id.as_str()])?;
    Ok(())
}

/// The image a tag (`docker.io/library/busybox:latest`) points at.
pub fn tag_target(conn: &Connection, name: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

/// The image a name points at in `tags` or, for a digest reference, in
/// `repo_digests`.
pub fn name_target(conn: &Connection, name: &str, by_digest: bool) -> Result<Option<String>> {
    let table = if by_digest { "repo_digests" } else { "tags" };
    Ok(conn
        .query_row(
            &format!("SELECT image_id FROM {table} WHERE name = ?1"),
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Every repo digest (name, image ID), by name.
pub fn all_repo_digests(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT name, image_id FROM repo_digests ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete_tag(conn: &Connection, name: &str) -> Result<()> {
    conn.execute("DELETE FROM tags WHERE name = ?1", [name])?;
    Ok(())
}

pub fn delete_repo_digest(conn: &Connection, name: &str) -> Result<()> {
    conn.execute("DELETE FROM repo_digests WHERE name = ?1", [name])?;
    Ok(())
}

/// `rmi -f` of an image only stopped containers use (see the schema).
pub fn mark_removed(conn: &Connection, id: &Digest) -> Result<()> {
    conn.execute("UPDATE images SET removed = 1 WHERE id = ?1", [id.as_str()])?;
    Ok(())
}

/// Whether `id` was force-removed while containers used it.
pub fn is_removed(conn: &Connection, id: &Digest) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT removed FROM images WHERE id = ?1",
            [id.as_str()],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// Marks an image the builder made as its cache's alone (hidden) or as a
/// build's result (shown).
pub fn set_hidden(conn: &Connection, id: &Digest, hidden: bool) -> Result<()> {
    conn.execute(
        "UPDATE images SET hidden = ?2 WHERE id = ?1",
        params![id.as_str(), hidden],
    )?;
    Ok(())
}

/// Whether `id` is the build cache's alone (an unknown image counts as
/// hidden).
pub fn is_hidden(conn: &Connection, id: &Digest) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT hidden FROM images WHERE id = ?1",
            [id.as_str()],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(true))
}

/// Whether an image was committed from `id`.
pub fn has_children(conn: &Connection, id: &Digest) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM images WHERE parent = ?1 LIMIT 1",
            [id.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn exists(conn: &Connection, id: &Digest) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM images WHERE id = ?1 AND removed = 0)",
        [id.as_str()],
        |r| r.get(0),
    )?)
}

/// Up to `limit` image IDs (`sha256:…`) starting with `prefix`.
pub fn ids_with_prefix(conn: &Connection, prefix: &str, limit: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM images WHERE id >= ?1 AND substr(id, 1, ?2) = ?1 AND removed = 0 ORDER BY id LIMIT ?3",
    )?;
    let ids = stmt.query_map(rusqlite::params![prefix, prefix.len() as i64, limit], |r| {
        r.get(0)
    })?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// Whether some image has the layer with this blob and diff ID.
pub fn has_layer(conn: &Connection, blob: &str, diff_id: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM image_layers WHERE blob_digest = ?1 AND diff_id = ?2)",
        [blob, diff_id],
        |r| r.get(0),
    )?)
}
