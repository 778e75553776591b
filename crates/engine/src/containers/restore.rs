//! Restart policies when the host (or the daemon) comes back: containers
//! whose policy says they should run, and that do not, are started — as
//! dockerd does at its start: `always`, and `unless-stopped` unless
//! someone stopped it by hand.

use super::record::ContainerRow;
use crate::Engine;
use crate::error::Result;

impl Engine {
    /// Starts every container whose restart policy wants it running and
    /// that is not; returns each one tried with what its start gave.
    pub fn restore_containers(&self) -> Result<Vec<(ContainerRow, Result<()>)>> {
        let mut tried = Vec::new();
        for row in self.containers()? {
            if row.state.is_live() {
                continue;
            }
            let wanted = match row.config.host.restart.name.as_str() {
                "always" => true,
                "unless-stopped" => !row.stop_requested,
                _ => false,
            };
            if !wanted {
                continue;
            }
            let result = self.start_container(&row.id).map(|_| ());
            tried.push((row, result));
        }
        Ok(tried)
    }
}
