//! A misbehaving registry (tests/support/fault_registry.rs: a fake written
//! for these tests, since a real registry cannot be made to lie on cue):
//! bad bytes, wrong lengths, cut and endless bodies, oversized or ambiguous
//! manifests, hostile digests, a token realm and a redirect on another host,
//! transient 500s. Each ends in a clear error or a success, with nothing
//! unverified stored and `system check` clean.

mod support;

use berth_image::rawtar::{self, RawEntry};
use support::fault_registry::{Fault, FaultRegistry};
use support::{Store, TestImage, gzip};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

struct Served {
    layer: String,
    layer_size: usize,
}

/// Puts a one-layer image at `repo:tag`.
fn serve_image(reg: &FaultRegistry, repo: &str, tag: &str) -> Served {
    // Incompressible and big enough that a cut and a resume happen mid-stream.
    let mut x: u32 = 0x1234_5678;
    let payload: Vec<u8> = (0..300_000)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    let layer_tar = rawtar::archive(&[RawEntry::file("payload.bin", &payload)]);
    let layer = gzip(&layer_tar);
    let image = TestImage::new(vec![layer.clone()], "x");
    let config = image.config();
    let config_digest = reg.add_blob(repo, &config);
    let layer_digest = reg.add_blob(repo, &layer);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    }))
    .expect("json");
    reg.put_manifest(repo, tag, OCI_MANIFEST, &manifest);
    Served {
        layer: layer_digest,
        layer_size: layer.len(),
    }
}

/// Fast retries and a short deadline for documents, so faults fail quickly.
fn store() -> Store {
    let s = Store::new();
    std::fs::create_dir_all(s.root()).unwrap();
    std::fs::write(
        s.root().join("registries.toml"),
        "document_timeout_secs = 3\nattempts = 3\n",
    )
    .unwrap();
    s
}

/// Nothing recorded, nothing half-written, check clean.
fn assert_nothing_stored(s: &Store) {
    assert!(s.image_ids().is_empty(), "an image was recorded");
    s.assert_check_clean();
    let blobs = std::fs::read_dir(s.root().join("content/blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(blobs, 0, "unverified blobs stored");
}

fn pull_fails(s: &Store, reg: &FaultRegistry, repo_tag: &str) -> String {
    s.fails(&["pull", &format!("{}/{repo_tag}", reg.host())])
}

#[test]
fn blob_bytes_that_do_not_match_the_digest() {
    let reg = FaultRegistry::start();
    let served = serve_image(&reg, "app", "1");
    reg.fault_blob(&served.layer, Fault::WrongBytes);
    let s = store();
    let err = pull_fails(&s, &reg, "app:1");
    assert!(
        err.contains("digest mismatch")
            || err.contains("diff ID mismatch")
            || err.contains("invalid"),
        "{err}"
    );
    assert!(err.contains(&served.layer), "{err}");
    assert_nothing_stored(&s);
    // The bad bytes are not kept for a resume.
    let partials = std::fs::read_dir(s.root().join("content/ingest"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(partials, 0);
}

#[test]
fn blob_shorter_or_longer_than_its_descriptor() {
    for fault in [Fault::Truncated(1000), Fault::TooLong(100), Fault::Flood] {
        let reg = FaultRegistry::start();
        let served = serve_image(&reg, "app", "1");
        reg.fault_blob(&served.layer, fault.clone());
        let s = store();
        let err = pull_fails(&s, &reg, "app:1");
        assert!(
            err.contains("descriptor") || err.contains("announces") || err.contains("bytes"),
            "{fault:?}: {err}"
        );
        assert_nothing_stored(&s);
    }
}

#[test]
fn a_cut_connection_resumes_with_range() {
    let reg = FaultRegistry::start();
    let served = serve_image(&reg, "app", "1");
    reg.fault_blob(&served.layer, Fault::CutAfter(served.layer_size / 3));
    let s = store();
    s.ok(&["pull", &format!("{}/app:1", reg.host())]);
    let ranged: Vec<String> = reg
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&served.layer))
        .filter_map(|r| r.header("range").map(str::to_string))
        .collect();
    assert_eq!(ranged.len(), 1, "one resume: {ranged:?}");
    let start: usize = ranged[0]
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .expect("range start");
    assert!(
        start > 0 && start <= served.layer_size / 3,
        "resumed from {start}"
    );
    s.assert_check_clean();
    s.assert_no_leftovers();
}

#[test]
fn transient_500s_are_retried_and_persistent_ones_reported() {
    let reg = FaultRegistry::start();
    let served = serve_image(&reg, "app", "1");
    reg.fault_blob(&served.layer, Fault::Status(500, 2));
    let s = store();
    s.ok(&["pull", &format!("{}/app:1", reg.host())]);
    assert_eq!(reg.count("GET", &served.layer), 3, "two 500s then success");

    let reg = FaultRegistry::start();
    serve_image(&reg, "app", "1");
    reg.fault_manifest("1", Fault::Status(503, 100));
    let s = store();
    let err = pull_fails(&s, &reg, "app:1");
    assert!(err.contains("503"), "{err}");
    assert_eq!(reg.count("GET", "/manifests/1"), 3, "attempts = 3");
    assert_nothing_stored(&s);
}

#[test]
fn oversized_endless_and_ambiguous_manifests() {
    // Over the 4 MiB cap.
    let reg = FaultRegistry::start();
    let huge = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "x", "digest": format!("sha256:{}", "0".repeat(64)), "size": 1},
        "layers": [], "annotations": {"pad": "x".repeat(5 << 20)},
    }))
    .unwrap();
    reg.put_manifest("app", "big", OCI_MANIFEST, &huge);
    let s = store();
    let err = pull_fails(&s, &reg, "app:big");
    assert!(err.contains("larger than the limit"), "{err}");
    assert_nothing_stored(&s);

    // A body that trickles forever meets the document deadline.
    serve_image(&reg, "app", "slow");
    reg.fault_manifest("slow", Fault::Endless);
    let err = pull_fails(&s, &reg, "app:slow");
    assert!(err.contains("did not arrive within"), "{err}");

    // Index and manifest in one document.
    let both = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [],
        "config": {"mediaType": "x", "digest": format!("sha256:{}", "0".repeat(64)), "size": 1},
        "layers": [],
    }))
    .unwrap();
    reg.put_manifest("app", "both", OCI_MANIFEST, &both);
    let err = pull_fails(&s, &reg, "app:both");
    assert!(err.contains("ambiguous"), "{err}");

    // A descriptor whose digest is a path.
    let hostile = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:../../x", "size": 2},
        "layers": [],
    }))
    .unwrap();
    reg.put_manifest("app", "hostile", OCI_MANIFEST, &hostile);
    let err = pull_fails(&s, &reg, "app:hostile");
    assert!(err.contains("sha256:../../x"), "{err}");
    assert_nothing_stored(&s);
}

