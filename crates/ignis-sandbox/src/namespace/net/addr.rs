//! Addresses of the `bridge` mode: which subnet a server's bridge takes
//! (one /20 of 172.31.0.0/16 per bridge, skipping any that overlaps a host
//! route) and which address each environment gets in it.

use std::net::Ipv4Addr;

/// The range bridges are carved from.
pub const POOL_BASE: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 0);
/// Prefix of one bridge's subnet: 4,093 environments per server.
pub const SUBNET_PREFIX: u8 = 20;
/// How many bridges (servers on one host) the range holds.
pub const MAX_BRIDGES: u32 = 16;

/// An IPv4 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// The network address.
    pub base: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
}

impl Subnet {
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// Subnet number `n` of the bridge range.
    pub fn nth(n: u32) -> Self {
        let step = 1u32 << (32 - u32::from(SUBNET_PREFIX));
        Self {
            base: Ipv4Addr::from(u32::from(POOL_BASE) + n * step),
            prefix: SUBNET_PREFIX,
        }
    }

    /// The host's address on the bridge: the first one.
    pub fn gateway(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1)
    }

    /// Whether the two share an address.
    pub fn overlaps(self, other: Subnet) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.base) & m == u32::from(other.base) & m
    }

    /// Number of addresses, network and broadcast included.
    fn size(self) -> u32 {
        !self.mask() + 1
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// The routes of `/proc/net/route` (except the default route), with the
/// interface each goes out of.
pub fn parse_routes(text: &str) -> Vec<(String, Subnet)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let iface = f.first()?;
            // The kernel prints the network-order words as native integers.
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            let prefix = u8::try_from(mask.count_ones()).ok()?;
            (prefix > 0).then(|| {
                (
                    iface.to_string(),
                    Subnet {
                        base: Ipv4Addr::from(dest.to_ne_bytes()),
                        prefix,
                    },
                )
            })
        })
        .collect()
}

/// The first bridge number in `0..MAX_BRIDGES` that `free` accepts whose
/// subnet overlaps none of `routes`.
pub fn choose(routes: &[Subnet], mut free: impl FnMut(u32) -> bool) -> Option<(u32, Subnet)> {
    (0..MAX_BRIDGES)
        .map(|n| (n, Subnet::nth(n)))
        .find(|(n, s)| !routes.iter().any(|r| r.overlaps(*s)) && free(*n))
}

/// Hands out the environments' addresses of one subnet, round robin, so a
/// just-released address (still in the host's neighbour cache with the old
/// environment's MAC) is reused last.
#[derive(Debug)]
pub struct Allocator {
    subnet: Subnet,
    used: Vec<bool>,
    next: u32,
}

impl Allocator {
    /// All host addresses of `subnet` but the gateway.
    pub fn new(subnet: Subnet) -> Self {
        Self {
            subnet,
            used: vec![false; subnet.size() as usize],
            next: 2,
        }
    }

    /// A free address, if any.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let size = self.subnet.size();
        let first = 2; // after the network address and the gateway
        let count = size.checked_sub(first + 1)?; // before the broadcast
        for i in 0..count {
            let offset = first + (self.next - first + i) % count;
            if !self.used[offset as usize] {
                self.used[offset as usize] = true;
                self.next = first + (offset - first + 1) % count;
                return Some(Ipv4Addr::from(u32::from(self.subnet.base) + offset));
            }
        }
        None
    }

    /// Gives `addr` back.
    pub fn release(&mut self, addr: Ipv4Addr) {
        let offset = u32::from(addr).wrapping_sub(u32::from(self.subnet.base));
        if let Some(slot) = self.used.get_mut(offset as usize) {
            *slot = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Subnet {
        let (a, p) = s.split_once('/').unwrap();
        Subnet {
            base: a.parse().unwrap(),
            prefix: p.parse().unwrap(),
        }
    }

    #[test]
    fn subnets_tile_the_range() {
        assert_eq!(Subnet::nth(0).to_string(), "172.31.0.0/20");
        assert_eq!(Subnet::nth(1).to_string(), "172.31.16.0/20");
        assert_eq!(Subnet::nth(15).to_string(), "172.31.240.0/20");
        assert_eq!(Subnet::nth(1).gateway(), Ipv4Addr::new(172, 31, 16, 1));
    }

    #[test]
    fn overlap() {
        assert!(net("172.31.0.0/16").overlaps(net("172.31.16.0/20")));
        assert!(net("172.31.20.0/24").overlaps(net("172.31.16.0/20")));
        assert!(!net("172.31.32.0/24").overlaps(net("172.31.16.0/20")));
        assert!(!net("192.0.2.0/24").overlaps(net("172.31.0.0/20")));
    }

    #[test]
    fn reads_proc_net_route() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            docker0\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(
            parse_routes(text),
            vec![
                ("eth0".to_string(), net("192.0.2.0/24")),
                ("docker0".to_string(), net("10.0.0.0/16")),
            ]
        );
    }

    #[test]
    fn chooses_a_subnet_clear_of_routes_and_taken_bridges() {
        assert_eq!(choose(&[], |_| true), Some((0, Subnet::nth(0))));
        let routes = [net("172.31.0.0/19")];
        assert_eq!(choose(&routes, |_| true), Some((2, Subnet::nth(2))));
        assert_eq!(choose(&routes, |n| n != 2), Some((3, Subnet::nth(3))));
        assert_eq!(choose(&[net("172.16.0.0/12")], |_| true), None);
    }

    #[test]
    fn allocates_round_robin_and_never_the_gateway_or_broadcast() {
        let mut a = Allocator::new(net("10.0.0.0/29")); // .0 net, .1 gw, .7 bcast
        let got: Vec<_> = std::iter::from_fn(|| a.allocate()).collect();
        assert_eq!(
            got.iter().map(|a| a.octets()[3]).collect::<Vec<_>>(),
            vec![2, 3, 4, 5, 6]
        );
        assert_eq!(a.allocate(), None);
        a.release(Ipv4Addr::new(10, 0, 0, 4));
        a.release(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(a.allocate(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(a.allocate(), Some(Ipv4Addr::new(10, 0, 0, 4)));
        a.release(Ipv4Addr::new(10, 0, 0, 5));
        a.release(Ipv4Addr::new(10, 0, 0, 3));
        // After .4 comes .5, though .3 was released too.
        assert_eq!(a.allocate(), Some(Ipv4Addr::new(10, 0, 0, 5)));
        a.release(Ipv4Addr::new(99, 0, 0, 1)); // not ours: ignored
    }
}
