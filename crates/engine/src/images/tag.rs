//! `tag`: another name for an image.

use berth_image::Reference;

use super::{record, resolve};
use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Points `target` (`REPOSITORY[:TAG]`, `:latest` implied) at the image
    /// `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let target = Reference::parse_with_default_tag(target)?;
        if target.digest().is_some() {
            return Err(Error::invalid(format!(
                "refusing to create a tag with a digest reference: {target}"
            )));
        }
        let id = self.db.write(|c| {
            let id = resolve::resolve_id(c, source)?;
            record::set_tag(c, &target, &id)?;
            Ok(id)
        })?;
        self.event(crate::events::image_event(
            "tag",
            id.as_str(),
            Some(&target),
        ));
        Ok(())
    }
}
