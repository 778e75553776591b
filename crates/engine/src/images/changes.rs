//! `--change` instructions (`import -c`, later `commit -c`): the Dockerfile
//! instructions that only edit an image's run config.

use std::collections::BTreeMap;

use berth_image::spec::RunConfig;

use crate::error::{Error, Result};

const ALLOWED: &str =
    "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR";

/// Applies each change in order.
pub fn apply(config: &mut RunConfig, changes: &[String]) -> Result<()> {
    for change in changes {
        apply_one(config, change)
            .map_err(|m| Error::invalid(format!("invalid change {change:?}: {m}")))?;
    }
    Ok(())
}

fn apply_one(config: &mut RunConfig, change: &str) -> Result<(), String> {
    let change = change.trim();
    let (word, rest) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let rest = rest.trim();
    let instruction = word.to_ascii_uppercase();
    if rest.is_empty() && instruction != "CMD" && instruction != "ENTRYPOINT" {
        return Err(format!("{instruction} needs an argument"));
    }
    match instruction.as_str() {
        "CMD" => config.cmd = Some(command(rest, config)),
        "ENTRYPOINT" => config.entrypoint = Some(command(rest, config)),
        "SHELL" => {
            config.shell = Some(
                json_array(rest).ok_or("SHELL needs a JSON array, e.g. [\"/bin/sh\", \"-c\"]")?,
            )
        }
        "ENV" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs(rest, true)? {
                let prefix = format!("{k}=");
                env.retain(|e| !e.starts_with(&prefix));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs(rest, false)? {
                labels.insert(k, v);
            }
        }
        "WORKDIR" => {
            let dir = unquote(rest);
            config.working_dir = Some(if dir.starts_with('/') {
                dir
            } else {
                let base = config.working_dir.clone().unwrap_or_else(|| "/".into());
                format!("{}/{dir}", base.trim_end_matches('/'))
            });
        }
        "USER" => config.user = Some(unquote(rest)),
        "STOPSIGNAL" => config.stop_signal = Some(unquote(rest)),
        "ONBUILD" => config
            .on_build
            .get_or_insert_with(Vec::new)
            .push(rest.to_string()),
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in words(rest)? {
                let (port, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                if port.is_empty() || !port.split('-').all(|n| n.parse::<u16>().is_ok()) {
                    return Err(format!("invalid port {p:?}"));
                }
                if !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(format!("invalid protocol {proto:?} in {p:?}"));
                }
                ports.insert(format!("{port}/{proto}"), serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let vols = config.volumes.get_or_insert_with(BTreeMap::new);
            let list = json_array(rest).map_or_else(|| words(rest), Ok)?;
            for v in list {
                vols.insert(v, serde_json::json!({}));
            }
        }
        other => {
            return Err(format!(
                "{other} is not a valid change command (allowed: {ALLOWED})"
            ));
        }
    }
    Ok(())
}

/// Exec form (`["a","b"]`) or shell form (`a b` -> `[shell..., "a b"]`).
fn command(rest: &str, config: &RunConfig) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    if let Some(list) = json_array(rest) {
        return list;
    }
    let mut shell = config
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    shell.push(rest.to_string());
    shell
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str(s).ok()
}

/// `k=v k2="v 2"`, or the legacy `k v w` (one pair, value is the rest) when
/// `legacy` and the first word has no `=`.
fn pairs(rest: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    if legacy && !first.contains('=') {
        let value = rest[first.len()..].trim();
        return Ok(vec![(first.to_string(), value.to_string())]);
    }
    words(rest)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

/// Splits on whitespace, honouring double and single quotes and backslash escapes.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn unquote(s: &str) -> String {
    words(s)
        .ok()
        .filter(|w| w.len() == 1)
        .map(|mut w| w.remove(0))
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> RunConfig {
        let mut c = RunConfig::default();
        apply(
            &mut c,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .expect("valid changes");
        c
    }

    #[test]
    fn applies_docker_instructions() {
        let c = applied(&[
            r#"CMD ["sh"]"#,
            "ENTRYPOINT echo hi",
            "ENV A=1 B=\"two words\"",
            "ENV C three words",
            "ENV A=replaced",
            "WORKDIR /app",
            "WORKDIR sub",
            "USER nobody",
            "EXPOSE 80 53/udp",
            "LABEL k=v other=\"x y\"",
            "VOLUME [\"/data\"]",
            "STOPSIGNAL SIGINT",
        ]);
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(
            c.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(
            c.env,
            Some(vec![
                "B=two words".to_string(),
                "C=three words".to_string(),
                "A=replaced".to_string()
            ])
        );
        assert_eq!(c.working_dir.as_deref(), Some("/app/sub"));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        let ports: Vec<_> = c
            .exposed_ports
            .as_ref()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(ports, vec!["53/udp".to_string(), "80/tcp".to_string()]);
        assert_eq!(
            c.labels
                .as_ref()
                .and_then(|l| l.get("other"))
                .map(String::as_str),
            Some("x y")
        );
        assert!(c.volumes.as_ref().is_some_and(|v| v.contains_key("/data")));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    }

    #[test]
    fn refuses_what_is_not_a_change() {
        let mut c = RunConfig::default();
        for bad in [
            "FROM busybox",
            "RUN echo",
            "EXPOSE http",
            "ENV =x",
            "LABEL \"open",
            "SHELL sh -c",
        ] {
            let err = apply(&mut c, &[bad.to_string()])
                .expect_err(bad)
                .to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
