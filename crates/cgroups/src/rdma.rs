//! RDMA limits: one `rdma.max` line per device, as both hierarchies take
//! them (`mlx4_0 hca_handle=2 hca_object=2000`).

use std::collections::HashMap;

use oci_spec::runtime::LinuxRdma;

pub fn max_lines(rdma: &HashMap<String, LinuxRdma>) -> Vec<String> {
    let mut devices: Vec<(&String, &LinuxRdma)> = rdma.iter().collect();
    devices.sort_by_key(|(name, _)| name.as_str());
    devices
        .into_iter()
        .filter_map(|(name, limit)| {
            let mut line = name.clone();
            if let Some(h) = limit.hca_handles() {
                line.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = limit.hca_objects() {
                line.push_str(&format!(" hca_object={o}"));
            }
            (line.len() > name.len()).then_some(line)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_per_device_with_its_limits() {
        let rdma: std::collections::HashMap<String, oci_spec::runtime::LinuxRdma> =
            serde_json::from_str(r#"{"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}, "b": {"hcaObjects": 5}, "c": {}}"#)
                .unwrap();
        assert_eq!(
            super::max_lines(&rdma),
            ["b hca_object=5", "mlx4_0 hca_handle=2 hca_object=2000"]
        );
    }
}
