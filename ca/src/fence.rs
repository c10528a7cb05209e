//! The network fence: a process told to use only some interfaces binds
//! only there.
//!
//! epics-ca-rs 0.31 honours `EPICS_CAS_INTF_ADDR_LIST` for its server's
//! search and TCP sockets only. Elsewhere it binds where it likes: its
//! beacon sender, its repeater registration and beacon listener and the
//! in-process repeater bind `0.0.0.0`, and its client's search socket binds
//! the same port on every interface the host has. A daemon configured for
//! loopback would then listen on the host's network. The library is pinned
//! and cannot be told otherwise, so the process enforces it underneath:
//! every `bind()` goes through [`bind`] (the binary installs it with
//! [`network_fence!`](crate::network_fence)), which moves a wildcard bind to
//! the first allowed address and refuses any other address; and the
//! interface list the library reads ([`getifaddrs`]) shows only the allowed
//! interfaces, so it does not try the others.
//!
//! When it applies ([`Fence::from_env`]): `EPICS_CAS_INTF_ADDR_LIST` names
//! addresses (not `0.0.0.0`) and `EPICS_CA_AUTO_ADDR_LIST=NO`. The allowed
//! addresses are those, plus the local addresses that reach the hosts of
//! `EPICS_CA_ADDR_LIST`, `EPICS_CAS_BEACON_ADDR_LIST` and
//! `EPICS_CA_NAME_SERVERS` (for loopback destinations: loopback), plus, to
//! receive broadcast searches, the broadcast addresses of those interfaces.
//! Host names are resolved at start. Otherwise nothing is changed, as EPICS
//! does by default: every interface. A wildcard bind goes to the first
//! allowed address, so a loopback server cannot also send beacons off the
//! host: name the interface that reaches them in the interface list.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::OnceLock;

pub use libc::{c_int, ifaddrs, sockaddr, socklen_t};

/// Where the process may bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The addresses a socket may be bound to; the first takes wildcard
    /// binds.
    pub allowed: Vec<Ipv4Addr>,
    /// The broadcast addresses of the allowed interfaces (and
    /// 255.255.255.255): bound only to receive broadcasts.
    pub broadcast: Vec<Ipv4Addr>,
}

static FENCE: OnceLock<Fence> = OnceLock::new();

/// The IPv4 addresses of an EPICS address list: `host[:port]` entries, the
/// host an address or a name (resolved now, as EPICS does at start).
fn addresses(list: &str) -> Result<Vec<Ipv4Addr>, String> {
    use std::net::ToSocketAddrs;
    list.split_whitespace()
        .map(|entry| {
            // Entries may carry a port (`host:port`): the host is what binds.
            let host = entry.rsplit_once(':').map_or(entry, |(h, _)| h);
            if let Ok(ip) = host.parse::<Ipv4Addr>() {
                return Ok(ip);
            }
            (host, 0)
                .to_socket_addrs()
                .ok()
                .and_then(|mut found| {
                    found.find_map(|a| match a {
                        std::net::SocketAddr::V4(v4) => Some(*v4.ip()),
                        std::net::SocketAddr::V6(_) => None,
                    })
                })
                .ok_or_else(|| {
                    format!(
                        "{entry:?} is neither an IPv4 address nor a host name that resolves to one"
                    )
                })
        })
        .collect()
}

/// The local address the kernel would send from to reach `to` (no packet
/// is sent: a UDP connect only chooses the route; a broadcast address needs
/// SO_BROADCAST for that).
fn source_for(to: Ipv4Addr) -> Option<Ipv4Addr> {
    if to.is_loopback() {
        return Some(Ipv4Addr::LOCALHOST);
    }
    let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    probe.set_broadcast(true).ok()?;
    probe.connect(SocketAddrV4::new(to, 9)).ok()?;
    match probe.local_addr().ok()? {
        std::net::SocketAddr::V4(a) if !a.ip().is_unspecified() => Some(*a.ip()),
        _ => None,
    }
}

/// The broadcast addresses of the interfaces that hold `addresses`: the CA
/// server also listens on those, for the searches clients broadcast.
fn broadcasts_of(addresses: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    let mut out = vec![Ipv4Addr::BROADCAST];
    for interface in if_addrs::get_if_addrs().unwrap_or_default() {
        if let if_addrs::IfAddr::V4(v4) = interface.addr {
            if let Some(b) = v4.broadcast.filter(|_| addresses.contains(&v4.ip)) {
                if !out.contains(&b) {
                    out.push(b);
                }
            }
        }
    }
    out
}

