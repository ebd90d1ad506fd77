//! A small rtnetlink client: just the requests the network modes need
//! (create a bridge or a veth pair, add an address or a default route, bring
//! a link up, delete a link), built as plain byte messages so they can be
//! checked without root, and sent on a blocking `NETLINK_ROUTE` socket.
//!
//! A netlink socket acts in the network namespace it was created in: the
//! host's socket is opened once at start, a namespace's own from a thread
//! that is inside it.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_PROTINFO: u16 = 12;
const IFLA_LINKINFO: u16 = 18;
const IFLA_IFALIAS: u16 = 20;
const IFLA_GROUP: u16 = 27;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_BRPORT_ISOLATED: u16 = 33;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_GATEWAY: u16 = 5;
const RTA_OIF: u16 = 4;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_BRIDGE: u8 = 7;
const IFF_UP: u32 = 0x1;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

/// Failure of one netlink request.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket could not be opened.
    #[error("failed to open a netlink socket: {0}")]
    Open(#[source] io::Error),
    /// Sending or receiving failed.
    #[error("failed to talk to the kernel over netlink: {0}")]
    Io(#[source] io::Error),
    /// The kernel refused the request.
    #[error("failed to {what}: {source}")]
    Refused {
        /// The request.
        what: &'static str,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
}

/// A netlink message under construction: header, family header, attributes.
#[derive(Debug)]
pub struct Message {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Message {
    fn new(kind: u16, flags: u16, family_header: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set by `finish`
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        buf.extend_from_slice(family_header);
        pad(&mut buf);
        Self {
            buf,
            nests: Vec::new(),
        }
    }

    fn attr(mut self, kind: u16, payload: &[u8]) -> Self {
        let len = u16::try_from(4 + payload.len()).expect("attributes are small");
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        pad(&mut self.buf);
        self
    }

    fn str_attr(self, kind: u16, s: &str) -> Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(kind, &v)
    }

    fn u32_attr(self, kind: u16, v: u32) -> Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    fn begin(mut self, kind: u16) -> Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    /// Raw bytes inside the current nest (a family header of a nested
    /// message, as veth's peer has).
    fn raw(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        pad(&mut self.buf);
        self
    }

    fn end(mut self) -> Self {
        let start = self.nests.pop().expect("end() matches a begin()");
        let len = u16::try_from(self.buf.len() - start).expect("nests are small");
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The finished message with sequence number `seq`.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        assert!(self.nests.is_empty(), "every nest is closed");
        let len = u32::try_from(self.buf.len()).expect("messages are small");
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

fn pad(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// `struct ifinfomsg`.
fn ifinfo(family: u8, index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = family;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// Creates bridge `name`, up, with hardware address `mac`. A bridge left
/// to the kernel's random address takes the lowest of its ports' as ports
/// come and go, and an environment whose ARP entry holds the old one sends
/// to an address nobody answers until the entry goes stale (tens of
/// seconds); one that is set never changes.
pub fn new_bridge(name: &str, mac: [u8; 6]) -> Message {
    Message::new(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        &ifinfo(AF_UNSPEC, 0, IFF_UP, IFF_UP),
    )
    .str_attr(IFLA_IFNAME, name)
    .attr(IFLA_ADDRESS, &mac)
    .begin(IFLA_LINKINFO)
    .str_attr(IFLA_INFO_KIND, "bridge")
    .end()
}

/// Creates the veth pair `host` (up, a port of bridge `master` if any) and
/// `peer` (down: a veth cannot come up before its peer is linked; created
/// directly in the network namespace `netns_fd`).
pub fn new_veth(host: &str, master: Option<u32>, peer: &str, netns_fd: RawFd) -> Message {
    let fd = u32::try_from(netns_fd).expect("descriptors are not negative");
    let m = Message::new(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        &ifinfo(AF_UNSPEC, 0, IFF_UP, IFF_UP),
    )
    .str_attr(IFLA_IFNAME, host);
    match master {
        Some(index) => m.u32_attr(IFLA_MASTER, index),
        None => m,
    }
    .begin(IFLA_LINKINFO)
    .str_attr(IFLA_INFO_KIND, "veth")
    .begin(IFLA_INFO_DATA)
    .begin(VETH_INFO_PEER)
    .raw(&ifinfo(AF_UNSPEC, 0, 0, 0))
    .str_attr(IFLA_IFNAME, peer)
    .u32_attr(IFLA_NET_NS_FD, fd)
    .end()
    .end()
    .end()
}

/// Makes bridge port `index` isolated: it forwards only to non-isolated
/// ports (the host), not to other environments.
pub fn isolate_port(index: u32) -> Message {
    Message::new(RTM_SETLINK, 0, &ifinfo(AF_BRIDGE, as_index(index), 0, 0))
        .begin(IFLA_PROTINFO)
        .attr(IFLA_BRPORT_ISOLATED, &[1])
        .end()
}

/// Sets the alias of link `index` (the kernel takes it only on an existing
/// link, not at creation).
pub fn set_alias(index: u32, alias: &str) -> Message {
    Message::new(RTM_NEWLINK, 0, &ifinfo(AF_UNSPEC, as_index(index), 0, 0))
        .str_attr(IFLA_IFALIAS, alias)
}

/// Brings link `index` up.
pub fn link_up(index: u32) -> Message {
    Message::new(
        RTM_NEWLINK,
        0,
        &ifinfo(AF_UNSPEC, as_index(index), IFF_UP, IFF_UP),
    )
}

/// Deletes link `name` (and, for a veth, its peer).
pub fn del_link(name: &str) -> Message {
    Message::new(RTM_DELLINK, 0, &ifinfo(AF_UNSPEC, 0, 0, 0)).str_attr(IFLA_IFNAME, name)
}

/// Puts link `name` in interface group `group`.
pub fn set_group(name: &str, group: u32) -> Message {
    Message::new(RTM_NEWLINK, 0, &ifinfo(AF_UNSPEC, 0, 0, 0))
        .str_attr(IFLA_IFNAME, name)
        .u32_attr(IFLA_GROUP, group)
}

/// Deletes every link of interface group `group` at once (the kernel waits
/// for one RCU grace period for all of them instead of one each).
pub fn del_group(group: u32) -> Message {
    Message::new(RTM_DELLINK, 0, &ifinfo(AF_UNSPEC, 0, 0, 0)).u32_attr(IFLA_GROUP, group)
}

/// Adds `addr/prefix` to link `index`.
pub fn add_addr(index: u32, addr: Ipv4Addr, prefix: u8) -> Message {
    let mut h = [0u8; 8];
    h[0] = AF_INET;
    h[1] = prefix;
    h[3] = RT_SCOPE_UNIVERSE;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &h)
        .attr(IFA_LOCAL, &addr.octets())
        .attr(IFA_ADDRESS, &addr.octets())
}

/// Adds the default route via `gateway` out of link `index`.
pub fn default_route(index: u32, gateway: Ipv4Addr) -> Message {
    let h = [
        AF_INET,
        0, // dst_len: the default route
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_BOOT,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
        0,
        0,
        0,
        0,
    ];
    Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &h)
        .attr(RTA_GATEWAY, &gateway.octets())
        .u32_attr(RTA_OIF, index)
}

fn as_index(index: u32) -> i32 {
    i32::try_from(index).expect("interface indexes fit in an int")
}

/// Reads the acknowledgement of request `seq` from a receive buffer:
/// `Some(Ok)` for success, `Some(Err)` for the kernel's error, `None` when
/// the buffer holds no answer to `seq`.
pub fn parse_ack(buf: &[u8], seq: u32) -> Option<Result<(), io::Error>> {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let word = |o: usize| u32::from_ne_bytes(buf[at + o..at + o + 4].try_into().expect("4"));
        let len = word(0) as usize;
        let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2"));
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return None;
        }
        if kind == NLMSG_ERROR && word(8) == seq && len >= NLMSG_HDRLEN + 4 {
            let code = i32::from_ne_bytes(buf[at + 16..at + 20].try_into().expect("4"));
            return Some(if code == 0 {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(-code))
            });
        }
        at += (len + 3) & !3;
    }
    None
}

/// A `NETLINK_ROUTE` socket of the network namespace it was opened in.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: std::sync::atomic::AtomicU32,
}

