use bangui_proto::messages::{Applies, SetSetting, SettingChanged, UnsetSetting, ValueSource};
use bangui_proto::{Request, Response};

use crate::cli::ConfigCommand;
use crate::connect::{Daemon, unexpected};
use crate::exit::{Failure, NOT_FOUND};
use crate::output;

pub async fn run(daemon: &mut Daemon, command: ConfigCommand, json: bool) -> Result<(), Failure> {
    match command {
        ConfigCommand::Show { prefix } => show(daemon, prefix, json).await,
        ConfigCommand::Set { key, value } => {
            let answer = daemon
                .call(Request::ConfigSet(SetSetting { key, value }))
                .await?;
            changed(answer, json)
        }
        ConfigCommand::Unset { key } => {
            let answer = daemon
                .call(Request::ConfigUnset(UnsetSetting { key }))
                .await?;
            changed(answer, json)
        }
    }
}

async fn show(daemon: &mut Daemon, prefix: Option<String>, json: bool) -> Result<(), Failure> {
    let answer = daemon.call(Request::ConfigShow).await?;
    let Response::Config(mut view) = answer else {
        return Err(unexpected("config", &answer));
    };
    if let Some(prefix) = &prefix {
        view.entries.retain(|e| e.key.starts_with(prefix.as_str()));
        if view.entries.is_empty() {
            return Err(Failure::new(
                NOT_FOUND,
                format!("no setting starts with `{prefix}`"),
            ));
        }
    }
    if json {
        return output::json(&view);
    }
    match &view.config_file {
        Some(file) => println!("config file: {file}"),
        None => println!("config file: none (built-in defaults)"),
    }
    let mut table = output::table(&["KEY", "VALUE", "SOURCE", "NOTE"]);
    for e in &view.entries {
        let note = match (&e.next_start, e.settable) {
            (Some(next), _) => format!("next start: {} ({})", next.value, next.source.as_str()),
            (None, false) => "fixed: set in the file or with a flag".to_string(),
            (None, true) => String::new(),
        };
        table.add_row(vec![
            e.key.clone(),
            e.value.clone(),
            e.source.as_str().to_string(),
            note,
        ]);
    }
    println!("{table}");
    if view.file_sources > 0 && prefix.is_none() {
        println!(
            "\n{} blocklist source(s) from the file: `bangui-ctl blocklist list`",
            view.file_sources
        );
    }
    for i in &view.ignored {
        println!(
            "\nignored at start: persisted {} = {}: {} (`bangui-ctl config unset {}`)",
            i.key, i.value, i.reason, i.key
        );
    }
    Ok(())
}

fn changed(answer: Response, json: bool) -> Result<(), Failure> {
    let Response::SettingChanged(c) = answer else {
        return Err(unexpected("setting_changed", &answer));
    };
    if json {
        return output::json(&c);
    }
    let SettingChanged {
        key,
        persisted,
        value,
        source,
        applies,
    } = c;
    match persisted {
        Some(p) => println!("{key} = {p} (persisted)"),
        None => println!(
            "{key}: persisted value removed; now {value} ({})",
            source.as_str()
        ),
    }
    match applies {
        Applies::Now => println!("applies now"),
        Applies::NextStart => println!("applies at the next start of the daemon"),
        Applies::Shadowed(by) => println!(
            "persisted, but the value the daemon was given by {} wins while it is given",
            match by {
                ValueSource::Environment => "a BANGUI_* environment variable",
                _ => "a command-line flag",
            }
        ),
    }
    Ok(())
}
