//! The `bridge` mode's one-time host setup: the bridge `ignis<N>` with the
//! gateway address, IPv4 forwarding and a MASQUERADE rule for its subnet;
//! and their removal at shutdown.
//!
//! The bridge and its address are made over netlink. The NAT rule is the one
//! step that shells out, once per server start and stop: to `nft` (its own
//! table `ip ignis<N>`), else `iptables`; when neither is installed the
//! environments reach this host but not beyond it, and the start-up line
//! says so.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::addr::{self, Subnet};
use super::netlink::{self, Socket};
use super::NetError;

const FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
/// Left by the server that turned forwarding on, for the last server to
/// stop (whichever it is, even after a crash) to turn it back off.
const FORWARD_MARKER: &str = "/run/ignis-ip-forward-was-off";
/// What a bridge's alias starts with; the owning server's pid follows.
const ALIAS: &str = "ignis pid ";

/// How environments' traffic leaves the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// An nftables table of our own.
    Nft,
    /// A rule in iptables' `nat` table.
    Iptables,
    /// No tool to set it up: only the host is reachable.
    Missing,
}

/// A bridge this server set up.
#[derive(Debug)]
pub struct Bridge {
    /// `ignis<N>`.
    pub name: String,
    /// Its interface index.
    pub index: u32,
    /// The environments' subnet.
    pub subnet: Subnet,
    /// How egress is translated.
    pub nat: Nat,
}

