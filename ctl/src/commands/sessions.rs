use std::io::BufRead;

use bangui_proto::messages::{
    CreateSession, ListSessions, RevokeSession, SessionInfo, ShowSession, ValidateSession,
};
use bangui_proto::{Request, Response};

use crate::cli::{CreateArgs, SessionsCommand};
use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

pub async fn run(daemon: &mut Daemon, command: SessionsCommand, json: bool) -> Result<(), Failure> {
    match command {
        SessionsCommand::List { limit } => list(daemon, limit, json).await,
        SessionsCommand::Show { id } => {
            let answer = daemon
                .call(Request::ShowSession(ShowSession { id }))
                .await?;
            one(answer, json)
        }
        SessionsCommand::Create(args) => create(daemon, args, json).await,
        SessionsCommand::Validate => {
            let token = read_token()?;
            let answer = daemon
                .call(Request::ValidateSession(ValidateSession { token }))
                .await?;
            one(answer, json)
        }
        SessionsCommand::Revoke { id } => {
            let answer = daemon
                .call(Request::RevokeSession(RevokeSession { id }))
                .await?;
            let Response::SessionRevoked(session) = answer else {
                return Err(unexpected("session_revoked", &answer));
            };
            if json {
                return output::json(&session);
            }
            println!("revoked session {} ({})", session.id, session.label);
            Ok(())
        }
    }
}

async fn list(daemon: &mut Daemon, limit: u32, json: bool) -> Result<(), Failure> {
    let answer = daemon
        .call(Request::ListSessions(ListSessions { limit }))
        .await?;
    let Response::Sessions(sessions) = answer else {
        return Err(unexpected("sessions", &answer));
    };
    if json {
        return output::json(&sessions);
    }
    let now = output::now_unix();
    let mut table = output::table(&["ID", "LABEL", "CREATED", "LAST SEEN", "EXPIRES", "BY UID"]);
    for s in sessions {
        table.add_row(vec![
            s.id,
            s.label,
            output::timestamp(s.created_at),
            output::relative(s.last_seen_at, now),
            output::relative(s.expires_at, now),
            s.created_by_uid.to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}

async fn create(daemon: &mut Daemon, args: CreateArgs, json: bool) -> Result<(), Failure> {
    let ttl_secs = args.ttl.map(|d| d.as_secs());
    let answer = daemon
        .call(Request::CreateSession(CreateSession {
            label: args.label,
            ttl_secs,
        }))
        .await?;
    print_created(answer, json)
}

/// A new session's token on standard output (for scripts), the rest on stderr.
pub fn print_created(answer: Response, json: bool) -> Result<(), Failure> {
    let Response::SessionCreated(created) = answer else {
        return Err(unexpected("session_created", &answer));
    };
    if json {
        return output::json(&created);
    }
    println!("{}", created.token);
    eprintln!(
        "session {} created, expires {}. The token above is shown only this once.",
        created.session.id,
        output::when(created.session.expires_at)
    );
    Ok(())
}

fn one(answer: Response, json: bool) -> Result<(), Failure> {
    let Response::Session(session) = answer else {
        return Err(unexpected("session", &answer));
    };
    if json {
        return output::json(&session);
    }
    print_session(&session);
    Ok(())
}

fn print_session(s: &SessionInfo) {
    println!("session   {}", s.id);
    println!("label     {}", s.label);
    println!(
        "created   {} by uid {}",
        output::when(s.created_at),
        s.created_by_uid
    );
    println!("last seen {}", output::when(s.last_seen_at));
    println!("expires   {}", output::when(s.expires_at));
}

/// Tokens come on standard input, never as arguments, which other users can
/// read in the process list.
fn read_token() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read the token from standard input: {e}")))?;
    let token = line.trim().to_string();
    if token.is_empty() {
        return Err(Failure::usage("give the token on standard input"));
    }
    Ok(token)
}