impl Fence {
    /// The fence the EPICS environment asks for, or `None` when it asks for
    /// every interface. An address that does not parse is an error (the
    /// site's setting would otherwise be ignored silently).
    pub fn from_env() -> Result<Option<Self>, String> {
        let get = |k: &str| std::env::var(k).unwrap_or_default();
        let interfaces = addresses(&get("EPICS_CAS_INTF_ADDR_LIST"))
            .map_err(|e| format!("EPICS_CAS_INTF_ADDR_LIST: {e}"))?;
        let auto = get("EPICS_CA_AUTO_ADDR_LIST");
        if interfaces.is_empty()
            || interfaces.iter().any(Ipv4Addr::is_unspecified)
            || !auto.trim().eq_ignore_ascii_case("no")
        {
            return Ok(None);
        }
        let mut allowed = interfaces;
        for key in [
            "EPICS_CA_ADDR_LIST",
            "EPICS_CAS_BEACON_ADDR_LIST",
            "EPICS_CA_NAME_SERVERS",
        ] {
            for to in addresses(&get(key)).map_err(|e| format!("{key}: {e}"))? {
                let source = source_for(to)
                    .ok_or_else(|| format!("{key}: no route from this host to {to}"))?;
                if !allowed.contains(&source) {
                    allowed.push(source);
                }
            }
        }
        let broadcast = broadcasts_of(&allowed);
        Ok(Some(Self { allowed, broadcast }))
    }

    /// Reads the environment's fence and installs it: `Ok(None)` when the
    /// environment asks for every interface. Call it before any socket is
    /// made.
    pub fn install_from_env() -> Result<Option<Vec<Ipv4Addr>>, String> {
        match Self::from_env()? {
            Some(fence) => {
                let allowed = fence.allowed.clone();
                fence.install();
                Ok(Some(allowed))
            }
            None => Ok(None),
        }
    }

    /// Applies this fence to every later bind of the process (the first
    /// fence installed stays).
    pub fn install(self) {
        let _ = FENCE.set(self);
    }

    fn allows(&self, ip: Ipv4Addr) -> bool {
        self.allowed.contains(&ip) || self.broadcast.contains(&ip)
    }

    fn allows_loopback(&self) -> bool {
        self.allowed.iter().any(Ipv4Addr::is_loopback)
    }
}

fn refuse() -> c_int {
    // SAFETY: errno is thread-local; writing it is what bind(2) does.
    unsafe { *libc::__errno_location() = libc::EADDRNOTAVAIL };
    -1
}

