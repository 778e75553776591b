//! A container's health, as Docker keeps it: the monitor runs the check
//! (`monitor/health.rs`) and records each result here; `ps`, `inspect`,
//! the `health` filter and the events read it.
//!
//! Docker's rules: a started container is `starting`; a passing check
//! makes it `healthy` and clears the failing streak; a failing one adds to
//! the streak, except while it is still `starting` within its start
//! period, and `retries` failures in a row make it `unhealthy`. The last
//! five results are kept.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::config::HealthConfig;
use crate::error::Result;

/// Docker's defaults, in nanoseconds.
pub const DEFAULT_INTERVAL: i64 = 30_000_000_000;
pub const DEFAULT_TIMEOUT: i64 = 30_000_000_000;
pub const DEFAULT_START_INTERVAL: i64 = 5_000_000_000;
pub const DEFAULT_RETRIES: i64 = 3;
/// Output kept of one check, as Docker.
pub const MAX_OUTPUT: usize = 4096;
const KEPT_RESULTS: usize = 5;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<CheckResult>,
}

impl Health {
    /// Docker's `State.Health`.
    pub fn docker_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Status": self.status,
            "FailingStreak": self.failing_streak,
            "Log": self.log,
        })
    }
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Health>> {
    Ok(conn
        .query_row(
            "SELECT status, failing_streak, log FROM container_health WHERE container_id = ?1",
            [id],
            |r| {
                let log: String = r.get(2)?;
                Ok(Health {
                    status: r.get(0)?,
                    failing_streak: r.get(1)?,
                    log: serde_json::from_str(&log).unwrap_or_default(),
                })
            },
        )
        .optional()?)
}

/// A start: `starting`, the streak cleared, the log kept (as Docker).
pub fn reset(conn: &Connection, id: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO container_health (container_id, status, failing_streak) VALUES (?1, 'starting', 0)
         ON CONFLICT(container_id) DO UPDATE SET status = 'starting', failing_streak = 0",
        [id],
    )?;
    Ok(())
}

/// Records one check's result; returns the new status if it changed.
pub fn record(
    conn: &Connection,
    id: &str,
    config: &HealthConfig,
    container_started_at: i64,
    check_started_at: i64,
    result: CheckResult,
) -> Result<Option<String>> {
    let Some(mut health) = get(conn, id)? else {
        return Ok(None);
    };
    let before = health.status.clone();
    if result.exit_code == 0 {
        health.failing_streak = 0;
        health.status = "healthy".into();
    } else {
        let in_start_period = health.status == "starting"
            && check_started_at - container_started_at < config.start_period;
        if !in_start_period {
            health.failing_streak += 1;
            let retries = if config.retries > 0 {
                config.retries
            } else {
                DEFAULT_RETRIES
            };
            if health.failing_streak >= retries {
                health.status = "unhealthy".into();
            }
        }
    }
    health.log.push(result);
    let drop = health.log.len().saturating_sub(KEPT_RESULTS);
    health.log.drain(..drop);
    conn.execute(
        "UPDATE container_health SET status = ?2, failing_streak = ?3, log = ?4 WHERE container_id = ?1",
        params![
            id,
            health.status,
            health.failing_streak,
            serde_json::to_string(&health.log).unwrap_or_else(|_| "[]".into())
        ],
    )?;
    Ok((health.status != before).then_some(health.status))
}

/// What `ps` appends to "Up …": ` (healthy)`, ` (health: starting)`.
pub fn ps_suffix(status: &str) -> String {
    match status {
        "starting" => " (health: starting)".into(),
        "" => String::new(),
        s => format!(" ({s})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i64) -> CheckResult {
        CheckResult {
            start: "s".into(),
            end: "e".into(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn docker_s_rules() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE container_health (container_id TEXT PRIMARY KEY, status TEXT NOT NULL, failing_streak INTEGER NOT NULL DEFAULT 0, log TEXT NOT NULL DEFAULT '[]');",
        )
        .unwrap();
        let config = HealthConfig {
            retries: 2,
            start_period: 10,
            ..HealthConfig::default()
        };
        reset(&conn, "c").unwrap();
        // A failure within the start period does not count.
        assert_eq!(record(&conn, "c", &config, 0, 5, result(1)).unwrap(), None);
        assert_eq!(get(&conn, "c").unwrap().unwrap().failing_streak, 0);
        assert_eq!(
            record(&conn, "c", &config, 0, 20, result(0))
                .unwrap()
                .as_deref(),
            Some("healthy")
        );
        assert_eq!(record(&conn, "c", &config, 0, 30, result(1)).unwrap(), None);
        assert_eq!(
            record(&conn, "c", &config, 0, 40, result(1))
                .unwrap()
                .as_deref(),
            Some("unhealthy")
        );
        for t in 0..10 {
            record(&conn, "c", &config, 0, 50 + t, result(1)).unwrap();
        }
        let h = get(&conn, "c").unwrap().unwrap();
        assert_eq!((h.failing_streak, h.log.len()), (12, 5));
        reset(&conn, "c").unwrap();
        let h = get(&conn, "c").unwrap().unwrap();
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
    }
}
