//! The data root, as a directory descriptor everything else is reached
//! from.
//!
//! An operator's PV names a folder (OutputPath) or a file (DataFilePath)
//! inside the data root. Checking a path and then using it by name leaves
//! a gap: a symbolic link on the way leads elsewhere, or is put there
//! between the check and the use. Here nothing is reached by its full
//! name: from the root's descriptor, each component is opened relative to
//! the last with `O_NOFOLLOW` (a link is refused, never followed), folders
//! are created one at a time with `mkdirat`, and files are created with
//! `O_EXCL`, so the operating system's own answer (exists, no space,
//! read-only) is what the operator is told. A library that only takes path
//! names (HDF5) is handed `/proc/self/fd/<folder>/<name>`, which reaches
//! the folder already opened, whatever happens to its path meanwhile.

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Why a folder or file inside the data root cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// `..`, an absolute part or a drive: not a plain path below the root.
    #[error("{path:?} is not a plain path inside the data root")]
    NotPlain {
        /// What was asked for.
        path: PathBuf,
    },
    /// A symbolic link on the way (never followed inside the data root).
    #[error("{path:?} is a symbolic link: links are not followed inside the data root")]
    Link {
        /// The link.
        path: PathBuf,
    },
    /// Something other than a folder where a folder is needed.
    #[error("{path:?} is not a folder")]
    NotFolder {
        /// What is there.
        path: PathBuf,
    },
    /// Something other than a regular file (a FIFO, a device, a folder).
    #[error("{path:?} is {kind}, not a regular file")]
    NotRegular {
        /// What is there.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Larger than the caller accepts.
    #[error("{path:?} is larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// What the operating system said.
    #[error("{path:?}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The error, with its errno.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path, e: rustix::io::Errno) -> PathError {
    PathError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::RDONLY);

/// The data root, open.
#[derive(Debug)]
pub struct DataRoot {
    path: PathBuf,
    fd: OwnedFd,
}

/// A folder inside the data root, open.
#[derive(Debug)]
pub struct Folder {
    path: PathBuf,
    fd: OwnedFd,
}

/// A file this process created, held open so that its identity (device
/// and inode) cannot pass to another file while it is held: removing "our"
/// file must never remove one put in its place since.
#[derive(Debug)]
pub struct Created {
    _held: OwnedFd,
    dev: u64,
    ino: u64,
}

impl DataRoot {
    /// Opens the data root `path` (the site's own setting: links in it are
    /// the site's and are followed here, once).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let fd = rfs::open(
            path,
            OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
            Mode::empty(),
        )?;
        Ok(Self {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `full` below the root, as a relative path (None if it is not below
    /// it lexically).
    pub fn relative<'a>(&self, full: &'a Path) -> Option<&'a Path> {
        full.strip_prefix(&self.path).ok()
    }

    /// The folder `relative` (empty: the root itself), created when
    /// `create` and missing, one component at a time; a link anywhere on
    /// the way is refused and nothing is created past it.
    pub fn folder(&self, relative: &Path, create: bool) -> Result<Folder, PathError> {
        let mut fd =
            rfs::openat(&self.fd, ".", DIR_FLAGS, Mode::empty()).map_err(|e| io(&self.path, e))?;
        let mut path = self.path.clone();
        for part in relative.components() {
            let Component::Normal(name) = part else {
                if part == Component::CurDir {
                    continue;
                }
                return Err(PathError::NotPlain {
                    path: relative.to_path_buf(),
                });
            };
            path.push(name);
            fd = step_into(&fd, name, &path, create)?;
        }
        Ok(Folder { path, fd })
    }

    /// The regular file `relative`, read whole if it has at most `limit`
    /// bytes; never a link, never a FIFO or device (which could block).
    pub fn read(&self, relative: &Path, limit: u64) -> Result<Vec<u8>, PathError> {
        let name = relative.file_name().ok_or_else(|| PathError::NotPlain {
            path: relative.to_path_buf(),
        })?;
        let folder = self.folder(relative.parent().unwrap_or(Path::new("")), false)?;
        folder.read(name, limit)
    }
}

/// Opens folder `name` in `parent` without following a link, creating it
/// first when asked and missing.
fn step_into(
    parent: &OwnedFd,
    name: &OsStr,
    path: &Path,
    create: bool,
) -> Result<OwnedFd, PathError> {
    for _ in 0..3 {
        match rfs::openat(parent, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::NOENT) if create => {
                match rfs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
                    // Made by someone else meanwhile: open what is there.
                    Ok(()) | Err(rustix::io::Errno::EXIST) => continue,
                    Err(e) => return Err(io(path, e)),
                }
            }
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                return Err(what_is_there(parent, name, path));
            }
            Err(e) => return Err(io(path, e)),
        }
    }
    Err(io(path, rustix::io::Errno::AGAIN))
}

