//! Content store behaviour on a real directory.

use std::io::Write;

use super::*;

fn store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ContentStore::open(&dir.path().join("content")).expect("open store");
    (dir, store)
}

#[test]
fn nothing_is_visible_before_commit() {
    let (_d, store) = store();
    let me = ProcessToken::current();
    let mut ingest = store.ingest(&me).expect("ingest");
    ingest.write_all(b"hello").expect("write");
    let ingested = ingest.finish().expect("finish");
    let digest = ingested.digest().clone();
    assert!(!store.contains(&digest), "not visible before commit");
    assert!(ingested.path().is_file());
    ingested.commit(Some(&digest)).expect("commit");
    assert!(store.contains(&digest));
    assert_eq!(store.read_blob(&digest).expect("read"), b"hello");
    assert_eq!(
        fs::read_dir(store.ingest_dir()).expect("ls").count(),
        0,
        "no temp file left"
    );
}

#[test]
fn wrong_expected_digest_is_refused_and_cleaned_up() {
    let (_d, store) = store();
    let me = ProcessToken::current();
    let mut ingest = store.ingest(&me).expect("ingest");
    ingest.write_all(b"hello").expect("write");
    let wrong = Digest::of(b"other");
    let err = ingest
        .finish()
        .expect("finish")
        .commit(Some(&wrong))
        .expect_err("mismatch");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(!store.contains(&wrong));
    assert!(!store.contains(&Digest::of(b"hello")));
    assert_eq!(fs::read_dir(store.ingest_dir()).expect("ls").count(), 0);
}

#[test]
fn dropped_ingest_leaves_nothing() {
    let (_d, store) = store();
    let mut ingest = store.ingest(&ProcessToken::current()).expect("ingest");
    ingest.write_all(b"partial").expect("write");
    drop(ingest);
    assert_eq!(fs::read_dir(store.ingest_dir()).expect("ls").count(), 0);
}

#[test]
fn verify_detects_corruption_and_reader_fails_at_eof() {
    let (_d, store) = store();
    let digest = store
        .write_blob(&ProcessToken::current(), b"intact")
        .expect("write");
    assert_eq!(store.verify(&digest).expect("verify"), None);
    fs::write(store.blob_path(&digest), b"tampered").expect("tamper");
    assert_eq!(
        store.verify(&digest).expect("verify"),
        Some(Digest::of(b"tampered"))
    );
    assert!(store.read_blob(&digest).is_err());
    let mut out = Vec::new();
    let err = store
        .verified_reader(&digest)
        .expect("open")
        .read_to_end(&mut out)
        .expect_err("corrupt");
    assert!(err.to_string().contains("corrupted"), "{err}");
}

#[test]
fn abandoned_ingests_are_those_of_dead_writers() {
    let (_d, store) = store();
    let me = ProcessToken::current();
    let live = store.ingest(&me).expect("ingest");
    let dead = ProcessToken {
        pid: me.pid,
        start_time: me.start_time + 7,
    };
    let dead_path = store.ingest_dir().join(format!("{}-0", dead.file_tag()));
    fs::write(&dead_path, b"left by a crash").expect("write");
    fs::write(store.ingest_dir().join("garbage"), b"?").expect("write");
    let mut abandoned = store.abandoned_ingests().expect("scan");
    abandoned.sort();
    assert_eq!(abandoned.len(), 2, "{abandoned:?}");
    assert!(abandoned.contains(&dead_path));
    assert!(!abandoned.iter().any(|p| p == live.path()));
}

#[test]
fn list_separates_strays() {
    let (_d, store) = store();
    let d = store
        .write_blob(&ProcessToken::current(), b"x")
        .expect("write");
    fs::write(store.blobs_dir().join("not-a-digest"), b"").expect("write");
    let (digests, strays) = store.list().expect("list");
    assert_eq!(digests, vec![d]);
    assert_eq!(strays.len(), 1);
}
