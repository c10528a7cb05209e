//! A simulated serial line on a pseudo-terminal: the simulator holds the
//! master, a client opens the slave's path (or the stable link to it, which
//! a re-created line points at anew). Both ends are raw: no echo, no line
//! discipline, every byte as sent.

use super::modbus::ModbusLine;
use super::stdbus::StdBusLine;
use rustix::fs::{Mode, OFlags};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// One pseudo-terminal pair, raw.
pub struct PtyLine {
    master: AsyncFd<OwnedFd>,
    /// Held open so the line stays up while no client has it open (the
    /// master would read EIO otherwise), and to set it raw.
    _slave: OwnedFd,
    slave_path: PathBuf,
    link: Option<PathBuf>,
}

fn raw(fd: impl AsFd) -> std::io::Result<()> {
    let mut t = tcgetattr(&fd)?;
    t.make_raw();
    tcsetattr(&fd, OptionalActions::Now, &t)?;
    Ok(())
}

impl PtyLine {
    /// A new pair; `link`, when given, is (re)made a symbolic link to the
    /// slave. Needs a tokio runtime (the master is polled by it).
    pub fn open(link: Option<&Path>) -> std::io::Result<Self> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let slave_path = PathBuf::from(name.to_string_lossy().into_owned());
        let slave = rustix::fs::open(
            &slave_path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        raw(&slave)?;
        raw(&master)?;
        let flags = rustix::fs::fcntl_getfl(&master)?;
        rustix::fs::fcntl_setfl(&master, flags | OFlags::NONBLOCK)?;
        if let Some(link) = link {
            match std::fs::remove_file(link) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            std::os::unix::fs::symlink(&slave_path, link)?;
        }
        // SAFETY: an OwnedFd's descriptor is valid, open and its own for as
        // long as the AsyncFd that owns it lives.
        let master = unsafe { AsyncFd::register(master) }.map_err(std::io::Error::from)?;
        Ok(Self {
            master,
            _slave: slave,
            slave_path,
            link: link.map(Path::to_path_buf),
        })
    }

    /// The slave's path (`/dev/pts/N`).
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The path a client should open: the link if there is one.
    pub fn path(&self) -> &Path {
        self.link.as_deref().unwrap_or(&self.slave_path)
    }

    /// Reads what the client sent (at least one byte).
    pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut ready = self.master.readable().await?;
            match ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut *buf)?)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends all of `bytes` to the client.
    pub async fn write_all(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let mut ready = self.master.writable().await?;
            match ready.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), bytes)?)) {
                Ok(result) => bytes = &bytes[result?..],
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

/// A simulated line: bytes from the client in, replies out.
pub trait Line: Send {
    /// Takes bytes the client sent, `elapsed` after the last call; returns
    /// the replies they complete.
    fn take(&mut self, bytes: &[u8], elapsed: Duration) -> Vec<Vec<u8>>;
    /// Waited before each reply.
    fn latency(&self) -> Duration;
    /// Replies sent in pieces of this many bytes, this far apart.
    fn fragment(&self) -> Option<(usize, Duration)> {
        None
    }
}

impl Line for StdBusLine {
    fn take(&mut self, bytes: &[u8], elapsed: Duration) -> Vec<Vec<u8>> {
        self.advance(elapsed);
        self.receive(bytes)
    }

    fn latency(&self) -> Duration {
        self.faults.latency
    }

    fn fragment(&self) -> Option<(usize, Duration)> {
        self.faults.fragment
    }
}

impl Line for ModbusLine {
    fn take(&mut self, bytes: &[u8], elapsed: Duration) -> Vec<Vec<u8>> {
        self.advance(elapsed);
        self.push(bytes)
    }

    fn latency(&self) -> Duration {
        self.faults.latency
    }
}

/// Serves `line` on `pty` until the pty fails: bytes in, replies out after
/// the line's latency, the plants advanced by the time that passed.
pub async fn serve<L: Line>(line: Arc<Mutex<L>>, pty: PtyLine) -> std::io::Result<()> {
    let mut buf = [0u8; 512];
    let mut last = tokio::time::Instant::now();
    loop {
        let n = pty.read(&mut buf).await?;
        let (replies, latency, fragment) = {
            let mut line = line.lock().unwrap_or_else(|e| e.into_inner());
            let now = tokio::time::Instant::now();
            let replies = line.take(&buf[..n], now - last);
            last = now;
            (replies, line.latency(), line.fragment())
        };
        for reply in replies {
            if latency > Duration::ZERO {
                tokio::time::sleep(latency).await;
            }
            match fragment {
                Some((size, gap)) => {
                    for piece in reply.chunks(size.max(1)) {
                        pty.write_all(piece).await?;
                        tokio::time::sleep(gap).await;
                    }
                }
                None => pty.write_all(&reply).await?,
            }
        }
    }
}

/// A line served on a pty behind a stable link, that can hang up: the pty
/// closed (a client sees EIO, the node goes) and made anew at the same
/// link after a while, as an unplugged adapter that comes back.
pub struct Served<L: Line + 'static> {
    line: Arc<Mutex<L>>,
    link: PathBuf,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl<L: Line + 'static> Served<L> {
    /// Serves `line` behind `link`.
    pub fn start(line: Arc<Mutex<L>>, link: &Path) -> std::io::Result<Self> {
        let pty = PtyLine::open(Some(link))?;
        let task = tokio::spawn(serve(Arc::clone(&line), pty));
        Ok(Self {
            line,
            link: link.to_path_buf(),
            task,
        })
    }

    /// The line (to change its faults or devices).
    pub fn line(&self) -> &Arc<Mutex<L>> {
        &self.line
    }

    /// Hangs up for `down`, then serves again at the same link.
    pub async fn hang_up(&mut self, down: Duration) -> std::io::Result<()> {
        self.task.abort();
        let _ = (&mut self.task).await;
        tokio::time::sleep(down).await;
        let pty = PtyLine::open(Some(&self.link))?;
        self.task = tokio::spawn(serve(Arc::clone(&self.line), pty));
        Ok(())
    }
}

impl<L: Line + 'static> Drop for Served<L> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
