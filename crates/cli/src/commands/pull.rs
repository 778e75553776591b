//! `pull` and `push`.

use anyhow::{Result, bail};
use berth_engine::Engine;
use berth_engine::images::PullOptions;
use berth_engine::progress::Silent;
use berth_image::Reference;
use berth_image::platform::Platform;

use super::progress::{PushLines, Stream, pull_progress};
use crate::cli::{PullArgs, PushArgs};

pub fn pull(engine: &Engine, args: PullArgs) -> Result<u8> {
    let reference = Reference::parse_normalized(&args.name)
        .map_err(|e| anyhow::anyhow!("invalid reference format: {:?}: {e}", args.name))?;
    let reference = if args.all_tags {
        reference
    } else {
        if reference.tag().is_none() && reference.digest().is_none() && !args.quiet {
            crate::output::print("Using default tag: latest\n")?;
        }
        reference.with_default_tag()
    };
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = PullOptions {
        platform,
        all_tags: args.all_tags,
        credentials: None,
    };
    let reports = if args.quiet {
        engine.pull(&reference, &options, &Silent)?
    } else {
        engine.pull(&reference, &options, pull_progress(Stream::Stdout).as_ref())?
    };
    if args.all_tags {
        crate::output::print(&format!("{}\n", reference.name()))?;
    } else {
        for r in &reports {
            crate::output::print(&format!("{}\n", r.reference))?;
        }
    }
    Ok(0)
}

/// The implicit pull of `run`/`create`, with its progress on stderr as Docker does.
pub fn pull_for_run(
    engine: &Engine,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
) -> Result<()> {
    let reference = Reference::parse_normalized(image)
        .map_err(|e| anyhow::anyhow!("invalid reference format: {image:?}: {e}"))?
        .with_default_tag();
    let platform = platform
        .map(Platform::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = PullOptions {
        platform,
        all_tags: false,
        credentials: None,
    };
    if quiet {
        engine.pull(&reference, &options, &Silent)?;
    } else {
        engine.pull(&reference, &options, pull_progress(Stream::Stderr).as_ref())?;
    }
    Ok(())
}

pub fn push(engine: &Engine, args: PushArgs) -> Result<u8> {
    let reference = Reference::parse_normalized(&args.name)
        .map_err(|e| anyhow::anyhow!("invalid reference format: {:?}: {e}", args.name))?;
    if reference.digest().is_some() {
        bail!("push: cannot push a digest reference: {}", args.name);
    }
    if !args.all_tags && reference.tag().is_none() && !args.quiet {
        crate::output::print("Using default tag: latest\n")?;
    }
    let options = berth_engine::images::PushOptions {
        all_tags: args.all_tags,
        credentials: None,
    };
    let reports = if args.quiet {
        engine.push(&reference, &options, &Silent)?
    } else {
        engine.push(
            &reference,
            &options,
            &PushLines {
                stream: Stream::Stdout,
            },
        )?
    };
    if args.quiet {
        if args.all_tags {
            // docker names the repository once.
            crate::output::print(&format!("{}\n", reference.familiar_string()))?;
        } else {
            for r in &reports {
                crate::output::print(&format!("{}\n", r.reference))?;
            }
        }
    }
    Ok(0)
}
