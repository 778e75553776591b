//! Arguments of the registry commands: pull, push, login, logout, search.

use clap::Args;

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Image to pull: NAME[:TAG|@DIGEST]
    pub name: String,
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Skip image verification (accepted for compatibility; berth always verifies digests)
    #[arg(long = "disable-content-trust", hide = true, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_content_trust: Option<String>,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Image to push: NAME[:TAG]
    pub name: String,
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long = "disable-content-trust", hide = true, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_content_trust: Option<String>,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Registry host (default: Docker Hub)
    pub server: Option<String>,
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password or token (prefer --password-stdin: arguments are visible to other users)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Registry host (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Search term
    pub term: String,
    #[arg(long, allow_hyphen_values = true)]
    pub limit: Option<i64>,
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    #[arg(long)]
    pub format: Option<String>,
}
