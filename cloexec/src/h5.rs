//! HDF5 files whose descriptor is close-on-exec.

use hdf5::File;
use std::path::Path;

/// Opens `path` read-only.
pub fn open_read(path: impl AsRef<Path>) -> hdf5::Result<File> {
    guarded(File::open(path)?)
}

/// Opens an existing `path` for reading and writing.
pub fn open_rw(path: impl AsRef<Path>) -> hdf5::Result<File> {
    guarded(File::open_rw(path)?)
}

/// Creates `path`, failing if it exists.
pub fn create_excl(path: impl AsRef<Path>) -> hdf5::Result<File> {
    guarded(File::create_excl(path)?)
}

/// Creates `path`, truncating it if it exists (for a file this process has
/// just created itself).
pub fn create_trunc(path: impl AsRef<Path>) -> hdf5::Result<File> {
    guarded(File::create(path)?)
}

/// Creates `path` with the creation properties `fcpl`, truncating it if it
/// exists (for a file this process has just created itself).
pub fn create_trunc_with(
    path: impl AsRef<Path>,
    fcpl: &hdf5::plist::FileCreate,
) -> hdf5::Result<File> {
    // Through the C call: hdf5-metno's builder copies only the properties
    // it knows, which drops a group-creation hint such as the root's heap
    // size.
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_ref().as_os_str().as_bytes())
        .map_err(|e| hdf5::Error::from(e.to_string()))?;
    let file = hdf5::sync::sync(|| {
        // SAFETY: a NUL-terminated path and a live creation list, both
        // outliving the call; the new id is checked and owned by the File.
        unsafe {
            let id = hdf5::h5check(hdf5_sys::h5f::H5Fcreate(
                name.as_ptr(),
                hdf5_sys::h5f::H5F_ACC_TRUNC,
                fcpl.id(),
                hdf5_sys::h5p::H5P_DEFAULT,
            ))?;
            hdf5::from_id::<File>(id)
        }
    })?;
    guarded(file)
}

fn guarded(file: File) -> hdf5::Result<File> {
    close_on_exec(&file)?;
    Ok(file)
}

/// Marks the descriptor under `file` close-on-exec.
pub fn close_on_exec(file: &File) -> hdf5::Result<()> {
    let fd = descriptor(file)?;
    // SAFETY: fcntl on a descriptor HDF5 keeps open for `file`; F_SETFD
    // only changes its flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(hdf5::Error::from(format!(
            "marking the file's descriptor close-on-exec: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// The POSIX descriptor of a file opened with HDF5's default (sec2) driver
/// (another driver's handle is not a descriptor: refused).
fn descriptor(file: &File) -> hdf5::Result<libc::c_int> {
    hdf5::sync::sync(|| {
        // SAFETY: the access property list of a live file, closed here; the
        // driver ids are HDF5's own.
        let sec2 = unsafe {
            let access = hdf5::h5check(hdf5_sys::h5f::H5Fget_access_plist(file.id()))?;
            let driver = hdf5_sys::h5p::H5Pget_driver(access);
            hdf5_sys::h5p::H5Pclose(access);
            driver >= 0 && driver == hdf5_sys::h5fd::H5FD_sec2_init()
        };
        if !sec2 {
            return Err(hdf5::Error::from(
                "the file is not opened with HDF5's sec2 driver: its descriptor is unknown",
            ));
        }
        let mut handle: *mut std::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `file.id()` is a live file id; for the sec2 driver the
        // handle HDF5 returns points to the descriptor (an int) it keeps
        // for the file's lifetime, read here while the file is open.
        unsafe {
            hdf5::h5check(hdf5_sys::h5f::H5Fget_vfd_handle(
                file.id(),
                hdf5_sys::h5p::H5P_DEFAULT,
                &mut handle,
            ))?;
            if handle.is_null() {
                return Err(hdf5::Error::from("HDF5 returned no file handle"));
            }
            Ok(*handle.cast::<libc::c_int>())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_on_exec_set(file: &File) -> bool {
        let fd = descriptor(file).unwrap();
        // SAFETY: reading the flags of a live descriptor.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        flags >= 0 && flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn every_way_of_opening_marks_the_descriptor() {
        let _one = crate::ONE_TEST_AT_A_TIME
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.h5");
        // HDF5 alone leaves it inheritable: the reason for this crate.
        let plain = File::create(&path).unwrap();
        assert!(!close_on_exec_set(&plain));
        drop(plain);
        std::fs::remove_file(&path).unwrap();
        let created = create_excl(&path).unwrap();
        assert!(close_on_exec_set(&created));
        assert!(create_excl(&path).is_err(), "exclusive");
        drop(created);
        assert!(close_on_exec_set(&open_read(&path).unwrap()));
        assert!(close_on_exec_set(&open_rw(&path).unwrap()));
        assert!(close_on_exec_set(&create_trunc(&path).unwrap()));
        let fcpl = hdf5::plist::FileCreate::build().finish().unwrap();
        assert!(close_on_exec_set(&create_trunc_with(&path, &fcpl).unwrap()));
    }
}