fn what_is_there(parent: &OwnedFd, name: &OsStr, path: &Path) -> PathError {
    match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => PathError::Link {
            path: path.to_path_buf(),
        },
        Ok(_) => PathError::NotFolder {
            path: path.to_path_buf(),
        },
        Err(e) => io(path, e),
    }
}

fn kind_of(file_type: FileType) -> &'static str {
    match file_type {
        FileType::Directory => "a folder",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Symlink => "a symbolic link",
        _ => "not a regular file",
    }
}

impl Folder {
    /// The same folder on a second descriptor (for a file that must rename
    /// itself later).
    pub fn try_clone(&self) -> std::io::Result<Self> {
        Ok(Self {
            path: self.path.clone(),
            fd: self.fd.try_clone()?,
        })
    }

    /// Its path (for messages and the file's own record of where it is).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path name that reaches `name` in this very folder, through its
    /// open descriptor, for libraries that only open by name.
    pub fn through_descriptor(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd())).join(name)
    }

    /// Creates the empty file `name` exclusively (never over anything that
    /// exists, link or not): `AlreadyExists` when the name is taken, else
    /// the operating system's error.
    pub fn create_new(&self, name: &str) -> std::io::Result<Created> {
        let fd = rfs::openat(
            &self.fd,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::WRONLY,
            Mode::from_raw_mode(0o644),
        )?;
        let st = rfs::fstat(&fd)?;
        Ok(Created {
            _held: fd,
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }

    /// Gives the file `from` the name `to`, atomically and only if `to` is
    /// free (`AlreadyExists` otherwise): a file built under a temporary
    /// name appears whole or not at all.
    pub fn rename_new(&self, from: &str, to: &str) -> std::io::Result<()> {
        rfs::renameat_with(&self.fd, from, &self.fd, to, rfs::RenameFlags::NOREPLACE)?;
        Ok(())
    }

    /// Removes the regular file `name` (a link or anything else is refused
    /// with `InvalidInput` and left alone).
    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        let st = rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", self.path.join(name).display()),
            ));
        }
        rfs::unlinkat(&self.fd, name, AtFlags::empty())?;
        Ok(())
    }

    /// Whether anything (a link included) has the name `name` here.
    pub fn exists(&self, name: &str) -> std::io::Result<bool> {
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `name` if it is still the file `id` (a file this process
    /// created and could not use); says whether it did.
    pub fn remove_if(&self, name: &str, id: &Created) -> std::io::Result<bool> {
        let st = rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        if st.st_dev != id.dev || st.st_ino != id.ino {
            return Ok(false);
        }
        rfs::unlinkat(&self.fd, name, AtFlags::empty())?;
        Ok(true)
    }

    /// The regular file `name` in this folder, read whole if it has at
    /// most `limit` bytes.
    pub fn read(&self, name: &OsStr, limit: u64) -> Result<Vec<u8>, PathError> {
        use std::io::Read;
        let path = self.path.join(name);
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        let fd = rfs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::LOOP => PathError::Link { path: path.clone() },
            e => io(&path, e),
        })?;
        let st = rfs::fstat(&fd).map_err(|e| io(&path, e))?;
        let file_type = FileType::from_raw_mode(st.st_mode);
        if file_type != FileType::RegularFile {
            return Err(PathError::NotRegular {
                path,
                kind: kind_of(file_type),
            });
        }
        if st.st_size as u64 > limit {
            return Err(PathError::TooLarge { path, limit });
        }
        let mut bytes = Vec::with_capacity(st.st_size as usize);
        // One byte beyond the limit tells a file that grew meanwhile.
        std::fs::File::from(fd)
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| PathError::Io {
                path: path.clone(),
                source,
            })?;
        if bytes.len() as u64 > limit {
            return Err(PathError::TooLarge { path, limit });
        }
        Ok(bytes)
    }
}

