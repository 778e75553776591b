//! Named volumes: `volume create|ls|inspect|rm|prune`. A volume is a
//! directory `volumes/<name>/_data` and a row; containers using it are
//! recorded in `container_volumes`.

use std::collections::BTreeMap;

use super::{names, volumes_record};
use crate::Engine;
use crate::error::{Error, IoContext, Result};

#[derive(Clone, Debug)]
pub struct Volume {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub anonymous: bool,
    pub created_at: i64,
    pub mountpoint: std::path::PathBuf,
    pub users: Vec<String>,
    /// The local driver's options (`type`, `device`, `o`).
    pub options: BTreeMap<String, String>,
}

/// `volume ls` and `volume prune` filters: `name`, `dangling`, `driver`,
/// `label` (`k` or `k=v`), `label!`, and prune's `all`.
#[derive(Clone, Debug, Default)]
pub struct VolumeFilters {
    name: Vec<String>,
    dangling: Option<bool>,
    driver: Vec<String>,
    label: Vec<String>,
    not_label: Vec<String>,
    pub all: bool,
}

impl VolumeFilters {
    pub fn parse(raw: &[String]) -> Result<VolumeFilters> {
        let mut f = VolumeFilters::default();
        for item in raw {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| Error::invalid("bad format of filter (expected name=value)"))?;
            let truth = || match v {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(Error::invalid(format!("invalid filter '{k}={v}'"))),
            };
            match k {
                "name" => f.name.push(v.into()),
                "dangling" => f.dangling = Some(truth()?),
                "driver" => f.driver.push(v.into()),
                "label" => f.label.push(v.into()),
                "label!" => f.not_label.push(v.into()),
                "all" => f.all = truth()?,
                _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
            }
        }
        Ok(f)
    }

    pub fn matches(&self, v: &Volume) -> bool {
        let has = |l: &String| match l.split_once('=') {
            Some((k, want)) => v.labels.get(k).is_some_and(|x| x == want),
            None => v.labels.contains_key(l.as_str()),
        };
        (self.name.is_empty() || self.name.iter().any(|n| v.name.contains(n.as_str())))
            && self.dangling.is_none_or(|d| d == v.users.is_empty())
            && (self.driver.is_empty() || self.driver.iter().any(|d| d == "local"))
            && self.label.iter().all(has)
            && !self.not_label.iter().any(has)
    }
}

/// Checks `volume create -o` options as the local driver does.
fn check_options(options: &BTreeMap<String, String>) -> Result<()> {
    for key in options.keys() {
        if !matches!(key.as_str(), "type" | "device" | "o") {
            return Err(Error::invalid(format!("invalid option key: {key:?}")));
        }
    }
    if options.is_empty() {
        return Ok(());
    }
    let kind = options.get("type").map(String::as_str).unwrap_or_default();
    let device = options
        .get("device")
        .map(String::as_str)
        .unwrap_or_default();
    let o = options.get("o").map(String::as_str).unwrap_or_default();
    let bind = o.split(',').any(|x| x == "bind" || x == "rbind");
    if kind.is_empty() && !bind {
        return Err(Error::invalid("missing required option: \"type\""));
    }
    if device.is_empty() && kind != "tmpfs" {
        return Err(Error::invalid("missing required option: \"device\""));
    }
    if bind && !device.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid option: \"device\": a bind volume's device must be an absolute path, not {device:?}"
        )));
    }
    Ok(())
}