impl Socket {
    /// Opens a socket in the calling thread's network namespace.
    #[allow(unsafe_code)]
    pub fn open() -> Result<Self, NetlinkError> {
        // SAFETY: socket(2) with constant arguments; the result is checked
        // and owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(NetlinkError::Open(io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just returned by socket(2) and is owned by no one.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self {
            fd,
            seq: std::sync::atomic::AtomicU32::new(1),
        })
    }

    /// Sends `msg` and waits for the kernel's acknowledgement. Not for
    /// concurrent use of one socket (answers are matched by sequence number,
    /// others' are dropped): callers serialize.
    #[allow(unsafe_code)]
    pub fn request(&self, what: &'static str, msg: Message) -> Result<(), NetlinkError> {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bytes = msg.finish(seq);
        // SAFETY: sending from a live buffer of `bytes.len()` bytes to the
        // kernel (a zeroed sockaddr_nl addresses it).
        let sent = unsafe {
            let mut to: libc::sockaddr_nl = std::mem::zeroed();
            to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(NetlinkError::Io(io::Error::last_os_error()));
        }
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: receiving into a live buffer of its own length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(NetlinkError::Io(e));
            }
            let n = usize::try_from(n).expect("checked non-negative");
            match parse_ack(&buf[..n], seq) {
                Some(Ok(())) => return Ok(()),
                Some(Err(source)) => return Err(NetlinkError::Refused { what, source }),
                None => continue,
            }
        }
    }
}

