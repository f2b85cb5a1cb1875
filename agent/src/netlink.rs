//! The few rtnetlink requests that configure the guest's network: a link's
//! name, MTU and state, addresses, routes and static neighbours. Each
//! request is acknowledged by the kernel before the next one is sent.
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetlinkError {
    #[error("netlink socket: {0}")]
    Socket(io::Error),
    #[error("{what}: {err}")]
    Request { what: String, err: io::Error },
}

// Values from linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, linux/neighbour.h.
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTM_NEWNEIGH: u16 = 28;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_F_NODAD: u8 = 0x02;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NUD_PERMANENT: u16 = 0x80;

fn family(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn octets(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Appends an rtattr, padded to 4 bytes.
fn attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(buf.len() + (4 - len % 4) % 4, 0);
}

/// A whole message: nlmsghdr, then `body`.
fn message(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + body.len());
    m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    m
}

/// The link part of RTM_NEWLINK: name, MTU, up.
pub fn link_body(index: u32, name: Option<&str>, mtu: Option<u32>, up: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.push(libc::AF_UNSPEC as u8);
    b.push(0);
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&(index as i32).to_ne_bytes());
    let flag = libc::IFF_UP as u32;
    b.extend_from_slice(&(if up { flag } else { 0 }).to_ne_bytes());
    b.extend_from_slice(&flag.to_ne_bytes());
    if let Some(n) = name {
        let mut z = n.as_bytes().to_vec();
        z.push(0);
        attr(&mut b, IFLA_IFNAME, &z);
    }
    if let Some(m) = mtu {
        attr(&mut b, IFLA_MTU, &m.to_ne_bytes());
    }
    b
}

pub fn addr_body(index: u32, ip: &IpAddr, prefix: u8) -> Vec<u8> {
    // An address the host already holds for this pod is no duplicate: no DAD.
    let flags = if ip.is_ipv6() { IFA_F_NODAD } else { 0 };
    let mut b = vec![family(ip), prefix, flags, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    attr(&mut b, IFA_LOCAL, &octets(ip));
    attr(&mut b, IFA_ADDRESS, &octets(ip));
    b
}

/// A route in the main table. `dst` None is the default route.
pub struct RouteSpec {
    pub dst: Option<(IpAddr, u8)>,
    pub gateway: Option<IpAddr>,
    pub source: Option<IpAddr>,
    pub oif: u32,
    pub scope: u8,
    pub v6: bool,
}

pub fn route_body(r: &RouteSpec) -> Vec<u8> {
    let fam = if r.v6 {
        libc::AF_INET6 as u8
    } else {
        libc::AF_INET as u8
    };
    let dst_len = r.dst.as_ref().map_or(0, |d| d.1);
    let mut b = vec![fam, dst_len, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, r.scope, RTN_UNICAST];
    b.extend_from_slice(&0u32.to_ne_bytes());
    if let Some((ip, _)) = &r.dst {
        attr(&mut b, RTA_DST, &octets(ip));
    }
    if let Some(g) = &r.gateway {
        attr(&mut b, RTA_GATEWAY, &octets(g));
    }
    if let Some(s) = &r.source {
        attr(&mut b, RTA_PREFSRC, &octets(s));
    }
    attr(&mut b, RTA_OIF, &r.oif.to_ne_bytes());
    b
}

pub fn neigh_body(index: u32, ip: &IpAddr, mac: &[u8; 6]) -> Vec<u8> {
    let mut b = vec![family(ip), 0];
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&(index as i32).to_ne_bytes());
    b.extend_from_slice(&NUD_PERMANENT.to_ne_bytes());
    b.push(0);
    b.push(0);
    attr(&mut b, NDA_DST, &octets(ip));
    attr(&mut b, NDA_LLADDR, mac);
    b
}

