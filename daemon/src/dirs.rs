//! Directories the daemon writes in, checked before it does: its own, and
//! writable by nobody else.

use std::path::Path;

/// A directory the daemon keeps its files in must be its own and not
/// writable by others: otherwise another user could plant links or files
/// that the root daemon then writes through.
pub fn check_own(what: &str, dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(dir).map_err(|e| {
        format!(
            "cannot inspect the {what} {}: {}",
            dir.display(),
            bangui_proto::errors::io_text(&e)
        )
    })?;
    let me = nix::unistd::geteuid().as_raw();
    let mode = meta.permissions().mode() & 0o7777;
    let problem = if meta.file_type().is_symlink() {
        Some("is a symbolic link; give the real path".to_string())
    } else if !meta.is_dir() {
        Some("is not a directory".to_string())
    } else if meta.uid() != me {
        Some(format!(
            "belongs to uid {}, not to bangui's user (uid {me}): `chown {me} {}`, or choose another",
            meta.uid(),
            dir.display()
        ))
    } else if mode & 0o022 != 0 {
        Some(format!(
            "is writable by others (mode {mode:o}): `chmod go-w {}`",
            dir.display()
        ))
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!("the {what} {} {p}", dir.display())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn others_writable_links_and_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("state");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(check_own("state directory", &d).is_ok());
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            check_own("state directory", &d)
                .unwrap_err()
                .contains("chmod go-w")
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        assert!(
            check_own("state directory", &link)
                .unwrap_err()
                .contains("symbolic link")
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(
            check_own("state directory", &file)
                .unwrap_err()
                .contains("not a directory")
        );
    }
}
