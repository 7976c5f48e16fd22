//! Files and directories that hold secrets, made so that only the service's own user can
//! read them, whatever the process's umask.
//!
//! The data directory holds the SQLite database (password hashes, sealed signing keys and
//! TOTP seeds, hashed tokens, e-mail addresses), the generated master key and, with the
//! outbox mail transport, messages carrying sign-in codes and password-reset links. Under the
//! usual umask of 022 they were readable by every local user. Directories this module creates
//! are 0700 and files 0600; SQLite creates its `-wal` and `-shm` files with the database
//! file's own mode, so creating that file first covers them. Paths that already exist keep
//! their modes (an operator may have chosen them): `readable_by_others` lets start-up warn.

use std::{io, path::Path};

/// Creates `dir` and any missing parents, each 0700.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Options that create a file 0600.
fn open_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// Writes `bytes` to a new file at `path`, 0600; fails if it exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    open_options()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(bytes)
}

/// Writes `bytes` to `path`, 0600 if it is new, replacing what it held.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?
        .write_all(bytes)
}

/// `write`, after creating `path`'s missing directories (0700).
pub fn write_creating_dirs(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_dir_all(dir)?;
    }
    write(path, bytes)
}

/// Creates `path` as an empty file, 0600, unless it exists (an empty file is an empty SQLite
/// database).
pub fn create_if_missing(path: &Path) -> io::Result<()> {
    match open_options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether users other than the owner may read, write or enter `path` (false where that
/// cannot be told).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A file's permission bits (0 for one that cannot be read).
    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn what_it_creates_only_the_owner_can_read() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let (new, written, empty) = (dir.join("n"), dir.join("w"), dir.join("e"));
        write_new(&new, b"x").unwrap();
        write(&written, b"y").unwrap();
        create_if_missing(&empty).unwrap();
        for f in [&new, &written, &empty] {
            assert_eq!(mode(f), 0o600, "{}", f.display());
            assert!(!readable_by_others(f));
        }
        assert!(
            write_new(&new, b"again").is_err(),
            "an existing file is not replaced"
        );
        let deep = root.path().join("c/d/f");
        write_creating_dirs(&deep, b"z").unwrap();
        assert_eq!(mode(&root.path().join("c")), 0o700);
        assert_eq!(mode(&root.path().join("c/d")), 0o700);
        assert_eq!(mode(&deep), 0o600);
        create_if_missing(&new).unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"x", "nor emptied");
    }

    #[test]
    fn existing_paths_keep_their_mode_and_a_shared_one_is_told() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("shared");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_if_missing(&f).unwrap();
        assert_eq!(mode(&f), 0o644);
        assert!(readable_by_others(&f));
    }
}
