//! `login` and `logout`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};
use berth_engine::{Credentials, Engine};

use crate::cli::{LoginArgs, LogoutArgs};

pub fn login(engine: &Engine, args: LoginArgs) -> Result<u8> {
    let server = args.server.as_deref().unwrap_or("docker.io");
    if args.password.is_some() && args.password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    let username = match args.username {
        Some(u) => u,
        None if std::io::stdin().is_terminal() && !args.password_stdin => {
            eprint!("Username: ");
            std::io::stderr().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim().to_string()
        }
        None => bail!("Must provide --username with --password-stdin"),
    };
    if username.is_empty() {
        bail!("Error: Non-null Username Required");
    }
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().lock().read_line(&mut text)?;
        text.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        bail!(
            "Error: a password is required: use --password-stdin (berth does not read passwords from a terminal prompt yet)"
        );
    };
    if password.is_empty() {
        bail!("Error: Non-null Password Required");
    }
    engine.login(
        server,
        Credentials {
            username,
            secret: password,
        },
    )?;
    crate::output::print("Login Succeeded\n")?;
    Ok(0)
}

pub fn logout(engine: &Engine, args: LogoutArgs) -> Result<u8> {
    let server = args.server.as_deref().unwrap_or("docker.io");
    // docker 28 says the same whether there were credentials or not.
    let (host, _removed) = engine.logout(server)?;
    let shown = if host == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        host
    };
    crate::output::print(&format!("Removing login credentials for {shown}\n"))?;
    Ok(0)
}
