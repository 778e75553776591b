//! Telling a runc command line from a Docker one when the binary was not
//! invoked as `berth-runc`: test harnesses and some shims canonicalise the
//! runtime's path, so a `berth-runc` symlink arrives as `.../berth`.
//!
//! Only arguments that Docker's command line could never mean count: a
//! global flag only runc has, a verb only runc has, `--bundle` on
//! create/run, `--process` on exec, or a `--root` that holds runc state for
//! the ID named. Anything else stays the Docker CLI.

use super::cli::{self, Command};

/// Whether `args` (without argv[0]) are runc's.
pub fn is_runc_command_line(args: &[String]) -> bool {
    let Ok(parsed) = cli::parse(args.to_vec()) else {
        return false;
    };
    // The global flags before the verb.
    let globals: Vec<&str> = args
        .iter()
        .take_while(|a| a.starts_with('-'))
        .map(|a| flag_name(a))
        .collect();
    // (`--debug` is Docker's too.)
    if globals.iter().any(|f| {
        matches!(
            *f,
            "log" | "log-format" | "systemd-cgroup" | "criu" | "rootless"
        )
    }) {
        return true;
    }
    let has = |names: &[&str]| args.iter().any(|a| names.contains(&flag_name(a)));
    let state_in_root = |id: &str| {
        globals.contains(&"root")
            && !id.is_empty()
            && !id.contains('/')
            && parsed.root.join(id).join("state.json").is_file()
    };
    match &parsed.command {
        Command::State(_)
        | Command::Delete(_)
        | Command::Resume(_)
        | Command::Features
        | Command::List(_)
        | Command::Spec(_) => true,
        Command::Create(a) => has(&["bundle", "b"]) || state_in_root(&a.id),
        Command::Run(a) => has(&["bundle", "b"]) || state_in_root(&a.create.id),
        Command::Exec(a) => has(&["process", "p"]) || state_in_root(&a.id),
        Command::Start(a) | Command::Pause(a) => state_in_root(&a.id),
        Command::Kill(a) => state_in_root(&a.id),
        Command::Ps(a) => state_in_root(&a.id),
        Command::Update(a) => state_in_root(&a.id),
        Command::Events(a) => state_in_root(&a.id),
        Command::Help | Command::Version => false,
    }
}

/// `--name=value`, `--name` or `-n` → `name`; anything else → "".
fn flag_name(arg: &str) -> &str {
    let Some(f) = arg.strip_prefix('-') else {
        return "";
    };
    let f = f.strip_prefix('-').unwrap_or(f);
    f.split_once('=').map_or(f, |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::is_runc_command_line as runc;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn docker_command_lines_stay_docker() {
        for line in [
            "run --rm busybox true",
            "run -d -p 8080:80 nginx",
            "create busybox",
            "start c1",
            "--root /tmp kill c1",
            "ps -a -q",
            "exec -it c1 sh",
            "images",
            "pull busybox",
            "--root /var/lib/berth start -a c1",
            "--debug run busybox",
        ] {
            assert!(!runc(&args(line)), "{line}");
        }
    }

    #[test]
    fn runc_command_lines_are_runc() {
        for line in [
            "--root /run/x --log /l --log-format json create --bundle /b id",
            "--root /run/x state id",
            "--root /run/x delete --force id",
            "delete id",
            "spec",
            "features",
            "--root /r list",
            "create --bundle /b id",
            "run -b /b id",
            "--systemd-cgroup create --bundle /b id",
            "exec --process /p.json id",
        ] {
            assert!(runc(&args(line)), "{line}");
        }
    }

    #[test]
    fn a_root_with_runc_state_for_the_id_is_runc() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("c1")).unwrap();
        std::fs::write(root.path().join("c1/state.json"), "{}").unwrap();
        let r = root.path().display();
        assert!(runc(&args(&format!("--root {r} start c1"))));
        assert!(runc(&args(&format!("--root {r} kill c1 KILL"))));
        assert!(runc(&args(&format!("--root={r} pause c1"))));
        assert!(!runc(&args(&format!("--root {r} start c2"))));
        assert!(!runc(&args("start c1")));
    }
}
