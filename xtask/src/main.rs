//! `cargo xtask assets DIR`: writes the man pages (`DIR/man/bangui.8`,
//! `DIR/man/bangui-ctl.1`) and shell completions (`DIR/completions/`) that the
//! .deb and .rpm ship, generated from the binaries' own clap definitions so
//! they never drift from `--help`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [task, dir] if task == "assets" => assets(Path::new(dir)),
        _ => bail!("usage: cargo xtask assets DIR"),
    }
}

fn assets(dir: &Path) -> anyhow::Result<()> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let daemon = bangui_daemon::cli::Args::command();
    let ctl = bangui_ctl::cli::Cli::command();
    write_man(&daemon, "8", &man)?;
    write_man(&ctl, "1", &man)?;
    for mut command in [daemon, ctl] {
        let name = command.get_name().to_string();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command, &name, &mut out);
            let file = completions.join(match shell {
                Shell::Bash => name.clone(),
                Shell::Zsh => format!("_{name}"),
                _ => format!("{name}.fish"),
            });
            write(&file, &out)?;
        }
    }
    Ok(())
}

fn write_man(command: &clap::Command, section: &str, dir: &Path) -> anyhow::Result<()> {
    let name = command.get_name().to_string();
    let page = clap_mangen::Man::new(command.clone()).section(section);
    let mut out = Vec::new();
    page.render(&mut out)
        .with_context(|| format!("cannot render the man page of {name}"))?;
    write(&dir.join(format!("{name}.{section}")), &out)
}

fn write(path: &PathBuf, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