impl Engine {
    pub fn create_volume(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<String> {
        check_options(&options)?;
        let (name, anonymous) = match name {
            Some(n) => {
                let mut chars = n.chars();
                let ok = n.len() >= 2
                    && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
                    && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if !ok {
                    return Err(Error::invalid(format!(
                        "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                    )));
                }
                (n.to_string(), false)
            }
            None => (names::new_id()?, true),
        };
        self.create_volume_dir(&name)?;
        let labels_json = serde_json::to_string(&labels).unwrap_or_default();
        let options_json = serde_json::to_string(&options).unwrap_or_default();
        self.db.write_relaxed(|c| {
            if volumes_record::insert(c, &name, &labels_json, anonymous, &options_json)? {
                crate::store::event_log::record(c, &volume_event("create", &name))?;
            }
            Ok(())
        })?;
        self.events_changed();
        Ok(name)
    }

    /// `volumes/<name>/_data`, at Docker's modes whatever the umask.
    pub(crate) fn create_volume_dir(&self, name: &str) -> Result<()> {
        use crate::store::perms;
        perms::create_dir(&self.paths.volumes.join(name), perms::CONTENT_DIR)?;
        let data = self.paths.volume_data(name);
        if !data.exists() {
            perms::create_dir(&data, perms::CONTENT_DIR)?;
        }
        Ok(())
    }

    pub fn volumes(&self) -> Result<Vec<Volume>> {
        self.db.read(|c| {
            let mut out = Vec::new();
            for (name, labels, anonymous, created_at, options) in volumes_record::all(c)? {
                let users = volumes_record::users(c, &name)?;
                out.push(Volume {
                    options: serde_json::from_str(&options).unwrap_or_default(),
                    mountpoint: self.paths.volume_data(&name),
                    labels: labels
                        .and_then(|l| serde_json::from_str(&l).ok())
                        .unwrap_or_default(),
                    name,
                    anonymous,
                    created_at,
                    users,
                });
            }
            Ok(out)
        })
    }

    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.volumes()?
            .into_iter()
            .find(|v| v.name == name)
            .ok_or_else(|| Error::not_found(format!("get {name}: no such volume")))
    }

    /// `volume rm`: refused while a container uses it (even `-f`, as Docker).
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        // A device volume's mount goes first (if no container uses it).
        self.release_volume_mount(name, None);
        let stamp = crate::now_nanos();
        let trash = self.paths.trash.join(format!("vol-{name}.{stamp}"));
        let found = self.db.write_relaxed(|c| {
            if !volumes_record::exists(c, name)? {
                return Ok(false);
            }
            let users = volumes_record::users(c, name)?;
            if !users.is_empty() {
                return Err(Error::conflict(format!(
                    "remove {name}: volume is in use - [{}]",
                    users.join(", ")
                )));
            }
            volumes_record::delete(c, name)?;
            crate::store::event_log::record(c, &volume_event("destroy", name))?;
            let dir = self.paths.volumes.join(name);
            match std::fs::rename(&dir, &trash) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
                Err(e) => Err(e).ctx("move to trash", &dir),
            }
        })?;
        if !found {
            if force {
                return Ok(());
            }
            return Err(Error::not_found(format!("get {name}: no such volume")));
        }
        self.events_changed();
        crate::store::gc::remove_any(&trash);
        Ok(())
    }

    /// `volume prune`: anonymous volumes no container uses (`all`: named
    /// too), among those the filters keep.
    pub fn prune_volumes(&self, filters: &VolumeFilters) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for v in self.volumes()? {
            if v.users.is_empty()
                && (filters.all || v.anonymous)
                && filters.matches(&v)
                && self.remove_volume(&v.name, false).is_ok()
            {
                removed.push(v.name);
            }
        }
        Ok(removed)
    }
}

fn volume_event(action: &str, name: &str) -> crate::events::Event {
    crate::events::Event::new(crate::events::EventType::Volume, action, name)
        .with("driver", "local")
}

impl Volume {
    /// Docker's `volume inspect` object (the CLI's and the API's).
    pub fn docker_json(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        json!({
            "CreatedAt": crate::containers::rfc3339(self.created_at),
            "Driver": "local",
            "Labels": if self.labels.is_empty() { Value::Null } else { json!(self.labels) },
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": if self.options.is_empty() { Value::Null } else { json!(self.options) },
            "Scope": "local",
        })
    }
}
