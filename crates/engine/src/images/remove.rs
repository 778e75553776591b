//! `rmi`: untag, and delete an image once nothing names it, with Docker's rules.
//!
//! - By tag: remove that tag; delete the image if it was the last name.
//! - By ID: delete the image; if it has tags in more than one repository,
//!   only with `force` (Docker's "referenced in multiple repositories").
//! - Layers and blobs nothing else uses go with the image, in the same
//!   transaction; their files are deleted after it commits.

use berth_image::spec::chain_ids;
use berth_image::{Digest, Reference};
use rusqlite::Connection;

use super::record;
use super::resolve::{self, Matched};
use crate::Engine;
use crate::error::{Error, Result};
use crate::store::gc::{self, Candidates, Collected};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoveEvent {
    /// `Untagged: busybox:latest`
    Untagged(Reference),
    /// `Deleted: sha256:…` (the image, then each layer by chain ID)
    Deleted(Digest),
}

impl Engine {
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>> {
        let (events, collected, image) = self.db.write(|c| {
            let (id, matched) = resolve::resolve(c, name)?;
            let mut events = Vec::new();
            let tags = record::tags_of(c, &id)?;
            let digests = record::digests_of(c, &id)?;
            let users = crate::containers::record::using_image(c, id.as_str())?;
            let running = users.iter().find(|(_, s)| s.is_live());
            let last_name = tags.len() + digests.len() <= 1;
            let has_children = record::has_children(c, &id)?;
            if matches!(matched, Matched::Id) && has_children {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    id.short()
                )));
            }
            match (&matched, users.first()) {
                (Matched::Id, Some(_)) if running.is_some() => {
                    return Err(Error::conflict(format!(
                        "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                        id.short(),
                        &running.map(|(c, _)| c.as_str()).unwrap_or_default()[..12]
                    )));
                }
                (Matched::Id, Some((user, _))) if !force => {
                    return Err(Error::conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                        id.short(),
                        &user[..12]
                    )));
                }
                (Matched::Tag(r) | Matched::Digest(r), Some((user, _))) if last_name && !force => {
                    return Err(Error::conflict(format!(
                        "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its referenced image {}",
                        r.familiar_string(),
                        &user[..12],
                        id.short()
                    )));
                }
                _ => {}
            }
            match matched {
                Matched::Tag(r) | Matched::Digest(r) => {
                    if r.digest().is_some() {
                        record::delete_repo_digest(c, &r.to_string())?;
                    } else {
                        record::delete_tag(c, &r.to_string())?;
                    }
                    events.push(RemoveEvent::Untagged(r));
                    // Untagging by tag also drops digests of that repository when
                    // no other tag of it remains (Docker does the same).
                    let remaining = record::tags_of(c, &id)?;
                    if !remaining.is_empty() {
                        return Ok((events, Collected::default(), id));
                    }
                    for d in &digests {
                        if d.to_string() != name {
                            record::delete_repo_digest(c, &d.to_string())?;
                            events.push(RemoveEvent::Untagged(d.clone()));
                        }
                    }
                    // A parent of other images stays, untagged, until its
                    // last child goes (Docker's intermediate image).
                    if has_children {
                        return Ok((events, Collected::default(), id));
                    }
                }
                Matched::Id => {
                    let repos: std::collections::BTreeSet<String> = tags.iter().map(Reference::name).collect();
                    if repos.len() > 1 && !force {
                        return Err(Error::conflict(format!(
                            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                            id.short()
                        )));
                    }
                    for r in tags.iter().chain(&digests) {
                        events.push(RemoveEvent::Untagged(r.clone()));
                    }
                }
            }
            let collected = delete_image(c, &self.paths, &id, &mut events)?;
            Ok((events, collected, id))
        })?;
        collected.empty_trash();
        for e in &events {
            match e {
                RemoveEvent::Untagged(r) => {
                    self.event(crate::events::image_event("untag", image.as_str(), Some(r)))
                }
                RemoveEvent::Deleted(d) if d == &image => {
                    self.event(crate::events::image_event("delete", image.as_str(), None))
                }
                RemoveEvent::Deleted(_) => {}
            }
        }
        Ok(events)
    }
}

/// Deletes an image row and collects the layers and blobs only it used.
/// Runs inside the caller's write transaction.
pub(crate) fn delete_image(
    conn: &Connection,
    paths: &crate::store::Paths,
    id: &Digest,
    events: &mut Vec<RemoveEvent>,
) -> Result<Collected> {
    let row = record::get(conn, id)?.ok_or_else(|| resolve::no_such_image(id.as_str()))?;
    let users = crate::containers::record::using_image(conn, id.as_str())?;
    if !users.is_empty() {
        // A container's image stays (untagged if need be) until the container goes.
        for r in record::tags_of(conn, id)?
            .iter()
            .chain(&record::digests_of(conn, id)?)
        {
            record::delete_tag(conn, &r.to_string())?;
            record::delete_repo_digest(conn, &r.to_string())?;
        }
        // Used by stopped containers only: gone for everyone else, as
        // Docker deletes it (a running one keeps it as an untagged image).
        if users.iter().all(|(_, state)| !state.is_live()) && !record::has_children(conn, id)? {
            record::mark_removed(conn, id)?;
            events.push(RemoveEvent::Deleted(id.clone()));
        }
        return Ok(Collected::default());
    }
    if record::has_children(conn, id)? {
        return Ok(Collected::default());
    }
    let layers = record::layers(conn, id)?;
    record::delete(conn, id)?;
    events.push(RemoveEvent::Deleted(id.clone()));

    let mut candidates = Candidates::default();
    candidates.blobs.insert(id.clone());
    candidates.blobs.insert(row.manifest.digest.clone());
    for l in &layers {
        candidates.blobs.insert(l.blob_digest.clone());
        if let Some(s) = crate::store::snapshots::ready_for(conn, l.diff_id.as_str())? {
            candidates.snapshots.insert(s.id);
        }
    }
    let collected = gc::collect(conn, paths, &candidates)?;
    // Report removed layers by chain ID, top first, as Docker does.
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let removed: std::collections::HashSet<&str> = collected
        .snapshots
        .iter()
        .filter_map(|(_, d, _)| d.as_deref())
        .collect();
    for (diff_id, chain) in diff_ids.iter().zip(chain_ids(&diff_ids)).rev() {
        if removed.contains(diff_id.as_str()) {
            events.push(RemoveEvent::Deleted(chain));
        }
    }
    // Its parent, left untagged for it, goes with its last child.
    if let Ok(parent) = record::parse_digest(&row.parent)
        && record::get(conn, &parent)?.is_some()
        && record::tags_of(conn, &parent)?.is_empty()
        && record::digests_of(conn, &parent)?.is_empty()
        && !record::has_children(conn, &parent)?
        && crate::containers::record::using_image(conn, parent.as_str())?.is_empty()
    {
        let more = delete_image(conn, paths, &parent, events)?;
        return Ok(collected.and(more));
    }
    Ok(collected)
}
