//! `cidr` blocks, IPv4 and IPv6, parsed with the standard library's address
//! parser and compared as integers under a mask.

use std::net::IpAddr;

use crate::error::PatternError;

/// An address block: a network and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x:…:y/n` (a bare address is a single-host
    /// block).
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        let bad = || PatternError::InvalidCidr(text.to_string());
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        Ok(Self { network, prefix })
    }

    /// Whether `value` is an address inside the block.
    pub(crate) fn contains_str(&self, value: &str) -> bool {
        value.parse::<IpAddr>().is_ok_and(|ip| self.contains(ip))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)), 32, self.prefix)
                    == masked(u128::from(u32::from(a)), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
    let host_bits = width - u32::from(prefix);
    if host_bits >= 128 {
        0
    } else {
        bits >> host_bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_and_v6_blocks() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(c.contains_str("10.0.0.255"));
        assert!(!c.contains_str("10.0.1.0"));
        assert!(!c.contains_str("not an ip"));
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains_str("2001:db8:1::1"));
        assert!(!c.contains_str("2001:db9::1"));
        assert!(!c.contains_str("10.0.0.1"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains_str("8.8.8.8"));
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "bad",
            "10.0.0.0/",
            "::/129",
            "1.2.3.4/-1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
