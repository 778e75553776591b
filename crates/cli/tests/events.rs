//! `berth events`: Docker's lines, `--since`/`--until`, `--filter`,
//! `--format`, and following without polling until interrupted.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::container_store;

#[test]
fn events_as_docker_shows_them() {
    let Some(store) = container_store("events_as_docker_shows_them") else {
        return;
    };
    let (code, _, _) = store.outcome(&[
        "run", "--name", "ev1", "-l", "team=a", "busybox", "sh", "-c", "exit 3",
    ]);
    assert_eq!(code, 3);
    let id = store.ok(&["inspect", "-f", "{{.Id}}", "ev1"]);
    let id = id.trim();
    store.ok(&["rm", "ev1"]);
    store.ok(&["tag", "busybox", "ev:1"]);
    store.ok(&["rmi", "ev:1"]);
    store.ok(&["volume", "create", "evvol"]);
    store.ok(&["volume", "rm", "evvol"]);

    let past = store.ok(&["events", "--since", "10m", "--until", "0s"]);
    let lines: Vec<&str> = past.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{past}"))
            .to_string()
    };
    // TIME TYPE ACTION ID (attributes sorted, k=v)
    let create = find(" container create ");
    assert!(
        create.ends_with(&format!(
            "container create {id} (image=busybox, name=ev1, team=a)"
        )),
        "{create}"
    );
    let (stamp, _) = create.split_once(' ').unwrap();
    assert!(
        time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).is_ok(),
        "{stamp}"
    );
    assert!(find(" container die ").contains("exitCode=3"));
    find(&format!(" container destroy {id} "));
    assert!(find(" image tag ").contains("name=ev:1"));
    assert!(find(" image untag ").contains("name=ev:1"));
    assert!(find(" volume create evvol ").contains("driver=local"));
    find(" volume destroy evvol ");
    // In order: create before start before die before destroy.
    let pos = |a: &str| lines.iter().position(|l| l.contains(a)).unwrap();
    assert!(pos(" container create ") < pos(" container start "));
    assert!(pos(" container start ") < pos(" container die "));
    assert!(pos(" container die ") < pos(" container destroy "));

    let filtered = store.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "event=die",
        "--filter",
        "container=ev1",
        "--format",
        "{{.Actor.Attributes.name}} {{.Action}} {{.Actor.Attributes.exitCode}} {{.Type}}",
    ]);
    assert_eq!(filtered, "ev1 die 3 container\n");
    let json = store.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "type=volume",
        "--format",
        "{{json .}}",
    ]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["Type"], "volume");
    assert_eq!(first["Action"], "create");
    assert_eq!(first["Actor"]["ID"], "evvol");
    assert_eq!(first["scope"], "local");
    assert!(first["timeNano"].as_i64().unwrap() > 0);
    // Nothing since a moment ago.
    assert_eq!(store.ok(&["events", "--since", "0s", "--until", "0s"]), "");
    // A key dockerd does not know filters nothing away (as dockerd);
    // a filter without `=` is refused.
    let all = store.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        "0s",
        "--format",
        "{{.Action}}",
    ]);
    let with_bogus = store.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        "0s",
        "--filter",
        "bogus=1",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(all, with_bogus);
    assert!(!all.is_empty());
    let err = store.fails(&["events", "--until", "0s", "--filter", "bogus"]);
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn events_follow_what_happens_until_until() {
    let Some(store) = container_store("events_follow_what_happens_until_until") else {
        return;
    };
    let mut follower = store
        .command(&[
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(follower.stdout.take().unwrap());
    // Give the follower a moment to start watching.
    std::thread::sleep(Duration::from_millis(300));
    store.ok(&["run", "--rm", "--name", "live", "busybox", "true"]);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.iter().any(|l: &String| l.starts_with("destroy")) {
        assert!(Instant::now() < deadline, "followed: {seen:?}");
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push(line.trim().to_string());
    }
    assert_eq!(
        seen,
        ["create live", "start live", "die live", "destroy live"]
    );
    let _ = follower.kill();
    let _ = follower.wait();

    // With --until in the future, it returns then.
    let until = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let started = Instant::now();
    store.ok(&["events", "--until", &until]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "{took:?}"
    );
}