/// Stores Basic credentials for `host` in the store's Docker config.
fn remember_credentials(s: &Store, host: &str) {
    let path = s.docker_config();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // base64("alice:secret")
    let doc = serde_json::json!({"auths": {host: {"auth": "YWxpY2U6c2VjcmV0"}}});
    std::fs::write(path, serde_json::to_vec(&doc).unwrap()).unwrap();
}

#[test]
fn a_redirect_to_another_host_carries_no_credentials() {
    let reg = FaultRegistry::start();
    let other = FaultRegistry::start();
    let served = serve_image(&reg, "app", "1");
    serve_image(&other, "app", "1");
    // The registry wants Basic credentials; its blob lives "elsewhere".
    reg.fault_ping(Fault::Unauthorized("Basic realm=\"test\"".into()));
    reg.fault_blob(&served.layer, Fault::RedirectTo(other.localhost_url()));
    let s = store();
    remember_credentials(&s, &reg.host());
    s.ok(&["pull", &format!("{}/app:1", reg.host())]);
    let to_origin = reg.requests();
    assert!(
        to_origin.iter().any(|r| r.path.contains("/manifests/")
            && r.header("authorization")
                .is_some_and(|a| a.starts_with("Basic "))),
        "credentials were sent to the registry itself: {to_origin:?}"
    );
    let elsewhere = other.requests();
    assert!(
        elsewhere.iter().any(|r| r.path.ends_with(&served.layer)),
        "{elsewhere:?}"
    );
    assert!(
        elsewhere
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "credentials leaked to another host: {elsewhere:?}"
    );
    s.assert_check_clean();
}

