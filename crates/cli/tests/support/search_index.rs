//! A test stand-in for an image index's search API (Docker Hub's `GET
//! /v1/search?q=&n=`, with the `/v1/_ping` Docker checks first): Docker
//! Hub cannot be reached from the tests, and the distribution registry has
//! no search, so this serves a fixed catalogue on 127.0.0.1 — the one part
//! of the search tests that is not the real thing. It answers the first
//! `n` entries whose name contains `q`, and remembers whether requests
//! came with an Authorization header.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::mini_http::{self, Server};

pub struct SearchIndex {
    server: Server,
    authorized: Arc<AtomicBool>,
}

/// The catalogue: official and automated, a long description with a
/// newline, an empty one, star counts either side of the filters.
pub fn catalogue() -> Vec<Value> {
    vec![
        json!({"name": "busybox", "description": "Busybox base image.", "star_count": 3300, "is_official": true, "is_automated": false}),
        json!({"name": "someone/busybox-tools", "description": "Tools on busybox: a description well beyond forty-five characters,\nwith a newline in it", "star_count": 12, "is_official": false, "is_automated": true}),
        json!({"name": "other/busybox", "description": "", "star_count": 0, "is_official": false, "is_automated": false}),
        json!({"name": "nginx", "description": "Official build of Nginx.", "star_count": 20000, "is_official": true, "is_automated": false}),
    ]
}

impl SearchIndex {
    pub fn start() -> SearchIndex {
        let authorized = Arc::new(AtomicBool::new(false));
        let seen = authorized.clone();
        let server = Server::start(move |mut conn, _stop| {
            let json_type = || vec![("Content-Type", "application/json".to_string())];
            let Ok(Some(req)) = mini_http::read_request(&conn) else {
                return;
            };
            if req.header("Authorization").is_some() {
                seen.store(true, Ordering::SeqCst);
            }
            let (status, body) = match req.path.as_str() {
                "/v1/_ping" => (200, json!({})),
                "/v1/search" => {
                    let q = req.query_pairs();
                    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                    let term = get("q").unwrap_or_default();
                    let n: usize = get("n").and_then(|n| n.parse().ok()).unwrap_or(25);
                    let results: Vec<Value> = catalogue()
                        .into_iter()
                        .filter(|r| r["name"].as_str().unwrap_or("").contains(&term))
                        .take(n)
                        .collect();
                    (
                        200,
                        json!({"query": term, "num_results": results.len(), "page_size": n, "results": results}),
                    )
                }
                _ => (404, json!({"error": "not found"})),
            };
            let _ = mini_http::respond(
                &mut conn,
                status,
                &json_type(),
                body.to_string().as_bytes(),
                false,
            );
        });
        SearchIndex { server, authorized }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// Whether any request carried credentials.
    pub fn saw_credentials(&self) -> bool {
        self.authorized.load(Ordering::SeqCst)
    }
}
