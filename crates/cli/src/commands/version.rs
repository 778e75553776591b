//! `version`: docker's Client and Server blocks. Daemonless, the server is
//! the engine inside this process, so both are this binary; the Server
//! block is the one `berth daemon` answers `GET /version` with.

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::VersionArgs;
use crate::format::Template;

pub fn run(a: &VersionArgs) -> Result<u8> {
    let version = env!("CARGO_PKG_VERSION");
    let server = berth_api::server_version(version);
    let data = json!({
        "Client": {
            "Platform": {"Name": "berth"},
            "Version": version,
            "ApiVersion": server["ApiVersion"],
            "DefaultAPIVersion": server["ApiVersion"],
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": server["Arch"],
            "BuildTime": "",
            "Context": "default",
        },
        "Server": server,
    });
    let out = match a.format.as_deref() {
        Some("json") => format!("{data}\n"),
        Some(f) => {
            let t = Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))?;
            format!("{}\n", t.render(&data)?)
        }
        None => text(&data),
    };
    crate::output::print(&out)?;
    Ok(0)
}

/// docker's layout (`Client:` then `Server: berth`, aligned at column 20).
fn text(v: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let c = &v["Client"];
    let sv = &v["Server"];
    let engine = &sv["Components"][0]["Details"];
    let mut out = String::from("Client:\n");
    for (key, value) in [
        ("Version", s(&c["Version"])),
        ("API version", s(&c["ApiVersion"])),
        ("OS/Arch", format!("{}/{}", s(&c["Os"]), s(&c["Arch"]))),
        ("Context", s(&c["Context"])),
    ] {
        out.push_str(&format!("{:<20}{value}\n", format!(" {key}:")));
    }
    out.push('\n');
    out.push_str("Server: berth\n Engine:\n");
    for (key, value) in [
        ("Version", s(&sv["Version"])),
        (
            "API version",
            format!(
                "{} (minimum version {})",
                s(&sv["ApiVersion"]),
                s(&sv["MinAPIVersion"])
            ),
        ),
        ("OS/Arch", format!("{}/{}", s(&sv["Os"]), s(&sv["Arch"]))),
        ("Kernel", s(&engine["KernelVersion"])),
        ("Experimental", s(&engine["Experimental"])),
    ] {
        out.push_str(&format!("{:<20}{value}\n", format!("  {key}:")));
    }
    out
}