/// `bind(2)` under the fence: see the module's documentation.
///
/// # Safety
/// As `bind(2)`: `addr` points to `len` readable bytes of a socket address.
pub unsafe fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let raw = |addr: *const sockaddr, len: socklen_t| -> c_int {
        // SAFETY: the caller's (or our rewritten) address, passed on as is.
        unsafe { libc::syscall(libc::SYS_bind, fd, addr, len) as c_int }
    };
    let Some(fence) = FENCE.get() else {
        return raw(addr, len);
    };
    if addr.is_null() {
        return raw(addr, len);
    }
    // SAFETY: the caller passed a socket address of `len` bytes.
    let family = c_int::from(unsafe { (*addr).sa_family });
    if family == libc::AF_INET && len as usize >= std::mem::size_of::<libc::sockaddr_in>() {
        // SAFETY: an AF_INET address of at least sockaddr_in's size.
        let mut v4 = unsafe { *addr.cast::<libc::sockaddr_in>() };
        let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
        if ip.is_unspecified() {
            v4.sin_addr.s_addr = u32::from(fence.allowed[0]).to_be();
            return raw(
                (&v4 as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as socklen_t,
            );
        }
        return if fence.allows(ip) {
            raw(addr, len)
        } else {
            refuse()
        };
    }
    if family == libc::AF_INET6 && len as usize >= std::mem::size_of::<libc::sockaddr_in6>() {
        // SAFETY: an AF_INET6 address of at least sockaddr_in6's size.
        let mut v6 = unsafe { *addr.cast::<libc::sockaddr_in6>() };
        let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
        let allowed = match ip.to_ipv4_mapped() {
            Some(v4) => fence.allows(v4),
            None => ip.is_loopback() && fence.allows_loopback(),
        };
        if ip.is_unspecified() && fence.allowed[0].is_loopback() {
            v6.sin6_addr.s6_addr = std::net::Ipv6Addr::LOCALHOST.octets();
            return raw(
                (&v6 as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as socklen_t,
            );
        }
        return if allowed { raw(addr, len) } else { refuse() };
    }
    raw(addr, len)
}

type GetIfAddrs = unsafe extern "C" fn(*mut *mut ifaddrs) -> c_int;

/// `getifaddrs(3)` under the fence: interfaces whose address is not allowed
/// are listed without an address (readers skip those entries).
///
/// # Safety
/// As `getifaddrs(3)`: `ifap` is writable; the list is freed with
/// `freeifaddrs`.
pub unsafe fn getifaddrs(ifap: *mut *mut ifaddrs) -> c_int {
    static REAL: OnceLock<Option<GetIfAddrs>> = OnceLock::new();
    let real = REAL.get_or_init(|| {
        // SAFETY: looking up the C library's own definition, the next one
        // after this executable's.
        let found = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getifaddrs".as_ptr()) };
        // SAFETY: the symbol is getifaddrs, of this type.
        (!found.is_null())
            .then(|| unsafe { std::mem::transmute::<*mut libc::c_void, GetIfAddrs>(found) })
    });
    let Some(real) = real else {
        // SAFETY: errno is thread-local.
        unsafe { *libc::__errno_location() = libc::ENOSYS };
        return -1;
    };
    // SAFETY: the caller's contract, passed on.
    let done = unsafe { real(ifap) };
    let Some(fence) = FENCE.get() else {
        return done;
    };
    if done != 0 || ifap.is_null() {
        return done;
    }
    // SAFETY: a list getifaddrs just returned; only the address pointers of
    // its entries are cleared (the list's memory, freed by freeifaddrs from
    // its head, is untouched).
    unsafe {
        let mut entry = *ifap;
        while !entry.is_null() {
            let address = (*entry).ifa_addr;
            if !address.is_null() {
                let family = c_int::from((*address).sa_family);
                let keep = match family {
                    libc::AF_INET => {
                        let v4 = *address.cast::<libc::sockaddr_in>();
                        fence.allows(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)))
                    }
                    libc::AF_INET6 => {
                        let v6 = *address.cast::<libc::sockaddr_in6>();
                        std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr).is_loopback()
                            && fence.allows_loopback()
                    }
                    _ => true,
                };
                if !keep {
                    (*entry).ifa_addr = std::ptr::null_mut();
                }
            }
            entry = (*entry).ifa_next;
        }
    }
    done
}

/// Installs the fence's `bind` and `getifaddrs` in a binary: put it once at
/// the top level of the binary's `main.rs` (the definitions must be in the
/// executable itself to take the place of the C library's for every crate
/// linked into it), then install a [`Fence`] before any socket is made.
#[macro_export]
macro_rules! network_fence {
    () => {
        /// The network fence's `bind` (see `ca::fence`).
        ///
        /// # Safety
        /// As `bind(2)`.
        #[no_mangle]
        pub unsafe extern "C" fn bind(
            fd: $crate::fence::c_int,
            addr: *const $crate::fence::sockaddr,
            len: $crate::fence::socklen_t,
        ) -> $crate::fence::c_int {
            // SAFETY: the caller's contract, passed on.
            unsafe { $crate::fence::bind(fd, addr, len) }
        }

        /// The network fence's `getifaddrs` (see `ca::fence`).
        ///
        /// # Safety
        /// As `getifaddrs(3)`.
        #[no_mangle]
        pub unsafe extern "C" fn getifaddrs(
            ifap: *mut *mut $crate::fence::ifaddrs,
        ) -> $crate::fence::c_int {
            // SAFETY: the caller's contract, passed on.
            unsafe { $crate::fence::getifaddrs(ifap) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_or_without_ports_and_refuse_names() {
        assert_eq!(
            addresses("127.0.0.1 10.0.0.2:5064").unwrap(),
            [Ipv4Addr::LOCALHOST, Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert_eq!(addresses("localhost").unwrap(), [Ipv4Addr::LOCALHOST]);
        assert!(addresses("no-such-host.invalid").is_err());
        assert!(addresses("").unwrap().is_empty());
    }

    #[test]
    fn loopback_destinations_are_reached_from_loopback() {
        assert_eq!(
            source_for(Ipv4Addr::new(127, 0, 0, 1)),
            Some(Ipv4Addr::LOCALHOST)
        );
    }
}