impl Bridge {
    /// The host's address on the bridge, the environments' gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        self.subnet.gateway()
    }

    /// Creates the bridge on the first free subnet, with NAT and forwarding.
    pub fn setup(host: &Socket) -> Result<Self, NetError> {
        // From the first look at the bridges until this one is set up, no
        // other server on the host does the same (see [`SetupLock`]).
        let _lock = SetupLock::take();
        for n in 0..addr::MAX_BRIDGES {
            reclaim(host, n);
        }
        let routes = std::fs::read_to_string("/proc/net/route").map_err(NetError::Routes)?;
        let routes: Vec<Subnet> = addr::parse_routes(&routes)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        // A server that set up its bridge without the lock (an older one,
        // or none could be had) may take the number chosen between our look
        // and our request: the kernel refuses the second `ignis<N>`
        // (EEXIST), and the next free one is tried.
        let mut lost = Vec::new();
        let (subnet, name) = loop {
            let (n, subnet) = addr::choose(&routes, |n| {
                !lost.contains(&n)
                    && !std::path::Path::new("/sys/class/net")
                        .join(format!("ignis{n}"))
                        .exists()
            })
            .ok_or(NetError::NoSubnet)?;
            let name = format!("ignis{n}");
            match host.request("create the bridge", netlink::new_bridge(&name, mac(n))) {
                Ok(()) => break (subnet, name),
                Err(netlink::NetlinkError::Refused { source, .. })
                    if source.raw_os_error() == Some(libc::EEXIST) =>
                {
                    lost.push(n);
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut bridge = Self {
            index: 0,
            name,
            subnet,
            nat: Nat::Missing,
        };
        if let Err(e) = bridge.configure(host) {
            bridge.teardown(host);
            return Err(e);
        }
        Ok(bridge)
    }

    fn configure(&mut self, host: &Socket) -> Result<(), NetError> {
        self.index = netlink::index_of(&self.name).map_err(NetError::Index)?;
        let alias = format!("{ALIAS}{} {}", std::process::id(), pid_namespace());
        host.request(
            "record the bridge's owner",
            netlink::set_alias(self.index, &alias),
        )?;
        host.request(
            "address the bridge",
            netlink::add_addr(self.index, self.gateway(), self.subnet.prefix),
        )?;
        self.nat = add_nat(&self.name, self.subnet)?;
        // Without NAT nothing is forwarded: the environments' private source
        // addresses must not leave the host untranslated.
        if self.nat == Nat::Missing {
            return Ok(());
        }
        let forward = std::fs::read_to_string(FORWARD).map_err(NetError::Forward)?;
        if forward.trim() == "0" {
            std::fs::write(FORWARD_MARKER, "").map_err(NetError::Forward)?;
            std::fs::write(FORWARD, "1").map_err(NetError::Forward)?;
        }
        Ok(())
    }

    /// Removes the NAT rule and the bridge; turns forwarding back off if an
    /// Ignis server turned it on and no Ignis bridge is left.
    pub fn teardown(&self, host: &Socket) {
        remove_nat(self.nat, &self.name, self.subnet);
        if let Err(e) = host.request("delete the bridge", netlink::del_link(&self.name)) {
            tracing::warn!(bridge = %self.name, error = %e, "failed to delete the bridge");
        }
        if !other_bridges() && std::fs::remove_file(FORWARD_MARKER).is_ok() {
            let _ = std::fs::write(FORWARD, "0");
        }
        tracing::info!(bridge = %self.name, "network bridge removed");
    }
}

/// Serializes the bridge set-up of the servers on this host. Reclaiming a
/// killed server's bridge is a look (its alias names a dead owner) and
/// then deletions by name — of its NAT table, the bridge and the `ig<N>g…`
/// veths. Two servers starting at once used to both find the same bridge
/// stale: while one was still deleting, the other had deleted it, made its
/// own `ignis<N>` by the same name and its NAT table, and lost them (the
/// new server then failed to bind its functions' endpoint on the gateway,
/// or its environments their veths). Held with `flock` on a file in `/run`
/// from before the first look until the new bridge has its owner's alias
/// and its NAT; the kernel lets go of it when its holder dies. Without the
/// file (no `/run`), or after 30 s of waiting for a server stuck in its
/// set-up, the set-up goes ahead unlocked.
struct SetupLock {
    _held: Option<std::fs::File>,
}

/// The lock file.
const SETUP_LOCK: &str = "/run/ignis-network.lock";

impl SetupLock {
    #[allow(unsafe_code)]
    fn take() -> Self {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(SETUP_LOCK)
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = SETUP_LOCK, error = %e, "failed to open the network set-up lock; setting up without it");
                return Self { _held: None };
            }
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Self { _held: Some(file) };
            }
            let e = std::io::Error::last_os_error();
            let busy = e.raw_os_error() == Some(libc::EWOULDBLOCK)
                || e.kind() == std::io::ErrorKind::Interrupted;
            if !busy || std::time::Instant::now() >= until {
                tracing::warn!(path = SETUP_LOCK, error = %e, "failed to take the network set-up lock; setting up without it");
                return Self { _held: None };
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// The hardware address of `ignis<n>`: locally administered (`02:`),
/// unicast, "IG", the bridge's number. Set at creation so that it never
/// changes (`netlink::new_bridge`); the same on every start of the same
/// bridge number, and each bridge is its own link, so no two environments
/// ever see it on two machines at once.
pub(super) fn mac(n: u32) -> [u8; 6] {
    let [_, _, hi, lo] = n.to_be_bytes();
    [0x02, b'I', b'G', 0, hi, lo]
}

/// Deletes `ignis<n>` and its NAT table if a server that is gone (killed)
/// left them.
fn reclaim(host: &Socket, n: u32) {
    let name = format!("ignis{n}");
    if !stale(&name) {
        return;
    }
    tracing::info!(bridge = %name, "removing a bridge left by a stopped server");
    remove_nat(Nat::Nft, &name, Subnet::nth(n));
    remove_nat(Nat::Iptables, &name, Subnet::nth(n));
    if let Err(e) = host.request("delete a stale bridge", netlink::del_link(&name)) {
        // Unless another server starting now removed it first.
        if std::path::Path::new("/sys/class/net").join(&name).exists() {
            tracing::warn!(bridge = %name, error = %e, "failed to delete a stale bridge");
        }
    }
    // Its veths (`ig<n>g…`) go when the kernel tears the dead server's
    // namespaces down, which it does asynchronously: delete what is left
    // so a new server's veth names cannot collide with them.
    let prefix = format!("ig{n}g");
    if let Ok(links) = std::fs::read_dir("/sys/class/net") {
        for link in links.flatten() {
            let link = link.file_name().to_string_lossy().into_owned();
            if link.starts_with(&prefix) {
                let _ = host.request("delete a stale veth", netlink::del_link(&link));
            }
        }
    }
}

/// Whether `iface` is an Ignis bridge whose server is no longer running.
/// The alias names the owner's pid and PID namespace; a pid is only
/// checked within our own PID namespace (two servers in different PID
/// namespaces sharing one network namespace cannot see each other's pids,
/// and must not take each other's bridge for stale).
fn stale(iface: &str) -> bool {
    let path = format!("/sys/class/net/{iface}/ifalias");
    let Some((pid, pidns)) = std::fs::read_to_string(path).ok().and_then(|a| {
        let rest = a.trim().strip_prefix(ALIAS)?.to_string();
        let mut words = rest.split_whitespace();
        let pid = words.next()?.parse::<libc::pid_t>().ok()?;
        Some((pid, words.next().map(str::to_string)))
    }) else {
        return false;
    };
    if pidns.as_deref() != Some(pid_namespace().as_str()) {
        return false;
    }
    !crate::namespace::spawn::exists(pid)
}

/// This process's PID namespace (`pid:[4026531836]`), as the kernel names
/// it; empty if it cannot be read.
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn other_bridges() -> bool {
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("ignis"))
        })
        .unwrap_or(false)
}

