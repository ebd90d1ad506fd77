//! Root-only tests of the network modes: what an environment can reach,
//! that veths go with their environments, and what a namespace costs.
//! Without root they print why they skip. Message building and address
//! allocation are tested without root beside their code.

use std::net::TcpStream;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::namespace::{NamespaceSandbox, DEFAULT_GID, DEFAULT_UID};
use crate::{ExitInfo, LaunchSpec, Sandbox};

/// Root tests run one at a time, so counting this process's namespace
/// descriptors is exact.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn veths(net: &Network) -> usize {
    let prefix = net.veth_prefix().unwrap();
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .count()
}

/// Runs `f` on a thread inside the namespace `fd`.
fn inside<T: Send>(fd: RawFd, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(fd).unwrap();
            f()
        })
        .join()
        .unwrap()
    })
}

/// The bridge `name` that had `index` is gone (a concurrent test may have
/// made another by that name since).
fn assert_bridge_gone(name: &str, index: u32) {
    assert_ne!(
        netlink::index_of(name).ok(),
        Some(index),
        "{name} outlived its network"
    );
}

#[test]
fn veth_names_fit_in_an_interface_name() {
    let longest = format!("{}{:x}", veth_prefix(Some("ignis15")), 0xff_ffff);
    assert!(longest.len() < libc::IFNAMSIZ, "{longest}");
    assert!(veth_prefix(Some("ignis3")).starts_with("ig3g"));
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[test]
fn a_none_namespace_holds_the_runtime_api_socket_and_nothing_of_the_host() {
    let _serial = SERIAL.blocking_lock();
    let net = Network::setup(NetMode::None, 0).unwrap();
    assert_eq!(net.runtime_api_addr(), Some(RUNTIME_API_ADDR));
    let host_only = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host_only.local_addr().unwrap().port();
    let mut env = net.take().unwrap().unwrap();
    let api = env.take_listener().unwrap();
    assert_eq!(api.local_addr().unwrap(), RUNTIME_API_ADDR);
    assert!(env.address().is_none());
    let (to_api, to_host) = inside(env.netns_fd(), || {
        (
            TcpStream::connect(RUNTIME_API_ADDR).is_ok(),
            TcpStream::connect(("127.0.0.1", host_port)).map_err(|e| e.kind()),
        )
    });
    assert!(to_api, "the runtime reaches the API inside");
    assert_eq!(to_host.unwrap_err(), io::ErrorKind::ConnectionRefused);
    net.shutdown();
}

/// `n` bridge set-ups started together, the `i`-th `delay(i)` after the
/// others: servers starting on one host at the same moment.
fn set_up_at_once(n: u64, delay: impl Fn(u64) -> Duration + Sync) -> Vec<Network> {
    let start = std::sync::Barrier::new(n as usize);
    std::thread::scope(|s| {
        let setups: Vec<_> = (0..n)
            .map(|i| {
                let (start, delay) = (&start, &delay);
                s.spawn(move || {
                    start.wait();
                    std::thread::sleep(delay(i));
                    Network::setup(NetMode::Bridge, 0)
                })
            })
            .collect();
        setups
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect()
    })
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[test]
fn bridges_set_up_at_the_same_moment_each_get_their_own() {
    let _serial = SERIAL.blocking_lock();
    for _ in 0..10 {
        let nets = set_up_at_once(2, |_| Duration::ZERO);
        let names: Vec<_> = nets
            .iter()
            .map(|n| n.bridge_name().unwrap().to_string())
            .collect();
        assert_ne!(names[0], names[1]);
        nets.iter().for_each(Network::shutdown);
    }
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[test]
fn a_killed_server_s_bridge_reclaimed_by_servers_starting_at_once_leaves_each_its_own() {
    let _serial = SERIAL.blocking_lock();
    let host = Socket::open().unwrap();
    let dead = crate::namespace::spawn::never_a_pid();
    let pidns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let alias = format!("ignis pid {dead} {}", pidns.display());
    // Four servers, each starting 0–3 ms after the last: their looks at
    // the stale bridge and deletions by name used to meet the bridge one
    // of them had made anew by that name.
    for round in 0..8u64 {
        // What a killed server leaves: the first free bridge, its alias
        // naming its owner.
        let n = (0..addr::MAX_BRIDGES)
            .find(|n| !std::path::Path::new(&format!("/sys/class/net/ignis{n}")).exists())
            .unwrap();
        let stale = format!("ignis{n}");
        host.request(
            "make a stale bridge",
            netlink::new_bridge(&stale, bridge::mac(n)),
        )
        .unwrap();
        let index = netlink::index_of(&stale).unwrap();
        host.request("name its owner", netlink::set_alias(index, &alias))
            .unwrap();
        let nets = set_up_at_once(4, |i| Duration::from_millis(i * (round % 4)));
        assert_ne!(
            netlink::index_of(&stale).ok(),
            Some(index),
            "the stale bridge stayed"
        );
        for net in &nets {
            let name = net.bridge_name().unwrap();
            assert!(
                netlink::index_of(name).is_ok(),
                "{name} was deleted under its server"
            );
            // What `ignis serve` binds its functions' endpoint on.
            TcpListener::bind((net.gateway().unwrap(), 0)).unwrap();
        }
        nets.iter().for_each(Network::shutdown);
    }
}

#[test]
fn bridge_addresses_are_locally_administered_unicast_and_per_bridge() {
    let (a, b) = (bridge::mac(0), bridge::mac(15));
    assert_eq!(a[0] & 0b11, 0b10, "locally administered, unicast");
    assert_ne!(a, b);
}

/// A bridge left to the kernel's random address took the lowest of its
/// ports' as veths came and went; an environment whose ARP entry held the
/// old one then could not reach the gateway until the entry went stale and
/// failed (≥ 8 s): the functions' endpoint hung mid keep-alive connection
/// (test_streaming's poll of its tags, 1 run in ~10).
#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[test]
fn an_environment_keeps_reaching_the_gateway_as_other_environments_come_and_go() {
    let _serial = SERIAL.blocking_lock();
    let net = Network::setup(NetMode::Bridge, 0).unwrap();
    let bridge = net.bridge_name().unwrap().to_string();
    let address = || std::fs::read_to_string(format!("/sys/class/net/{bridge}/address")).unwrap();
    let set = address();
    let gateway = net.gateway().unwrap();
    let on_gateway = TcpListener::bind((gateway, 0)).unwrap();
    let at = on_gateway.local_addr().unwrap();
    let connect = || TcpStream::connect_timeout(&at, Duration::from_secs(2)).map(|_| ());

    let first = net.take().unwrap().unwrap();
    inside(first.netns_fd(), connect).expect("first connect");
    let others: Vec<EnvNet> = (0..10).map(|_| net.take().unwrap().unwrap()).collect();
    inside(first.netns_fd(), connect).expect("after ports were added");
    drop(others);
    let until = Instant::now() + Duration::from_secs(10);
    while veths(&net) > 1 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(veths(&net), 1, "the others' veths are gone");
    inside(first.netns_fd(), connect).expect("after ports were removed");
    assert_eq!(address(), set, "the bridge's address changed");
    let n: u32 = bridge.trim_start_matches("ignis").parse().unwrap();
    let want: Vec<String> = bridge::mac(n).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(set.trim(), want.join(":"));
    drop(first);
    net.shutdown();
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[test]
fn bridge_environments_reach_the_gateway_not_the_hosts_loopback_and_veths_go_with_them() {
    let _serial = SERIAL.blocking_lock();
    let net = Network::setup(NetMode::Bridge, 0).unwrap();
    let bridge = net.bridge_name().unwrap().to_string();
    let index = netlink::index_of(&bridge).unwrap();
    let gateway = net.gateway().unwrap();
    let on_gateway = TcpListener::bind((gateway, 0)).unwrap();
    let gw_port = on_gateway.local_addr().unwrap().port();
    let on_loopback = TcpListener::bind("127.0.0.1:0").unwrap();
    let lo_port = on_loopback.local_addr().unwrap().port();

    let envs: Vec<EnvNet> = (0..10).map(|_| net.take().unwrap().unwrap()).collect();
    assert_eq!(veths(&net), 10);
    let mut addrs: Vec<_> = envs.iter().map(|e| e.address().unwrap()).collect();
    addrs.dedup();
    assert_eq!(addrs.len(), 10, "every environment has its own address");
    let (gw, lo, gw_lo) = inside(envs[0].netns_fd(), || {
        let try_connect = |a: SocketAddr| TcpStream::connect(a).map(|_| ()).map_err(|e| e.kind());
        (
            try_connect(SocketAddr::from((gateway, gw_port))),
            try_connect(SocketAddr::from((Ipv4Addr::LOCALHOST, lo_port))),
            try_connect(SocketAddr::from((gateway, lo_port))),
        )
    });
    assert_eq!(gw, Ok(()), "the host's bridge address is reachable");
    assert_eq!(lo, Err(io::ErrorKind::ConnectionRefused));
    assert_eq!(gw_lo, Err(io::ErrorKind::ConnectionRefused));
    // Isolated bridge ports: one environment cannot reach another.
    let neighbour = SocketAddr::from((envs[1].address().unwrap(), 8080));
    let _listening = inside(envs[1].netns_fd(), || TcpListener::bind(neighbour).unwrap());
    let to_neighbour = inside(envs[0].netns_fd(), || {
        TcpStream::connect_timeout(&neighbour, Duration::from_secs(1)).map(|_| ())
    });
    assert!(to_neighbour.is_err(), "reached the other environment");
    drop(envs);
    net.shutdown(); // waits for the queued deletions
    assert_eq!(veths(&net), 0, "no veth outlives its environment");
    assert_bridge_gone(&bridge, index);
}

fn p50(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_ms(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1000.0
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[test]
fn cost_of_a_namespace_made_on_demand_and_taken_from_the_pool() {
    let _serial = SERIAL.blocking_lock();
    for mode in [NetMode::None, NetMode::Bridge] {
        let net = Network::setup(mode, 4).unwrap();
        let (shared, pool) = net.state.as_ref().unwrap();
        let (mut fresh, mut dropped) = (Vec::new(), Vec::new());
        for _ in 0..30 {
            let mut made = None;
            fresh.push(time_ms(|| made = Some(create(shared).unwrap())));
            dropped.push(time_ms(|| drop(made)));
        }
        let mut pooled = Vec::new();
        for _ in 0..30 {
            while pool.len() < pool.target() {
                std::thread::sleep(Duration::from_millis(2));
            }
            let mut taken = None;
            pooled.push(time_ms(|| taken = Some(net.take().unwrap())));
            drop(taken);
        }
        println!(
            "network {}: namespace made on demand p50 {:.3} ms (dropping it {:.3} ms), \
             taken from the pool p50 {:.3} ms",
            mode.name(),
            p50(&mut fresh),
            p50(&mut dropped),
            p50(&mut pooled)
        );
        if mode == NetMode::Bridge {
            // 30 environments ending at once: their veths go in batches.
            let envs: Vec<_> = (0..30).map(|_| create(shared).unwrap()).collect();
            let deleted = time_ms(|| {
                drop(envs);
                net.shutdown(); // drains the reaper
            });
            println!("network bridge: 30 veths deleted in {deleted:.1} ms");
        }
        net.shutdown();
    }
}

async fn run_script(s: &NamespaceSandbox, dir: &std::path::Path, script: &str) -> String {
    for d in ["code", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let spec = LaunchSpec {
        env_id: format!("net-{}-{}", std::process::id(), uuid_ish()),
        program: "/usr/bin/bash".into(),
        args: vec!["-c".into(), script.into()],
        code_dir: dir.join("code"),
        tmp_dir: dir.join("tmp"),
        opt_dir: None,
        runtime_dir: None,
        env: Vec::new(),
        memory_mb: 256,
        tmp_mb: 1,
        prestart: None,
    };
    let mut l = s.launch(spec).await.unwrap();
    let api = l.runtime_api.take().expect("a Runtime API socket inside");
    let api = tokio::net::TcpListener::from_std(api).unwrap();
    let serve = tokio::spawn(async move {
        let (mut conn, _) = api.accept().await.unwrap();
        conn.write_all(b"pong\n").await.unwrap();
    });
    let mut out = String::new();
    l.output.read_to_string(&mut out).await.unwrap();
    let mut rx = l.process.exited();
    let info = rx.wait_for(Option::is_some).await.unwrap().unwrap();
    assert_eq!(info, ExitInfo::Code(0), "output: {out}");
    serve.abort();
    out
}

fn uuid_ish() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// What a function sees of the network, as `key=value` lines.
fn probe_script(lo_port: u16, gateway: Option<Ipv4Addr>, gw_port: u16) -> String {
    let gw = gateway.map_or("172.31.255.254".to_string(), |g| g.to_string());
    format!(
        r#"
        echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ,)
        read -r reply </dev/tcp/127.0.0.1/9001 && echo api=$reply
        (echo x >/dev/tcp/127.0.0.1/{lo_port}) 2>/dev/null && echo host_loopback=reached || echo host_loopback=unreachable
        (echo x >/dev/tcp/{gw}/{gw_port}) 2>/dev/null && echo gateway=reached || echo gateway=unreachable
        exit 0
        "#
    )
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn functions_in_none_and_bridge_reach_the_runtime_api_at_9001_and_not_the_hosts_loopback() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let on_loopback = TcpListener::bind("127.0.0.1:0").unwrap();
    let lo_port = on_loopback.local_addr().unwrap().port();
    for mode in [NetMode::None, NetMode::Bridge] {
        let net = Arc::new(Network::setup(mode, 1).unwrap());
        let gateway = net.gateway();
        let on_gateway = TcpListener::bind((gateway.unwrap_or(Ipv4Addr::LOCALHOST), 0)).unwrap();
        let gw_port = on_gateway.local_addr().unwrap().port();
        let s = NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID)
            .unwrap()
            .with_network(net.clone());
        assert_eq!(s.runtime_api_addr(), Some(RUNTIME_API_ADDR));
        let out = run_script(&s, dir.path(), &probe_script(lo_port, gateway, gw_port)).await;
        assert!(out.contains("api=pong"), "{mode:?}: {out}");
        assert!(out.contains("host_loopback=unreachable"), "{mode:?}: {out}");
        match mode {
            NetMode::Bridge => {
                assert!(out.contains("ifaces=eth0,lo,"), "{out}");
                assert!(out.contains("gateway=reached"), "{out}");
            }
            _ => {
                assert!(out.contains("ifaces=lo,"), "{out}");
                assert!(out.contains("gateway=unreachable"), "{out}");
            }
        }
        drop(s);
        net.shutdown();
    }
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn fifty_environments_leave_no_veth_behind() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(Network::setup(NetMode::Bridge, 2).unwrap());
    let bridge = net.bridge_name().unwrap().to_string();
    let index = netlink::index_of(&bridge).unwrap();
    let s = NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID)
        .unwrap()
        .with_network(net.clone());
    for _ in 0..50 {
        run_script(&s, dir.path(), "read -r r </dev/tcp/127.0.0.1/9001").await;
    }
    // Veths are deleted in the background once their environment is reaped.
    for _ in 0..1000 {
        if veths(&net) <= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(veths(&net) <= 2, "only the pool's veths remain");
    drop(s);
    net.shutdown();
    assert_eq!(veths(&net), 0);
    assert_bridge_gone(&bridge, index);
}

/// Launch to exit of `/bin/sh -c 'exit 0'` (3,538 MB: two vCPUs, so the
/// CPU quota does not throttle it), p50 of 30 rounds; each round launches
/// once per mode, alternating, so a busy machine skews them alike.
#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn cold_start_by_network_mode() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    for d in ["code", "tmp"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let spec = || LaunchSpec {
        env_id: format!("cold-{}-{}", std::process::id(), uuid_ish()),
        program: "/bin/sh".into(),
        args: vec!["-c".into(), "exit 0".into()],
        code_dir: dir.path().join("code"),
        tmp_dir: dir.path().join("tmp"),
        opt_dir: None,
        runtime_dir: None,
        env: Vec::new(),
        memory_mb: 3538,
        tmp_mb: 1,
        prestart: None,
    };
    let modes = [
        (NetMode::Host, 0),
        (NetMode::None, 0),
        (NetMode::None, DEFAULT_POOL_SIZE),
        (NetMode::Bridge, 0),
        (NetMode::Bridge, DEFAULT_POOL_SIZE),
    ];
    let mut sandboxes: Vec<(String, Arc<Network>, Box<dyn Sandbox>)> = modes
        .iter()
        .map(|&(mode, pool)| {
            let net = Arc::new(Network::setup(mode, pool).unwrap());
            let s = NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID)
                .unwrap()
                .with_network(net.clone());
            (
                format!("{} (pool {pool})", mode.name()),
                net,
                Box::new(s) as Box<dyn Sandbox>,
            )
        })
        .collect();
    sandboxes.push((
        "process".into(),
        Arc::new(Network::host()),
        Box::new(crate::process::ProcessSandbox),
    ));
    let mut ms = vec![Vec::new(); sandboxes.len()];
    for _ in 0..30 {
        for ((_, net, s), ms) in sandboxes.iter().zip(&mut ms) {
            if let Some((_, p)) = &net.state {
                while p.target() > 0 && p.len() < p.target() {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            let started = Instant::now();
            let l = s.launch(spec()).await.unwrap();
            let info = *l.process.exited().wait_for(Option::is_some).await.unwrap();
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(info, Some(ExitInfo::Code(0)));
        }
    }
    let report: Vec<String> = sandboxes
        .iter()
        .zip(&mut ms)
        .map(|((name, _, _), ms)| format!("{name} {:.2} ms", p50(ms)))
        .collect();
    println!(
        "launch to exit of /bin/sh, p50 of 30: {}",
        report.join(", ")
    );
    for (_, net, _) in &sandboxes {
        net.shutdown();
    }
}

/// A network namespace standing in for the world beyond the host:
/// `eth0` 198.18.0.2/24 (a benchmarking range), linked to the host's
/// `igo<pid>` 198.18.0.1/24. Its host end is deleted on drop.
struct Outside {
    ns: OwnedFd,
    host_if: String,
    host_nl: Socket,
}

const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const OUTSIDE_GW: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

impl Outside {
    fn new() -> Self {
        let host_nl = Socket::open().unwrap();
        let host_if = format!("igo{}", std::process::id());
        let (ns, nl) = std::thread::scope(|s| {
            s.spawn(|| {
                unshare_net().unwrap();
                let ns = open_ns(c"/proc/thread-self/ns/net").unwrap();
                (ns, Socket::open().unwrap())
            })
            .join()
            .unwrap()
        });
        host_nl
            .request(
                "create the outside's veth",
                netlink::new_veth(&host_if, None, GUEST_IFNAME, ns.as_raw_fd()),
            )
            .unwrap();
        let index = netlink::index_of(&host_if).unwrap();
        host_nl
            .request("address", netlink::add_addr(index, OUTSIDE_GW, 24))
            .unwrap();
        inside(ns.as_raw_fd(), || {
            let eth0 = netlink::index_of(GUEST_IFNAME).unwrap();
            nl.request("up", netlink::link_up(eth0)).unwrap();
            nl.request("address", netlink::add_addr(eth0, OUTSIDE, 24))
                .unwrap();
        });
        Self {
            ns,
            host_if,
            host_nl,
        }
    }

    /// Accepts one connection on `OUTSIDE` and answers with the address it
    /// came from.
    fn echo_peer(&self) -> (u16, std::thread::JoinHandle<()>) {
        let listener = inside(self.ns.as_raw_fd(), || {
            TcpListener::bind((OUTSIDE, 0)).unwrap()
        });
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let handle = std::thread::spawn(move || {
            use std::io::Write;
            // Gives up after 10 s, so a broken NAT fails the test, not hangs it.
            for _ in 0..1000 {
                if let Ok((mut conn, peer)) = listener.accept() {
                    conn.set_nonblocking(false).unwrap();
                    writeln!(conn, "{}", peer.ip()).unwrap();
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        (port, handle)
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self
            .host_nl
            .request("delete", netlink::del_link(&self.host_if));
    }
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[tokio::test]
async fn bridge_traffic_leaves_the_host_masqueraded() {
    let _serial = SERIAL.lock().await;
    let net = Arc::new(Network::setup(NetMode::Bridge, 0).unwrap());
    let nat = net.state.as_ref().unwrap().0.bridge.as_ref().unwrap().nat;
    if nat == Nat::Missing {
        println!("skipped: neither nft nor iptables is installed");
        net.shutdown();
        return;
    }
    let outside = Outside::new();
    let (port, server) = outside.echo_peer();
    let s = NamespaceSandbox::new(DEFAULT_UID, DEFAULT_GID)
        .unwrap()
        .with_network(net.clone());
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "read -r r </dev/tcp/127.0.0.1/9001
        echo peer=$(timeout 5 bash -c 'read -r p </dev/tcp/{OUTSIDE}/{port} && echo $p')"
    );
    let out = run_script(&s, dir.path(), &script).await;
    server.join().unwrap();
    assert_eq!(
        out.trim(),
        format!("peer={OUTSIDE_GW}"),
        "seen from outside"
    );
    drop(s);
    net.shutdown();
}

/// Network namespaces this process holds descriptors of.
fn netns_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("net:"))
        })
        .count()
}

#[ignore = "needs root (network namespaces): scripts/test.sh runs it as root with --ignored"]
#[test]
fn two_thousand_namespaces_leave_no_veth_descriptor_or_address_behind() {
    let _serial = SERIAL.blocking_lock();
    let before = netns_fds();
    let net = Network::setup(NetMode::Bridge, 0).unwrap();
    for _ in 0..20 {
        let envs: Vec<EnvNet> = (0..100).map(|_| net.take().unwrap().unwrap()).collect();
        assert!(veths(&net) >= 100);
        assert!(netns_fds() >= before + 100);
        drop(envs);
    }
    let (shared, _) = net.state.as_ref().unwrap();
    let shared = shared.clone();
    net.shutdown();
    assert_eq!(veths(&net), 0);
    drop(net);
    assert_eq!(netns_fds(), before + 1, "only the host's, kept by `shared`");
    drop(shared);
    assert_eq!(netns_fds(), before);
}
