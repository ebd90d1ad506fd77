//! Network namespaces of the `namespace` sandbox, in three modes:
//!
//! - `host`: environments share the host's network namespace; the Runtime
//!   API listens on the host's loopback (as with the `process` backend).
//! - `none`: each environment has its own network namespace with only a
//!   loopback interface.
//! - `bridge`: as `none`, plus `eth0`, one end of a veth pair whose other
//!   end is an isolated port of the server's bridge `ignis<N>`; the default
//!   route goes through the host, which masquerades the traffic out. The
//!   host's loopback is not reachable (only addresses the host really binds
//!   on other interfaces are), and environments cannot reach each other
//!   (isolated bridge ports).
//!
//! In `none` and `bridge` the Runtime API's listening socket is created by
//! the host *inside* the environment's namespace, at `127.0.0.1:9001`, by a
//! short-lived thread that `unshare`s a new network namespace, brings `lo`
//! up, binds the socket and (bridge) wires the veth over netlink. The
//! socket is served by the host's own Runtime API server; the namespace
//! goes to the environment's keeper as a descriptor it `setns`es into. A
//! pool of such prepared namespaces, refilled by a background thread, keeps
//! this off the cold-start path. See `docs/sandbox.md`.

pub mod addr;
mod bridge;
pub mod netlink;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::stock::{background_priority, Stock};
use bridge::Bridge;
pub use bridge::Nat;
use netlink::{NetlinkError, Socket};

/// Where the Runtime API is inside an environment's own network namespace,
/// as on Lambda.
pub const RUNTIME_API_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9001));
/// The name of an environment's end of its veth pair.
pub const GUEST_IFNAME: &str = "eth0";
/// Prepared namespaces kept ready by default (`ignis serve
/// --network-pool-size`).
pub const DEFAULT_POOL_SIZE: usize = 4;
/// The loopback interface's index in every network namespace.
const LOOPBACK_INDEX: u32 = 1;

/// How environments are networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetMode {
    /// Own namespace, loopback only.
    None,
    /// The host's namespace.
    Host,
    /// Own namespace with a veth to the server's bridge and NAT.
    Bridge,
}

impl NetMode {
    /// The mode's name, as `--network` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Host => "host",
            Self::Bridge => "bridge",
        }
    }
}

