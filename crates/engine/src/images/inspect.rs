//! `image inspect`: Docker-shaped JSON for an image.

use berth_image::spec::{ImageConfig, RunConfig};
use serde::Serialize;
use serde_json::{Value, json};

use super::{record, resolve};
use crate::Engine;
use crate::error::{Error, Result};

/// Docker's container-config shape, which `inspect` shows for an image's
/// `Config` (unset fields as Docker prints them: empty strings, false, null).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerConfig<'a> {
    hostname: &'a str,
    domainname: &'a str,
    user: &'a str,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<&'a std::collections::BTreeMap<String, Value>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<&'a Vec<String>>,
    cmd: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args_escaped: Option<bool>,
    image: &'a str,
    volumes: Option<&'a std::collections::BTreeMap<String, Value>>,
    working_dir: &'a str,
    entrypoint: Option<&'a Vec<String>>,
    on_build: Option<&'a Vec<String>>,
    labels: Option<&'a std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shell: Option<&'a Vec<String>>,
}

impl<'a> DockerConfig<'a> {
    fn from(c: &'a RunConfig) -> Self {
        DockerConfig {
            hostname: "",
            domainname: "",
            user: c.user.as_deref().unwrap_or_default(),
            attach_stdin: false,
            attach_stdout: false,
            attach_stderr: false,
            exposed_ports: c.exposed_ports.as_ref(),
            tty: false,
            open_stdin: false,
            stdin_once: false,
            env: c.env.as_ref(),
            cmd: c.cmd.as_ref(),
            healthcheck: c.healthcheck.as_ref(),
            args_escaped: c.args_escaped,
            image: "",
            volumes: c.volumes.as_ref(),
            working_dir: c.working_dir.as_deref().unwrap_or_default(),
            entrypoint: c.entrypoint.as_ref(),
            on_build: c.on_build.as_ref(),
            labels: c.labels.as_ref(),
            stop_signal: c.stop_signal.as_deref(),
            shell: c.shell.as_ref(),
        }
    }
}

impl Engine {
    /// The JSON `docker image inspect` prints for one image.
    pub fn inspect_image(&self, name: &str) -> Result<Value> {
        self.db.read(|c| {
            let id = resolve::resolve_id(c, name)?;
            let row = record::get(c, &id)?.ok_or_else(|| resolve::no_such_image(name))?;
            let config_bytes = self.paths.content.read_blob(&id)?;
            let config = ImageConfig::parse(&config_bytes)
                .map_err(|e| Error::internal(format!("image {}: stored config: {e}", id.short())))?;
            let layers = record::layers(c, &id)?;
            let mut dirs = Vec::new();
            for l in layers.iter().rev() {
                if let Some(s) = crate::store::snapshots::ready_for(c, l.diff_id.as_str())? {
                    dirs.push(self.paths.snapshot_fs(s.id).display().to_string());
                }
            }
            let run = config.config.clone().unwrap_or_default();
            let mut graph = serde_json::Map::new();
            if dirs.len() > 1 {
                graph.insert("LowerDir".into(), json!(dirs[1..].join(":")));
            }
            if let Some(top) = dirs.first() {
                graph.insert("UpperDir".into(), json!(top));
            }
            let tags: Vec<String> = record::tags_of(c, &id)?.iter().map(|r| r.familiar_string()).collect();
            let digests: Vec<String> = record::digests_of(c, &id)?.iter().map(|r| r.familiar_string()).collect();
            let mut out = serde_json::Map::new();
            out.insert("Id".into(), json!(id.as_str()));
            out.insert("RepoTags".into(), json!(tags));
            out.insert("RepoDigests".into(), json!(digests));
            let parent = record::get(c, &id)?.map(|r| r.parent).unwrap_or_default();
            out.insert("Parent".into(), json!(parent));
            out.insert("Comment".into(), json!(config.comment.clone().unwrap_or_default()));
            out.insert("Created".into(), json!(config.created.clone().unwrap_or_default()));
            out.insert("DockerVersion".into(), json!(config.docker_version.clone().unwrap_or_default()));
            out.insert("Author".into(), json!(config.author.clone().unwrap_or_default()));
            out.insert("Config".into(), serde_json::to_value(DockerConfig::from(&run)).unwrap_or(Value::Null));
            out.insert("Architecture".into(), json!(config.architecture));
            if let Some(v) = &config.variant {
                out.insert("Variant".into(), json!(v));
            }
            out.insert("Os".into(), json!(config.os));
            if let Some(v) = &config.os_version {
                out.insert("OsVersion".into(), json!(v));
            }
            out.insert("Size".into(), json!(row.size));
            out.insert("GraphDriver".into(), json!({"Data": graph, "Name": "overlay"}));
            out.insert(
                "RootFS".into(),
                json!({"Type": "layers", "Layers": config.rootfs.diff_ids.iter().map(|d| d.as_str()).collect::<Vec<_>>()}),
            );
            out.insert(
                "Metadata".into(),
                json!({"LastTagTime": row.last_tag_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into())}),
            );
            Ok(Value::Object(out))
        })
    }
}
