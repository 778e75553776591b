//! `rename`: a container's new name.

use super::names;
use super::record;
use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    pub fn rename_container(&self, name: &str, new_name: &str) -> Result<()> {
        let new_name = names::validate(new_name)?;
        let row = self.container(name)?;
        if row.name == new_name {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        self.db.write_relaxed(|c| {
            if let Some(other) = record::id_with_name(c, &new_name)? {
                return Err(record::name_in_use(&new_name, &other));
            }
            record::set_name(c, &row.id, &new_name)?;
            let renamed = super::ContainerRow {
                name: new_name.clone(),
                ..row.clone()
            };
            crate::store::event_log::record(
                c,
                &crate::events::container_event(&renamed, "rename")
                    .with("oldName", format!("/{}", row.name)),
            )
        })?;
        self.events_changed();
        Ok(())
    }
}
