//! Embeds `migrations/NNNN_name.sql` from the workspace root into the daemon.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let dir = manifest.join("../migrations").canonicalize()?;
    println!("cargo:rerun-if-changed={}", dir.display());

    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.extension().is_some_and(|e| e == "sql") {
            files.push(path);
        }
    }
    files.sort();

    let mut out = String::from("pub static MIGRATIONS: &[Migration] = &[\n");
    for (index, path) in files.iter().enumerate() {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: file name is not UTF-8", path.display()))?;
        let (number, name) = stem
            .split_once('_')
            .ok_or_else(|| format!("{}: name must be NNNN_name.sql", path.display()))?;
        let version: u32 = number
            .parse()
            .map_err(|_| format!("{}: name must start with a number", path.display()))?;
        if version as usize != index + 1 {
            return Err(format!(
                "{}: migrations must be numbered 1, 2, 3… without gaps (expected {})",
                path.display(),
                index + 1
            )
            .into());
        }
        writeln!(
            out,
            "    Migration {{ version: {version}, name: {name:?}, sql: include_str!({:?}) }},",
            path.display().to_string()
        )?;
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR")?).join("migrations.rs");
    std::fs::write(dest, out)?;
    Ok(())
}
