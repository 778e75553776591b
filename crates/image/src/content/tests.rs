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

#[test]
fn partial_downloads_survive_resume_and_never_keep_bad_bytes() {
    let (_d, store) = store();
    let data = b"the whole blob, in two parts";
    let digest = Digest::of(data);
    let mut first = store
        .resumable_ingest(&digest, false)
        .expect("open")
        .expect("free");
    first.append(&data[..10]).expect("append");
    // While held, a second writer is refused (or would wait).
    assert!(
        store
            .resumable_ingest(&digest, false)
            .expect("open")
            .is_none()
    );
    drop(first);
    // Not an abandoned ingest: kept for the next attempt.
    assert!(store.abandoned_ingests().expect("list").is_empty());
    assert!(
        store
            .stale_partials(std::time::Duration::from_secs(3600))
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store
            .stale_partials(std::time::Duration::ZERO)
            .expect("list")
            .len(),
        1
    );

    let mut second = store
        .resumable_ingest(&digest, false)
        .expect("open")
        .expect("free");
    assert_eq!(second.existing_len(), 10);
    let mut replayed = Vec::new();
    std::io::Read::read_to_end(&mut second.replay().expect("replay"), &mut replayed).expect("read");
    assert_eq!(replayed, &data[..10]);
    second.append(&data[10..]).expect("append");
    let ingested = second
        .finish(digest.clone(), data.len() as u64)
        .expect("finish");
    ingested.commit(Some(&digest)).expect("commit");
    assert_eq!(store.read_blob(&digest).expect("read"), data);

    // A wrong digest deletes the file: it must never be resumed from.
    let other = Digest::of(b"something else");
    let mut bad = store
        .resumable_ingest(&other, false)
        .expect("open")
        .expect("free");
    bad.append(b"garbage").expect("append");
    assert!(bad.finish(Digest::of(b"garbage"), 7).is_err());
    assert_eq!(fs::read_dir(store.ingest_dir()).expect("ls").count(), 0);
}