/// Link-local addresses (169.254.0.0/16) hold cloud instance metadata
/// services (169.254.169.254: an instance role's credentials), which Lambda
/// does not expose to functions: `bridge` environments may not reach them,
/// whether routed through the host or addressed to it.
const LINK_LOCAL: &str = "169.254.0.0/16";

/// The nftables table of `bridge`: masquerade what leaves through another
/// interface, and drop what the environments send to link-local addresses.
fn nft_table(bridge: &str, subnet: Subnet) -> String {
    format!(
        "table ip {bridge} {{\n \
         chain post {{\n  type nat hook postrouting priority srcnat;\n  \
         ip saddr {subnet} oifname != \"{bridge}\" masquerade\n }}\n \
         chain filter_forward {{\n  type filter hook forward priority filter;\n  \
         iifname \"{bridge}\" ip daddr {LINK_LOCAL} drop\n }}\n \
         chain filter_input {{\n  type filter hook input priority filter;\n  \
         iifname \"{bridge}\" ip daddr {LINK_LOCAL} drop\n }}\n}}\n"
    )
}

fn add_nat(bridge: &str, subnet: Subnet) -> Result<Nat, NetError> {
    if run("nft", &["-f", "-"], Some(&nft_table(bridge, subnet)))? {
        return Ok(Nat::Nft);
    }
    let rules = iptables_rules(bridge, subnet);
    for (i, (table, chain, rule)) in rules.iter().enumerate() {
        let mut args = vec!["-t", table, "-A", chain];
        args.extend(rule.iter().map(String::as_str));
        if !run("iptables", &args, None)? {
            if i > 0 {
                remove_nat(Nat::Iptables, bridge, subnet);
            }
            return Ok(Nat::Missing);
        }
    }
    Ok(Nat::Iptables)
}

fn remove_nat(nat: Nat, bridge: &str, subnet: Subnet) {
    match nat {
        Nat::Nft => {
            let _ = run("nft", &["delete", "table", "ip", bridge], None);
        }
        Nat::Iptables => {
            for (table, chain, rule) in iptables_rules(bridge, subnet) {
                let mut args = vec!["-t", table, "-D", chain];
                args.extend(rule.iter().map(String::as_str));
                let _ = run("iptables", &args, None);
            }
        }
        Nat::Missing => {}
    }
}

/// The iptables fallback of [`nft_table`]: (table, chain, rule).
fn iptables_rules(bridge: &str, subnet: Subnet) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let rule = |words: &[&str]| words.iter().map(|w| (*w).to_string()).collect::<Vec<_>>();
    let subnet = subnet.to_string();
    vec![
        (
            "nat",
            "POSTROUTING",
            rule(&["-s", &subnet, "!", "-o", bridge, "-j", "MASQUERADE"]),
        ),
        (
            "filter",
            "FORWARD",
            rule(&["-i", bridge, "-d", LINK_LOCAL, "-j", "DROP"]),
        ),
        (
            "filter",
            "INPUT",
            rule(&["-i", bridge, "-d", LINK_LOCAL, "-j", "DROP"]),
        ),
    ]
}

/// Runs `tool`: `Ok(false)` when it is not installed, an error when it
/// failed.
fn run(tool: &str, args: &[&str], stdin: Option<&str>) -> Result<bool, NetError> {
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(NetError::Nat(format!("{tool}: {e}"))),
    };
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| NetError::Nat(format!("{tool}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetError::Nat(format!("{tool}: {e}")))?;
    if out.status.success() {
        Ok(true)
    } else {
        Err(NetError::Nat(format!(
            "{tool} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod nat_tests {
    use super::*;

    #[test]
    fn the_table_masquerades_and_drops_link_local() {
        let t = nft_table("ignis7", Subnet::nth(7));
        assert!(t.contains("masquerade"), "{t}");
        assert_eq!(t.matches("ip daddr 169.254.0.0/16 drop").count(), 2, "{t}");
        assert!(
            t.contains("hook forward") && t.contains("hook input"),
            "{t}"
        );
        let rules = iptables_rules("ignis7", Subnet::nth(7));
        assert_eq!(rules.len(), 3);
        assert!(rules[1..]
            .iter()
            .all(|(_, _, r)| r.ends_with(&["DROP".to_string()])));
    }

    /// `nft -c` parses the table without applying it (nftables needed,
    /// which scripts/test.sh installs).
    #[ignore = "needs root (nft -c): scripts/test.sh runs it as root with --ignored"]
    #[test]
    fn nft_accepts_the_table() {
        match run(
            "nft",
            &["-c", "-f", "-"],
            Some(&nft_table("ignis7", Subnet::nth(7))),
        ) {
            Ok(true) => {}
            Ok(false) => panic!("nft is not installed (scripts/test.sh installs nftables)"),
            Err(e) => panic!("nft refused the table: {e}"),
        }
    }
}
