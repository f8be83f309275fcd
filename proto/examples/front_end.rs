//! How a front end authenticates through the daemon: log in with the master
//! password, validate the token on each page served, log out.
//!
//! ```sh
//! echo "$PASSWORD" | cargo run -p bangui-proto --example front_end [-- SOCKET]
//! ```

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use bangui_proto::messages::{Login, Logout, ValidateSession};
use bangui_proto::{Client, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| bangui_proto::paths::defaults().socket);
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();

    let mut daemon =
        Client::connect(&socket, "front-end example", Some(Duration::from_secs(10))).await?;

    // Once, when the operator signs in. Keep the token in the front end's own session store.
    let token = match daemon
        .call(Request::Login(Login {
            password,
            label: "front-end example".into(),
        }))
        .await?
    {
        Response::SessionCreated(created) => {
            println!(
                "logged in: session {} until {} (unix seconds)",
                created.session.id, created.session.expires_at
            );
            created.token
        }
        other => return Err(format!("unexpected answer: {}", other.name()).into()),
    };

    // With every page served: is the token still good, and whose is it?
    match daemon
        .call(Request::ValidateSession(ValidateSession {
            token: token.clone(),
        }))
        .await?
    {
        Response::Session(session) => println!("valid: {} ({})", session.id, session.label),
        other => return Err(format!("unexpected answer: {}", other.name()).into()),
    }

    // When the operator signs out; the token is refused from now on.
    daemon
        .call(Request::Logout(Logout {
            token: token.clone(),
        }))
        .await?;
    let refused = daemon
        .call(Request::ValidateSession(ValidateSession { token }))
        .await;
    println!(
        "after logout: {}",
        match refused {
            Ok(_) => "still valid (unexpected)".to_string(),
            Err(e) => e.to_string(),
        }
    );
    Ok(())
}
