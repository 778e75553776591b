//! `images`: listing with Docker's filters.

use std::collections::{BTreeMap, HashMap};

use berth_image::reference::familiar_match;
use berth_image::{Digest, Reference};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{record, resolve};
use crate::Engine;
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct ImageSummary {
    pub id: Digest,
    pub repo_tags: Vec<Reference>,
    pub repo_digests: Vec<Reference>,
    pub created: Option<OffsetDateTime>,
    pub size: u64,
    pub labels: BTreeMap<String, String>,
    /// Containers using the image.
    pub containers: i64,
}

/// `--filter` values, parsed (`reference=`, `dangling=`, `label=`,
/// `before=`, `since=`, `until=`).
#[derive(Clone, Debug, Default)]
pub struct ImageFilters {
    pub reference: Vec<String>,
    pub dangling: Option<bool>,
    pub label: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// `images -a`: intermediate images (untagged parents of committed
    /// ones) too.
    pub all: bool,
}

impl ImageFilters {
    pub fn parse(filters: &[String]) -> Result<ImageFilters> {
        let mut f = ImageFilters::default();
        for filter in filters {
            let (key, value) = filter.split_once('=').ok_or_else(|| {
                Error::invalid(format!(
                    "bad format of filter (expected name=value): {filter}"
                ))
            })?;
            let value = value.to_string();
            match key.to_ascii_lowercase().as_str() {
                "reference" => f.reference.push(value),
                "dangling" => {
                    f.dangling = Some(match value.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(Error::invalid(format!(
                                "invalid filter 'dangling={value}': expected true or false"
                            )));
                        }
                    })
                }
                "label" => f.label.push(value),
                "before" => f.before = Some(value),
                "since" => f.since = Some(value),
                "until" => f.until = Some(value),
                other => return Err(Error::invalid(format!("invalid filter '{other}'"))),
            }
        }
        Ok(f)
    }
}

impl ImageSummary {
    pub fn is_dangling(&self) -> bool {
        self.repo_tags.is_empty() && self.repo_digests.is_empty()
    }
}

impl Engine {
    /// Images newest first, with the filters applied. With a `reference`
    /// filter only the matching tags are listed, as in Docker.
    pub fn list_images(&self, filters: &ImageFilters) -> Result<Vec<ImageSummary>> {
        let (rows, tags, digests) = self.db.read(|c| {
            let rows = record::all(c)?;
            let mut tags: HashMap<String, Vec<Reference>> = HashMap::new();
            for (name, id) in record::all_tags(c)? {
                if let Ok(r) = Reference::parse_normalized(&name) {
                    tags.entry(id).or_default().push(r);
                }
            }
            let mut digests: HashMap<String, Vec<Reference>> = HashMap::new();
            for (name, id) in record::all_repo_digests(c)? {
                if let Ok(r) = Reference::parse_normalized(&name) {
                    digests.entry(id).or_default().push(r);
                }
            }
            Ok((rows, tags, digests))
        })?;

        let created_of = |name: &str| -> Result<Option<OffsetDateTime>> {
            let id = self.db.read(|c| resolve::resolve_id(c, name))?;
            Ok(rows
                .iter()
                .find(|r| r.id == id)
                .and_then(|r| parse_time(r.created.as_deref())))
        };
        let before = filters
            .before
            .as_deref()
            .map(created_of)
            .transpose()?
            .flatten();
        let since = filters
            .since
            .as_deref()
            .map(created_of)
            .transpose()?
            .flatten();
        let until = filters
            .until
            .as_deref()
            .map(|u| crate::times::parse(u, "until"))
            .transpose()?;

        let mut out = Vec::new();
        for row in rows {
            let mut summary = ImageSummary {
                repo_tags: tags.get(row.id.as_str()).cloned().unwrap_or_default(),
                repo_digests: digests.get(row.id.as_str()).cloned().unwrap_or_default(),
                created: parse_time(row.created.as_deref()),
                size: row.size,
                labels: row
                    .labels
                    .as_deref()
                    .and_then(|l| serde_json::from_str(l).ok())
                    .unwrap_or_default(),
                containers: crate::containers::record::using_image(
                    &*self.db.conn()?,
                    row.id.as_str(),
                )?
                .len() as i64,
                id: row.id,
            };
            // The builder's cache: with -a only, never dangling.
            let has_children =
                row.hidden || self.db.read(|c| record::has_children(c, &summary.id))?;
            // An untagged parent of another image is an intermediate image:
            // shown with -a only, and never dangling (Docker's rules).
            if summary.is_dangling() && has_children && !filters.all {
                continue;
            }
            if let Some(d) = filters.dangling
                && (summary.is_dangling() && !has_children) != d
            {
                continue;
            }
            if !filters.reference.is_empty() {
                summary
                    .repo_tags
                    .retain(|t| filters.reference.iter().any(|p| familiar_match(p, t)));
                summary
                    .repo_digests
                    .retain(|t| filters.reference.iter().any(|p| familiar_match(p, t)));
                if summary.repo_tags.is_empty() && summary.repo_digests.is_empty() {
                    continue;
                }
            }
            if !filters
                .label
                .iter()
                .all(|l| label_matches(&summary.labels, l))
            {
                continue;
            }
            if let Some(b) = before
                && summary.created.is_none_or(|c| c >= b)
            {
                continue;
            }
            if let Some(s) = since
                && summary.created.is_none_or(|c| c <= s)
            {
                continue;
            }
            if let Some(u) = until
                && summary.created.is_none_or(|c| c >= u)
            {
                continue;
            }
            out.push(summary);
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }
}

pub(crate) fn label_matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(filter),
    }
}

pub fn parse_time(s: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s?, &Rfc3339).ok()
}