/// The index of link `name` in the calling thread's network namespace.
#[allow(unsafe_code)]
pub fn index_of(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(io::Error::other)?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes(b[at..at + 2].try_into().unwrap())
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn header_carries_length_type_flags_and_sequence() {
        let m = link_up(7).finish(42);
        assert_eq!(m.len(), 32);
        assert_eq!(u32_at(&m, 0), 32);
        assert_eq!(u16_at(&m, 4), RTM_NEWLINK);
        assert_eq!(u16_at(&m, 6), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32_at(&m, 8), 42);
        assert_eq!(u32_at(&m, 20), 7, "ifi_index");
        assert_eq!(u32_at(&m, 24), IFF_UP);
    }

    #[test]
    fn strings_are_nul_terminated_and_padded() {
        let m = del_link("ab").finish(1);
        // header 16 + ifinfomsg 16 + attr (4 + "ab\0" = 7, padded to 8)
        assert_eq!(m.len(), 40);
        assert_eq!(u16_at(&m, 32), 7);
        assert_eq!(u16_at(&m, 34), IFLA_IFNAME);
        assert_eq!(&m[36..40], b"ab\0\0");
    }

    #[test]
    fn veth_peer_is_nested_with_its_own_ifinfomsg_and_netns() {
        let m = new_veth("ig0x1", Some(5), "eth0", 9).finish(3);
        assert_eq!(u32_at(&m, 0) as usize, m.len());
        assert_eq!(
            u16_at(&m, 6),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        // ifname "ig0x1\0" (4 + 6 = 10 → 12), master (8), then linkinfo.
        let linkinfo = 32 + 12 + 8;
        assert_eq!(u16_at(&m, linkinfo + 2), IFLA_LINKINFO | NLA_F_NESTED);
        assert_eq!(
            u16_at(&m, linkinfo) as usize,
            m.len() - linkinfo,
            "nest spans the rest"
        );
        let kind = linkinfo + 4;
        assert_eq!(&m[kind + 4..kind + 9], b"veth\0");
        let data = kind + 12;
        assert_eq!(u16_at(&m, data + 2), IFLA_INFO_DATA | NLA_F_NESTED);
        let peer = data + 4;
        assert_eq!(u16_at(&m, peer + 2), VETH_INFO_PEER | NLA_F_NESTED);
        assert_eq!(u32_at(&m, peer + 4 + 8), 0, "peer's ifinfomsg");
        let name = peer + 4 + 16;
        assert_eq!(&m[name + 4..name + 9], b"eth0\0");
        let ns = name + 12;
        assert_eq!(u16_at(&m, ns + 2), IFLA_NET_NS_FD);
        assert_eq!(u32_at(&m, ns + 4), 9);
        assert_eq!(ns + 8, m.len());
    }

    #[test]
    fn group_deletion_names_only_the_group() {
        let m = del_group(0x4947_0003).finish(1);
        assert_eq!(m.len(), 40);
        assert_eq!(u16_at(&m, 4), RTM_DELLINK);
        assert_eq!(u32_at(&m, 20), 0, "no index");
        assert_eq!(u16_at(&m, 34), IFLA_GROUP);
        assert_eq!(u32_at(&m, 36), 0x4947_0003);
        let m = set_group("ig0g0v1", 7).finish(1);
        assert_eq!(u16_at(&m, 4), RTM_NEWLINK);
        assert_eq!(
            u16_at(&m, 6),
            NLM_F_REQUEST | NLM_F_ACK,
            "modifies, never creates"
        );
        assert_eq!(&m[36..44], b"ig0g0v1\0");
        assert_eq!(u16_at(&m, 46), IFLA_GROUP);
        assert_eq!(u32_at(&m, 48), 7);
    }

    #[test]
    fn address_and_route_messages_hold_ipv4_octets() {
        let a = add_addr(3, Ipv4Addr::new(172, 31, 0, 2), 20).finish(1);
        assert_eq!(a[16], AF_INET);
        assert_eq!(a[17], 20);
        assert_eq!(u32_at(&a, 20), 3);
        assert_eq!(&a[28..32], &[172, 31, 0, 2]);
        let r = default_route(3, Ipv4Addr::new(172, 31, 0, 1)).finish(1);
        assert_eq!(r[16 + 4], RT_TABLE_MAIN);
        assert_eq!(&r[32..36], &[172, 31, 0, 1]);
        assert_eq!(u32_at(&r, 40), 3);
    }

    #[test]
    fn acks_are_matched_by_sequence() {
        let ack = |seq: u32, code: i32| {
            let mut b = Vec::new();
            b.extend_from_slice(&36u32.to_ne_bytes());
            b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            b.extend_from_slice(&0u16.to_ne_bytes());
            b.extend_from_slice(&seq.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&code.to_ne_bytes());
            b.extend_from_slice(&[0u8; 16]);
            b
        };
        assert!(matches!(parse_ack(&ack(4, 0), 4), Some(Ok(()))));
        let e = parse_ack(&ack(4, -libc::EEXIST), 4).unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        assert!(parse_ack(&ack(3, 0), 4).is_none());
        let mut two = ack(3, 0);
        two.extend(ack(4, -libc::EPERM));
        assert!(parse_ack(&two, 4).unwrap().is_err());
        assert!(parse_ack(&[1, 2, 3], 4).is_none());
    }
}
