use std::io::{BufRead, IsTerminal};

use bangui_proto::messages::{Login, Logout, Setup};
use bangui_proto::{Request, Response};

use crate::cli::{SetupArgs, SetupCommand};
use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

/// Lines of standard input, without their line ends.
fn stdin_lines(n: usize) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for line in std::io::stdin().lock().lines().take(n) {
        let line = line.map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
        out.push(line.trim_end_matches('\r').to_string());
    }
    Ok(out)
}

fn ask(prompt: &str) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "no terminal to ask for the password on; use --password-stdin",
        ));
    }
    rpassword::prompt_password(prompt)
        .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))
}

pub async fn setup(daemon: &mut Daemon, args: SetupArgs, json: bool) -> Result<(), Failure> {
    if let Some(SetupCommand::Status) = args.command {
        let answer = daemon.call(Request::SetupStatus).await?;
        let Response::SetupState(state) = answer else {
            return Err(unexpected("setup_state", &answer));
        };
        if json {
            return output::json(&state);
        }
        match state.completed_at {
            Some(at) => println!("setup complete since {}", output::when(at)),
            None => println!("setup not complete: run `bangui-ctl setup`"),
        }
        return Ok(());
    }
    let (old_password, password) = if args.password_stdin {
        let mut lines = stdin_lines(2)?;
        match (args.force, lines.len()) {
            (true, 2) => {
                let new = lines.pop().unwrap_or_default();
                (lines.pop(), new)
            }
            (_, n) if n >= 1 => (None, lines.swap_remove(0)),
            _ => return Err(Failure::usage("no password on standard input")),
        }
    } else {
        let old = if args.force {
            Some(ask("Old master password (root may leave it empty): ")?).filter(|p| !p.is_empty())
        } else {
            None
        };
        let first = ask("New master password: ")?;
        let second = ask("Once more: ")?;
        if first != second {
            return Err(Failure::usage("the two passwords differ; nothing changed"));
        }
        (old, first)
    };
    let answer = daemon
        .call(Request::Setup(Setup {
            password,
            force: args.force,
            old_password,
        }))
        .await?;
    let Response::SetupState(state) = answer else {
        return Err(unexpected("setup_state", &answer));
    };
    if json {
        return output::json(&state);
    }
    println!("setup complete; front ends can log in with the master password");
    Ok(())
}

pub async fn login(
    daemon: &mut Daemon,
    password_stdin: bool,
    label: String,
    json: bool,
) -> Result<(), Failure> {
    let password = if password_stdin {
        stdin_lines(1)?
            .into_iter()
            .next()
            .ok_or_else(|| Failure::usage("no password on standard input"))?
    } else {
        ask("Master password: ")?
    };
    let answer = daemon
        .call(Request::Login(Login { password, label }))
        .await?;
    crate::commands::sessions::print_created(answer, json)
}

pub async fn logout(daemon: &mut Daemon, json: bool) -> Result<(), Failure> {
    let token = stdin_lines(1)?
        .into_iter()
        .next()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::usage("no token on standard input"))?;
    let answer = daemon.call(Request::Logout(Logout { token })).await?;
    let Response::SessionRevoked(session) = answer else {
        return Err(unexpected("session_revoked", &answer));
    };
    if json {
        return output::json(&session);
    }
    println!("logged out: session {} ended", session.id);
    Ok(())
}