/// An rtnetlink socket of the guest's network namespace.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    pub fn open() -> Result<Netlink, NetlinkError> {
        // SAFETY: socket() has no memory arguments; a negative result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(NetlinkError::Socket(io::Error::last_os_error()));
        }
        // SAFETY: socket() just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Netlink { fd, seq: 0 })
    }

    fn request(&mut self, what: &str, kind: u16, flags: u16, body: &[u8]) -> Result<(), NetlinkError> {
        let fail = |err: io::Error| NetlinkError::Request {
            what: what.to_string(),
            err,
        };
        self.seq = self.seq.wrapping_add(1);
        let msg = message(kind, flags, self.seq, body);
        // SAFETY: msg is a valid buffer of the length given; the kernel only reads it.
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if sent < 0 {
            return Err(fail(io::Error::last_os_error()));
        }
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: buf is a valid writable buffer of the length given.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(fail(io::Error::last_os_error()));
            }
            let n = n as usize;
            let mut off = 0;
            while off + 16 <= n {
                let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
                let typ = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                let seq = u32::from_ne_bytes([buf[off + 8], buf[off + 9], buf[off + 10], buf[off + 11]]);
                if len < 16 || off + len > n {
                    return Err(fail(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink reply",
                    )));
                }
                if typ == NLMSG_ERROR && seq == self.seq && len >= 20 {
                    let code = i32::from_ne_bytes([buf[off + 16], buf[off + 17], buf[off + 18], buf[off + 19]]);
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(fail(io::Error::from_raw_os_error(-code)))
                    };
                }
                off += (len + 3) & !3;
            }
        }
    }

    pub fn set_link(&mut self, index: u32, name: Option<&str>, mtu: Option<u32>, up: bool) -> Result<(), NetlinkError> {
        self.request(
            &format!("configure link {index}"),
            RTM_NEWLINK,
            0,
            &link_body(index, name, mtu, up),
        )
    }

    pub fn add_address(&mut self, index: u32, ip: &IpAddr, prefix: u8) -> Result<(), NetlinkError> {
        let what = format!("add address {ip}/{prefix}");
        self.request(
            &what,
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_REPLACE,
            &addr_body(index, ip, prefix),
        )
    }

    pub fn add_route(&mut self, what: &str, r: &RouteSpec) -> Result<(), NetlinkError> {
        self.request(what, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &route_body(r))
    }

    pub fn add_neighbor(&mut self, index: u32, ip: &IpAddr, mac: &[u8; 6]) -> Result<(), NetlinkError> {
        let what = format!("add neighbour {ip}");
        self.request(
            &what,
            RTM_NEWNEIGH,
            NLM_F_CREATE | NLM_F_REPLACE,
            &neigh_body(index, ip, mac),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_messages_as_the_kernel_reads_them() {
        let m = message(
            RTM_NEWADDR,
            NLM_F_CREATE,
            7,
            &addr_body(2, &"10.0.0.2".parse().unwrap(), 24),
        );
        // nlmsghdr (16) + ifaddrmsg (8) + two 8-byte attributes.
        assert_eq!(m.len(), 40);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 40);
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 24, 0, 0]);
        assert_eq!(&m[28..32], &[10, 0, 0, 2]);
        let v6 = addr_body(2, &"fd00::2".parse().unwrap(), 64);
        assert_eq!(v6[2], IFA_F_NODAD);
        assert_eq!(v6.len(), 8 + 2 * 20);
        let name = link_body(3, Some("eth0"), Some(1400), true);
        // ifinfomsg (16) + IFNAME "eth0\0" (4 + 5, padded to 12) + MTU (8).
        assert_eq!(name.len(), 36);
        let r = route_body(&RouteSpec {
            dst: None,
            gateway: Some("10.0.0.1".parse().unwrap()),
            source: None,
            oif: 2,
            scope: 0,
            v6: false,
        });
        assert_eq!(
            &r[..8],
            &[libc::AF_INET as u8, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST]
        );
        let n = neigh_body(2, &"10.0.0.1".parse().unwrap(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(n.len(), 12 + 8 + 12);
    }
}