/// Failure to set up networking, for the server or for one environment.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A netlink request failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// The host's network namespace could not be opened.
    #[error("failed to open the host's network namespace: {0}")]
    HostNs(#[source] io::Error),
    /// No new network namespace.
    #[error("failed to create a network namespace: {0}")]
    Unshare(#[source] io::Error),
    /// A thread could not switch namespaces.
    #[error("failed to enter a network namespace: {0}")]
    Setns(#[source] io::Error),
    /// The Runtime API socket could not be bound inside.
    #[error("failed to bind the Runtime API at {RUNTIME_API_ADDR} inside the namespace: {0}")]
    Listen(#[source] io::Error),
    /// A link's index could not be found.
    #[error("failed to find a network interface: {0}")]
    Index(#[source] io::Error),
    /// The worker thread could not be started.
    #[error("failed to start a network thread: {0}")]
    Thread(#[source] io::Error),
    /// The host's routes could not be read.
    #[error("failed to read the host's routes: {0}")]
    Routes(#[source] io::Error),
    /// Every candidate subnet collides with a host route or another server.
    #[error(
        "failed to find a free /{} in {}/16 for the bridge",
        addr::SUBNET_PREFIX,
        addr::POOL_BASE
    )]
    NoSubnet,
    /// Every address of the bridge's subnet is in use.
    #[error("failed to allocate an address: the bridge's subnet is full")]
    NoAddress,
    /// IPv4 forwarding could not be read or turned on.
    #[error("failed to enable IPv4 forwarding: {0}")]
    Forward(#[source] io::Error),
    /// The MASQUERADE rule could not be added.
    #[error("failed to add the NAT rule: {0}")]
    Nat(String),
}

/// Networking of a server's environments: the mode, the bridge and the
/// pool of prepared namespaces. [`Network::shutdown`] (or dropping it)
/// removes what it set up on the host.
pub struct Network {
    mode: NetMode,
    state: Option<(Arc<Shared>, Arc<Pool>)>,
    refill: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("mode", &self.mode).finish()
    }
}

/// What the environments' namespaces are made from.
struct Shared {
    host_ns: OwnedFd,
    /// A socket of the host's namespace; one request at a time.
    host_nl: Mutex<Socket>,
    bridge: Option<Bridge>,
    addrs: Arc<Mutex<addr::Allocator>>,
    /// Hands veths to the thread that deletes them (a deletion waits for
    /// the kernel's RCU grace periods, ~35 ms here: not on an async worker).
    reaper: Mutex<Option<mpsc::Sender<(String, Ipv4Addr)>>>,
    reaper_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Veth names: `veth_prefix` + a counter.
    veth_prefix: String,
    counter: AtomicU64,
    torn_down: AtomicBool,
}

/// Namespaces made ahead of need.
type Pool = Stock<EnvNet>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Network {
    /// Environments share the host's network.
    pub fn host() -> Self {
        Self {
            mode: NetMode::Host,
            state: None,
            refill: Mutex::new(None),
        }
    }

    /// Sets up `mode` (the bridge, NAT and forwarding for `bridge`), makes
    /// one namespace to check that it works, and keeps `pool_size`
    /// namespaces prepared from then on.
    #[tracing::instrument(skip_all, fields(mode = mode.name()))]
    pub fn setup(mode: NetMode, pool_size: usize) -> Result<Self, NetError> {
        if mode == NetMode::Host {
            return Ok(Self::host());
        }
        let host_ns = open_ns(c"/proc/self/ns/net").map_err(NetError::HostNs)?;
        let host_nl = Socket::open()?;
        // Opened before the bridge exists, so nothing below can fail and
        // leave the bridge behind without a `Network` to remove it.
        let reaper_nl = match mode {
            NetMode::Bridge => Some(Socket::open()?),
            _ => None,
        };
        let bridge = match mode {
            NetMode::Bridge => Some(Bridge::setup(&host_nl)?),
            _ => None,
        };
        let subnet = bridge.as_ref().map_or(addr::Subnet::nth(0), |b| b.subnet);
        let bridge_name = bridge.as_ref().map(|b| b.name.clone());
        let addrs = Arc::new(Mutex::new(addr::Allocator::new(subnet)));
        let (reaper, reaper_thread) = match reaper_nl {
            Some(nl) => {
                let (tx, rx) = mpsc::channel();
                let addrs = addrs.clone();
                let group = doomed_group(bridge.as_ref().map_or(0, |b| b.index));
                let spawned = std::thread::Builder::new()
                    .name("ignis-veth-reaper".into())
                    .spawn(move || reap(&nl, &addrs, &rx, group));
                match spawned {
                    Ok(handle) => (Some(tx), Some(handle)),
                    Err(e) => {
                        if let Some(b) = &bridge {
                            b.teardown(&host_nl);
                        }
                        return Err(NetError::Thread(e));
                    }
                }
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            host_ns,
            host_nl: Mutex::new(host_nl),
            bridge,
            addrs,
            reaper: Mutex::new(reaper),
            reaper_thread: Mutex::new(reaper_thread),
            veth_prefix: veth_prefix(bridge_name.as_deref()),
            counter: AtomicU64::new(0),
            torn_down: AtomicBool::new(false),
        });
        let pool = Arc::new(Pool::new(pool_size));
        let net = Self {
            mode,
            state: Some((shared.clone(), pool.clone())),
            refill: Mutex::new(None),
        };
        let first = create(&shared)?;
        pool.put(first);
        if pool_size > 0 {
            let handle = std::thread::Builder::new()
                .name("ignis-netns-pool".into())
                .spawn(move || refill(&shared, &pool))
                .map_err(NetError::Thread)?;
            *lock(&net.refill) = Some(handle);
        }
        Ok(net)
    }

    /// The mode in use.
    pub fn mode(&self) -> NetMode {
        self.mode
    }

    /// Where the Runtime API is inside an environment, when environments
    /// have their own namespace.
    pub fn runtime_api_addr(&self) -> Option<SocketAddr> {
        self.state.as_ref().map(|_| RUNTIME_API_ADDR)
    }

    /// One line for the start-up log: the bridge, its subnet and NAT.
    pub fn describe(&self) -> String {
        let Some((shared, pool)) = &self.state else {
            return "environments share the host's network".into();
        };
        let pooled = format!("{} namespaces kept prepared", pool.target());
        match &shared.bridge {
            None => format!("own network namespace per environment, loopback only; {pooled}"),
            Some(b) => {
                let nat = match b.nat {
                    Nat::Nft => "NAT by an nftables masquerade rule".to_string(),
                    Nat::Iptables => "NAT by an iptables masquerade rule".to_string(),
                    Nat::Missing => "no NAT (neither nft nor iptables is installed): \
                                     environments reach this host only"
                        .to_string(),
                };
                format!(
                    "bridge {} {} (gateway {}), {nat}; {pooled}",
                    b.name,
                    b.subnet,
                    b.gateway()
                )
            }
        }
    }

    /// The host's address on the bridge, in `bridge` mode.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        let (shared, _) = self.state.as_ref()?;
        shared.bridge.as_ref().map(Bridge::gateway)
    }

    /// What the names of this network's veths (host ends) start with.
    pub fn veth_prefix(&self) -> Option<&str> {
        let (shared, _) = self.state.as_ref()?;
        shared.bridge.as_ref().map(|_| shared.veth_prefix.as_str())
    }

    /// The bridge's name, in `bridge` mode.
    pub fn bridge_name(&self) -> Option<&str> {
        let (shared, _) = self.state.as_ref()?;
        shared.bridge.as_ref().map(|b| b.name.as_str())
    }

    /// A prepared namespace for a new environment (`None` in `host` mode):
    /// from the pool, or made now if the pool is empty.
    pub fn take(&self) -> Result<Option<EnvNet>, NetError> {
        let Some((shared, pool)) = &self.state else {
            return Ok(None);
        };
        match pool.take() {
            Some(n) => Ok(Some(n)),
            None => {
                tracing::debug!("namespace pool empty: making one on the launch path");
                create(shared).map(Some)
            }
        }
    }

    /// Stops the pool, deletes its namespaces and removes the bridge and NAT
    /// rule. Environments still running keep their namespace until reaped.
    /// Idempotent.
    pub fn shutdown(&self) {
        let Some((shared, pool)) = &self.state else {
            return;
        };
        drop(pool.stop());
        if let Some(h) = lock(&self.refill).take() {
            let _ = h.join();
        }
        drop(pool.stop());
        if shared.torn_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Veths dropped from now on are deleted by their dropper.
        drop(lock(&shared.reaper).take());
        if let Some(h) = lock(&shared.reaper_thread).take() {
            let _ = h.join();
        }
        if let Some(b) = &shared.bridge {
            b.teardown(&lock(&shared.host_nl));
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One environment's network namespace. Dropping it deletes its veth pair
/// and gives its address back; the namespace itself ends with its last
/// user (this descriptor, the environment's processes, the Runtime API
/// socket).
pub struct EnvNet {
    netns: OwnedFd,
    listener: Option<TcpListener>,
    veth: Option<(String, Ipv4Addr)>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EnvNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvNet")
            .field("netns", &self.netns)
            .field("veth", &self.veth)
            .finish()
    }
}

impl EnvNet {
    /// The namespace, for the keeper to `setns` into.
    pub fn netns_fd(&self) -> RawFd {
        self.netns.as_raw_fd()
    }

    /// The Runtime API's listening socket (non-blocking), once.
    pub fn take_listener(&mut self) -> Option<TcpListener> {
        self.listener.take()
    }

    /// The environment's address on the bridge, if any.
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.veth.as_ref().map(|(_, a)| *a)
    }

    /// The host's end of the veth pair, if any.
    pub fn host_ifname(&self) -> Option<&str> {
        self.veth.as_ref().map(|(n, _)| n.as_str())
    }
}

impl Drop for EnvNet {
    fn drop(&mut self) {
        let Some(veth) = self.veth.take() else {
            return;
        };
        let queued = match lock(&self.shared.reaper).as_ref() {
            Some(tx) => tx.send(veth),
            None => Err(mpsc::SendError(veth)),
        };
        if let Err(mpsc::SendError((name, addr))) = queued {
            delete_veth(&lock(&self.shared.host_nl), &name);
            lock(&self.shared.addrs).release(addr);
        }
    }
}

/// The interface group a server's veths join just before they are deleted
/// together: "IG" and the low bits of the bridge's index.
fn doomed_group(bridge_index: u32) -> u32 {
    0x4947_0000 | (bridge_index & 0xffff)
}

/// Deletes queued veths until the queue closes, every veth queued by then
/// in one request (deleting a link waits for RCU grace periods, ≈ 35 ms
/// here; a batch waits once); an address is reused only once its veth is
/// gone.
fn reap(
    nl: &Socket,
    addrs: &Mutex<addr::Allocator>,
    queue: &mpsc::Receiver<(String, Ipv4Addr)>,
    group: u32,
) {
    background_priority();
    while let Ok(first) = queue.recv() {
        let batch: Vec<_> = std::iter::once(first).chain(queue.try_iter()).collect();
        let mut doomed = 0;
        for (name, _) in &batch {
            match nl.request("mark a veth for deletion", netlink::set_group(name, group)) {
                Ok(()) => doomed += 1,
                Err(NetlinkError::Refused { source, .. })
                    if source.raw_os_error() == Some(libc::ENODEV) => {}
                Err(e) => {
                    tracing::warn!(veth = %name, error = %e, "failed to mark a veth for deletion")
                }
            }
        }
        if doomed > 0 {
            if let Err(e) = nl.request("delete veths", netlink::del_group(group)) {
                tracing::warn!(veths = doomed, error = %e, "failed to delete veths");
            }
        }
        tracing::debug!(veths = doomed, "veths deleted");
        let mut addrs = lock(addrs);
        for (_, addr) in batch {
            addrs.release(addr);
        }
    }
}

fn delete_veth(nl: &Socket, name: &str) {
    match nl.request("delete a veth", netlink::del_link(name)) {
        Ok(()) => {}
        // Already gone (its namespace ended first).
        Err(NetlinkError::Refused { source, .. })
            if source.raw_os_error() == Some(libc::ENODEV) => {}
        Err(e) => tracing::warn!(veth = name, error = %e, "failed to delete a veth"),
    }
}

/// `ig<bridge number>g<network number in this process>v`: at most 8
/// bytes, so a 6-hex-digit counter keeps names within 15. Unique per
/// network, so a veth a previous network of this process left to be
/// deleted never takes a new one's name.
fn veth_prefix(bridge: Option<&str>) -> String {
    static NETWORKS: AtomicU64 = AtomicU64::new(0);
    // Offset by the pid, so a server restarted at once after a kill (whose
    // veths the kernel may still be tearing down) starts at other names.
    let n = (u64::from(std::process::id()) + NETWORKS.fetch_add(1, Ordering::Relaxed)) % 0x100;
    let bridge = bridge.map_or("", |b| b.trim_start_matches("ignis"));
    format!("ig{bridge}g{n:x}v")
}

/// Keeps the pool at its target until stopped.
fn refill(shared: &Arc<Shared>, pool: &Pool) {
    background_priority();
    let mut failed = false;
    while pool.wait_for_need() {
        match create(shared) {
            Ok(n) => {
                failed = false;
                if pool.stopped() {
                    return;
                }
                pool.put(n);
            }
            Err(e) => {
                if !failed {
                    tracing::warn!(error = %e, "failed to prepare a network namespace");
                }
                failed = true;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Makes a namespace with `lo` up, the Runtime API socket bound and, in
/// `bridge` mode, its veth wired and addressed.
fn create(shared: &Arc<Shared>) -> Result<EnvNet, NetError> {
    let veth = match &shared.bridge {
        Some(_) => {
            let addr = lock(&shared.addrs).allocate().ok_or(NetError::NoAddress)?;
            let n = shared.counter.fetch_add(1, Ordering::Relaxed) % 0x100_0000;
            let name = format!("{}{n:x}", shared.veth_prefix);
            Some((name, addr))
        }
        None => None,
    };
    let made = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("ignis-netns".into())
            .spawn_scoped(s, || prepare(shared, veth.as_ref()))
            .map_err(NetError::Thread)?
            .join()
            .unwrap_or_else(|_| Err(NetError::Thread(io::Error::other("thread panicked"))))
    });
    match made {
        Ok((netns, listener)) => Ok(EnvNet {
            netns,
            listener: Some(listener),
            veth,
            shared: shared.clone(),
        }),
        Err(e) => {
            if let Some((name, addr)) = veth {
                if std::path::Path::new("/sys/class/net").join(&name).exists() {
                    delete_veth(&lock(&shared.host_nl), &name);
                }
                lock(&shared.addrs).release(addr);
            }
            Err(e)
        }
    }
}

/// Runs on its own thread, which ends inside the new namespace.
fn prepare(
    shared: &Shared,
    veth: Option<&(String, Ipv4Addr)>,
) -> Result<(OwnedFd, TcpListener), NetError> {
    unshare_net().map_err(NetError::Unshare)?;
    let netns = open_ns(c"/proc/thread-self/ns/net").map_err(NetError::Unshare)?;
    let nl = Socket::open()?;
    nl.request("bring up the loopback", netlink::link_up(LOOPBACK_INDEX))?;
    let listener = TcpListener::bind(RUNTIME_API_ADDR).map_err(NetError::Listen)?;
    listener.set_nonblocking(true).map_err(NetError::Listen)?;
    if let (Some((name, addr)), Some(b)) = (veth, &shared.bridge) {
        lock(&shared.host_nl).request(
            "create a veth pair",
            netlink::new_veth(name, Some(b.index), GUEST_IFNAME, netns.as_raw_fd()),
        )?;
        setns(shared.host_ns.as_raw_fd()).map_err(NetError::Setns)?;
        let host_index = netlink::index_of(name).map_err(NetError::Index)?;
        lock(&shared.host_nl)
            .request("isolate a bridge port", netlink::isolate_port(host_index))?;
        setns(netns.as_raw_fd()).map_err(NetError::Setns)?;
        let eth0 = netlink::index_of(GUEST_IFNAME).map_err(NetError::Index)?;
        nl.request("bring up the environment's veth", netlink::link_up(eth0))?;
        nl.request(
            "address the environment",
            netlink::add_addr(eth0, *addr, b.subnet.prefix),
        )?;
        nl.request(
            "add the default route",
            netlink::default_route(eth0, b.gateway()),
        )?;
    }
    Ok((netns, listener))
}

#[allow(unsafe_code)]
fn unshare_net() -> io::Result<()> {
    // SAFETY: unshare(2) with a constant flag; it moves only the calling
    // thread (a dedicated one) into a new network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[allow(unsafe_code)]
fn setns(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns(2) on a namespace descriptor we own; it moves only the
    // calling thread (a dedicated one).
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[allow(unsafe_code)]
fn open_ns(path: &std::ffi::CStr) -> io::Result<OwnedFd> {
    // SAFETY: open(2) of a NUL-terminated path; the result is checked and
    // owned below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests;