#[test]
fn a_token_realm_on_another_plain_http_host_gets_no_credentials() {
    let reg = FaultRegistry::start();
    let realm_host = FaultRegistry::start();
    serve_image(&reg, "app", "1");
    reg.fault_ping(Fault::Unauthorized(format!(
        "Bearer realm=\"{}/token\",service=\"evil\"",
        realm_host.localhost_url()
    )));
    reg.fault_manifest(
        "1",
        Fault::Unauthorized(format!(
            "Bearer realm=\"{}/token\",service=\"evil\"",
            realm_host.localhost_url()
        )),
    );
    let s = store();
    remember_credentials(&s, &reg.host());
    let err = pull_fails(&s, &reg, "app:1");
    assert!(err.contains("token"), "{err}");
    let asked = realm_host.requests();
    assert!(
        asked.iter().any(|r| r.path == "/token"),
        "the realm was asked: {asked:?}"
    );
    assert!(
        asked.iter().all(|r| r.header("authorization").is_none()),
        "password sent to another host: {asked:?}"
    );
    assert_nothing_stored(&s);
}

/// A pull killed (-9) once the registry has sent `stall_at` bytes of the
/// layer and stalls: the store, the image name, what is served, stall_at.
fn killed_mid_pull(reg: &FaultRegistry) -> (Store, String, Served, usize) {
    let served = serve_image(reg, "app", "1");
    let stall_at = 100_000;
    reg.fault_blob(&served.layer, Fault::StallAfter(stall_at));
    let s = store();
    let name = format!("{}/app:1", reg.host());
    let mut child = s
        .command(&["pull", &name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn berth pull");
    // Wait until the partial download holds what the registry sent.
    let ingest = s.root().join("content/ingest");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let written: u64 = std::fs::read_dir(&ingest)
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        if written >= stall_at as u64 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pull never wrote {stall_at} bytes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    (s, name, served, stall_at)
}

/// What a killed pull leaves is visible and collectable: `system df` shows
/// it as build cache, `system check` says it is kept, a declined `system
/// prune` keeps it and `system prune -f` removes it (issue 14).
#[test]
fn partial_downloads_show_in_df_and_check_and_prune_collects_them() {
    let reg = FaultRegistry::start();
    let (s, _, _, stall_at) = killed_mid_pull(&reg);
    let ingest = s.root().join("content/ingest");
    let count = || std::fs::read_dir(&ingest).map(|d| d.count()).unwrap_or(0);
    assert_eq!(count(), 1, "the killed pull's partial download");

    let df = s.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Reclaimable}}",
    ]);
    let cache = df
        .lines()
        .find(|l| l.starts_with("Build Cache|"))
        .unwrap_or_else(|| panic!("{df}"));
    let fields: Vec<&str> = cache.split('|').collect();
    assert_eq!(&fields[1..3], ["1", "0"], "{df}");
    assert_ne!(fields[3], "0B", "reclaimable: {df}");

    let check = s.ok(&["system", "check"]);
    assert!(
        check.contains("kept for resuming pulls: 1 partial download(s)")
            && check.contains("no problems"),
        "{check}"
    );

    let declined = s.run_stdin(&["system", "prune"], b"n\n");
    assert!(declined.status.success());
    let asked = String::from_utf8_lossy(&declined.stdout);
    assert!(
        asked.starts_with("WARNING! This will remove:\n  - all stopped containers\n")
            && asked.ends_with("Are you sure you want to continue? [y/N] "),
        "{asked}"
    );
    assert_eq!(count(), 1, "n keeps everything");

    let pruned = s.ok(&["system", "prune", "-f"]);
    assert_eq!(count(), 0, "{pruned}");
    assert!(
        pruned.starts_with("Total reclaimed space: ") && !pruned.contains(" 0B"),
        "{pruned} (at least {stall_at} bytes)"
    );
    s.assert_check_clean();
    s.assert_no_leftovers();
}

#[test]
fn kill_9_mid_pull_then_pull_again_resumes() {
    let reg = FaultRegistry::start();
    let (s, name, served, stall_at) = killed_mid_pull(&reg);

    // The truth afterwards: no image, a clean check (the partial download is
    // kept for a resume, not an orphan).
    assert!(s.image_ids().is_empty());
    s.assert_check_clean();

    s.ok(&["pull", &name]);
    let ranges: Vec<String> = reg
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&served.layer))
        .map(|r| r.header("range").unwrap_or("-").to_string())
        .collect();
    assert_eq!(
        ranges,
        vec!["-".to_string(), format!("bytes={stall_at}-")],
        "resumed where the kill left it"
    );
    s.assert_check_clean();
    s.assert_no_leftovers();
}
