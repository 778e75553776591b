//! The metadata schema and its migrations (`PRAGMA user_version`).

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE images (
    id              TEXT PRIMARY KEY,      -- sha256 of the config blob
    manifest_digest TEXT NOT NULL,         -- a stored manifest (original or synthesised)
    manifest_media_type TEXT NOT NULL,
    manifest_size   INTEGER NOT NULL,
    created         TEXT,                  -- from the config, RFC 3339
    architecture    TEXT NOT NULL,
    os              TEXT NOT NULL,
    labels          TEXT,                  -- JSON object from the config, or NULL
    size            INTEGER NOT NULL,      -- sum of layer sizes
    added_at        INTEGER NOT NULL,      -- unix nanoseconds
    last_tag_time   TEXT
);
CREATE TABLE image_layers (
    image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    diff_id     TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    blob_size   INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX image_layers_by_diff ON image_layers(diff_id);
CREATE INDEX image_layers_by_blob ON image_layers(blob_digest);
CREATE TABLE tags (
    name      TEXT PRIMARY KEY,            -- docker.io/library/busybox:latest
    image_id  TEXT NOT NULL REFERENCES images(id),
    tagged_at INTEGER NOT NULL
);
CREATE INDEX tags_by_image ON tags(image_id);
CREATE TABLE repo_digests (
    name     TEXT PRIMARY KEY,             -- docker.io/library/busybox@sha256:...
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE INDEX repo_digests_by_image ON repo_digests(image_id);
CREATE TABLE snapshots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: names a directory
    diff_id    TEXT,
    state      TEXT NOT NULL CHECK (state IN ('incomplete', 'ready')),
    size       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX snapshots_ready_by_diff ON snapshots(diff_id) WHERE state = 'ready';
CREATE TABLE leases (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pid        INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE lease_refs (
    lease_id INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('blob', 'snapshot')),
    key      TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, key)
);
CREATE INDEX lease_refs_by_key ON lease_refs(kind, key);
"#,
    r#"
CREATE TABLE containers (
    id            TEXT PRIMARY KEY,          -- 64 hex
    name          TEXT NOT NULL UNIQUE,      -- without the leading '/'
    image_id      TEXT NOT NULL REFERENCES images(id),
    image_name    TEXT NOT NULL,             -- what the user asked for (Config.Image)
    config        TEXT NOT NULL,             -- JSON: the container's configuration
    state         TEXT NOT NULL CHECK (state IN
                    ('creating', 'created', 'starting', 'running', 'paused', 'exited', 'removing')),
    -- The process responsible while creating (the CLI) or running (the monitor).
    owner_pid     INTEGER NOT NULL DEFAULT 0,
    owner_start   INTEGER NOT NULL DEFAULT 0,
    pid           INTEGER NOT NULL DEFAULT 0,
    exit_code     INTEGER NOT NULL DEFAULT 0,
    oom_killed    INTEGER NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',
    restart_count INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,          -- unix nanoseconds
    started_at    INTEGER NOT NULL DEFAULT 0,
    finished_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX containers_by_image ON containers(image_id);
CREATE TABLE volumes (
    name       TEXT PRIMARY KEY,
    labels     TEXT,                         -- JSON object or NULL
    anonymous  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE container_volumes (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    volume       TEXT NOT NULL REFERENCES volumes(name),
    PRIMARY KEY (container_id, volume)
);
CREATE INDEX container_volumes_by_volume ON container_volumes(volume);
"#,
    r#"
CREATE TABLE execs (
    id           TEXT PRIMARY KEY,           -- 64 hex
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    config       TEXT NOT NULL,              -- JSON: the exec request
    state        TEXT NOT NULL CHECK (state IN ('created', 'running', 'exited')),
    pid          INTEGER NOT NULL DEFAULT 0,
    exit_code    INTEGER,                    -- NULL until it ended
    created_at   INTEGER NOT NULL
);
CREATE INDEX execs_by_container ON execs(container_id);
"#,
    r#"
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    time_nano  INTEGER NOT NULL,             -- unix nanoseconds
    type       TEXT NOT NULL,                -- container, image, volume
    action     TEXT NOT NULL,                -- create, start, die, pull, ...
    actor      TEXT NOT NULL,                -- the object's ID (or name)
    attributes TEXT NOT NULL                 -- JSON object of strings
);
"#,
    r#"
CREATE TABLE networks (
    id          TEXT PRIMARY KEY,            -- 64 hex
    name        TEXT NOT NULL UNIQUE,
    driver      TEXT NOT NULL,               -- bridge
    bridge      TEXT NOT NULL UNIQUE,        -- the Linux bridge berth made
    subnet      TEXT NOT NULL,               -- CIDR
    gateway     TEXT NOT NULL,
    ip_range    TEXT,                        -- CIDR inside the subnet, or NULL
    internal    INTEGER NOT NULL,
    attachable  INTEGER NOT NULL,
    labels      TEXT NOT NULL,               -- JSON object
    options     TEXT NOT NULL,               -- JSON object (-o)
    created_at  INTEGER NOT NULL
);
"#,
    r#"
-- An address lease: a running container's place on a network, gone when
-- it stops (as Docker frees the address).
CREATE TABLE IF NOT EXISTS endpoints (
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    ip           TEXT NOT NULL,
    mac          TEXT NOT NULL,
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, ip)
);
CREATE INDEX IF NOT EXISTS endpoints_by_container ON endpoints(container_id);
"#,
    r#"
-- A running container's published port: the host side it holds and the
-- container side it leads to; gone with the container's leases.
CREATE TABLE IF NOT EXISTS published_ports (
    container_id   TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    network_id     TEXT NOT NULL,
    protocol       TEXT NOT NULL,            -- tcp, udp, sctp
    host_ip        TEXT NOT NULL,            -- 0.0.0.0: every address
    host_port      INTEGER NOT NULL,
    container_ip   TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    PRIMARY KEY (protocol, host_ip, host_port)
);
CREATE INDEX IF NOT EXISTS published_ports_by_container ON published_ports(container_id);
"#,
    r#"
-- The host end of the endpoint's veth pair, removed with the lease.
ALTER TABLE endpoints ADD COLUMN veth TEXT NOT NULL DEFAULT '';
"#,
    r#"
-- A commit's hold on a running container's freeze (containers/freeze.rs):
-- frozen while any row remains; a killed commit's row goes with its lease.
CREATE TABLE IF NOT EXISTS commit_freezes (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    lease_id     INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    PRIMARY KEY (container_id, lease_id)
);
"#,
    r#"
-- A container's health as its checks found it (containers/health.rs):
-- Docker's State.Health, kept after the container stops.
CREATE TABLE IF NOT EXISTS container_health (
    container_id   TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
    status         TEXT NOT NULL CHECK (status IN ('starting', 'healthy', 'unhealthy')),
    failing_streak INTEGER NOT NULL DEFAULT 0,
    log            TEXT NOT NULL DEFAULT '[]'  -- JSON: the last five results
);
"#,
    r#"
-- The image a `commit` was made from (Docker's local Parent): `rmi` of an
-- image with children is refused, `history` names the parent's layers.
ALTER TABLE images ADD COLUMN parent TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS images_by_parent ON images(parent);
"#,
    r#"
-- The local driver's options of a volume (`volume create -o`), JSON.
ALTER TABLE volumes ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
"#,
    r#"
-- `rmi -f` of an image only stopped containers use: gone for every name,
-- listing and lookup (Docker deletes it), its row and layers kept for
-- those containers until the last of them is removed.
ALTER TABLE images ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- The build cache (build/cache.rs): a step's key (its parent's key, the
-- instruction as run, the digests of what it copies) to the image the
-- step made. Images only the builder made are hidden from listings and
-- prunes of images (`images -a` shows them); `builder prune` collects them.
CREATE TABLE IF NOT EXISTS build_cache (
    key        TEXT PRIMARY KEY,
    image_id   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS build_cache_by_image ON build_cache(image_id);
ALTER TABLE images ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- Layers whose tar berth's own layer writer made (a build step's): the
-- builder may reuse one as the layer a copy would write again
-- (build/layer_reuse.rs), as a foreign tar of the same files may differ.
-- A property of the bytes (the diff ID), so rows outlive the layers.
CREATE TABLE IF NOT EXISTS built_layers (
    diff_id TEXT PRIMARY KEY
);
"#,
];

pub fn needs_migration(conn: &Connection) -> Result<bool> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(version != MIGRATIONS.len())
}

pub fn migrate(conn: &Connection) -> Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(Error::unsupported(format!(
            "metadata database schema version {version} is newer than this berth understands ({}); upgrade berth",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        conn.execute_batch(sql)?;
        conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migrations applied up to (and including) the one that made `table`.
    fn store_up_to(table: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        let last = MIGRATIONS
            .iter()
            .position(|m| m.contains(&format!("CREATE TABLE {table} (")))
            .unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(last + 1) {
            conn.execute_batch(sql).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .unwrap();
        }
        conn
    }

    #[test]
    fn a_store_migrated_with_networks_alone_gains_endpoints() {
        // The version an earlier build of this work wrote: networks, no
        // endpoints. Leases must work after the next open.
        let conn = store_up_to("networks");
        assert!(needs_migration(&conn).unwrap());
        migrate(&conn).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM endpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        assert!(!needs_migration(&conn).unwrap());
    }

    #[test]
    fn a_fresh_store_gets_every_table() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        for table in [
            "images",
            "containers",
            "networks",
            "endpoints",
            "published_ports",
            "events",
        ] {
            let found: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(found, 1, "{table}");
        }
    }
}