impl AsFd for Folder {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, tempfile::TempDir, DataRoot) {
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = DataRoot::open(&inside.path().canonicalize().unwrap()).unwrap();
        (inside, outside, root)
    }

    /// Issue 11, A5: a link inside the data root to a folder outside it.
    #[test]
    fn nothing_is_created_through_a_link() {
        let (inside, outside, root) = root();
        std::os::unix::fs::symlink(outside.path(), inside.path().join("link")).unwrap();
        let refused = root
            .folder(Path::new("link/newsub/deeper"), true)
            .unwrap_err();
        assert!(matches!(refused, PathError::Link { .. }), "{refused}");
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        assert!(
            !outside.path().join("newsub").exists(),
            "created outside the root"
        );
        // A link deeper down is caught where it is, after the real folders.
        std::fs::create_dir_all(inside.path().join("a/b")).unwrap();
        std::os::unix::fs::symlink(outside.path(), inside.path().join("a/b/c")).unwrap();
        assert!(matches!(
            root.folder(Path::new("a/b/c/d"), true),
            Err(PathError::Link { .. })
        ));
        assert!(!outside.path().join("d").exists());
    }

    #[test]
    fn folders_are_created_one_at_a_time_and_plain_paths_only() {
        let (inside, _outside, root) = root();
        let folder = root.folder(Path::new("runs/./a/b"), true).unwrap();
        assert!(inside.path().join("runs/a/b").is_dir());
        assert_eq!(folder.path(), root.path().join("runs/a/b"));
        assert!(matches!(
            root.folder(Path::new("runs/../../x"), true),
            Err(PathError::NotPlain { .. })
        ));
        assert!(matches!(
            root.folder(Path::new("missing"), false),
            Err(PathError::Io { .. })
        ));
        std::fs::write(inside.path().join("file"), "").unwrap();
        assert!(matches!(
            root.folder(Path::new("file/x"), true),
            Err(PathError::NotFolder { .. })
        ));
    }

    #[test]
    fn a_part_file_takes_only_a_free_name_and_links_are_never_removed() {
        let (inside, outside, root) = root();
        let folder = root.folder(Path::new("out"), true).unwrap();
        let _part = folder.create_new(".a.h5.part").unwrap();
        std::fs::write(inside.path().join("out/taken.h5"), "theirs").unwrap();
        let refused = folder.rename_new(".a.h5.part", "taken.h5").unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(
            std::fs::read_to_string(inside.path().join("out/taken.h5")).unwrap(),
            "theirs"
        );
        assert!(!folder.exists("a.h5").unwrap());
        folder.rename_new(".a.h5.part", "a.h5").unwrap();
        assert!(folder.exists("a.h5").unwrap());
        assert!(!folder.exists(".a.h5.part").unwrap());
        // A dangling link exists too, and is not removed as a file.
        std::os::unix::fs::symlink(outside.path().join("x"), inside.path().join("out/l")).unwrap();
        assert!(folder.exists("l").unwrap());
        assert_eq!(
            folder.remove("l").unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
        folder.remove("a.h5").unwrap();
        assert!(!folder.exists("a.h5").unwrap());
    }

    #[test]
    fn files_are_created_exclusively_and_removed_only_when_still_ours() {
        let (inside, _outside, root) = root();
        let folder = root.folder(Path::new("out"), true).unwrap();
        let id = folder.create_new("a.h5").unwrap();
        let again = folder.create_new("a.h5").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        // Reached through the folder's descriptor by name.
        assert!(folder.through_descriptor("a.h5").exists());
        std::fs::remove_file(inside.path().join("out/a.h5")).unwrap();
        std::fs::write(inside.path().join("out/a.h5"), "someone else's").unwrap();
        assert!(!folder.remove_if("a.h5", &id).unwrap(), "not ours any more");
        assert!(inside.path().join("out/a.h5").exists());
        let id = folder.create_new("b.h5").unwrap();
        assert!(folder.remove_if("b.h5", &id).unwrap());
        assert!(!inside.path().join("out/b.h5").exists());
        // A link in the file's place is never written through.
        std::os::unix::fs::symlink("/etc/passwd", inside.path().join("out/c.h5")).unwrap();
        assert_eq!(
            folder.create_new("c.h5").unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
    }

    /// Issue 11, A7: a FIFO would block a reader forever; a huge file
    /// would fill memory.
    #[test]
    fn reading_takes_regular_files_within_the_limit_only() {
        let (inside, outside, root) = root();
        std::fs::write(inside.path().join("ok.yaml"), "a: [b]\n").unwrap();
        assert_eq!(root.read(Path::new("ok.yaml"), 100).unwrap(), b"a: [b]\n");
        let fifo = inside.path().join("fifo.yaml");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let refused = root.read(Path::new("fifo.yaml"), 100).unwrap_err();
        assert!(
            refused.to_string().contains("a FIFO, not a regular file"),
            "{refused}"
        );
        std::fs::write(inside.path().join("big.yaml"), vec![b'x'; 101]).unwrap();
        assert!(matches!(
            root.read(Path::new("big.yaml"), 100),
            Err(PathError::TooLarge { limit: 100, .. })
        ));
        std::fs::write(outside.path().join("secret.yaml"), "x").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.yaml"),
            inside.path().join("l.yaml"),
        )
        .unwrap();
        assert!(matches!(
            root.read(Path::new("l.yaml"), 100),
            Err(PathError::Link { .. })
        ));
        assert!(matches!(
            root.read(Path::new("sub"), 100),
            Err(PathError::Io { .. })
        ));
        std::fs::create_dir(inside.path().join("sub")).unwrap();
        assert!(matches!(
            root.read(Path::new("sub"), 100),
            Err(PathError::NotRegular {
                kind: "a folder",
                ..
            })
        ));
    }
}
