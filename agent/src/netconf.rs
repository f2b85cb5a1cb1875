//! The sandbox's network as the host read it from the pod's namespace,
//! checked and applied to the guest: each interface is found by its MAC,
//! renamed, given its MTU and addresses and set up; then the routes (on-link
//! ones first, so that a gateway is reachable when its route comes) and the
//! static neighbours.
use std::collections::HashMap;
use std::net::IpAddr;

use thiserror::Error;

use crate::error::AgentError;
use crate::netlink::{Netlink, NetlinkError, RouteSpec};
use crate::proto::agent::{IpNet, NetworkConfig};

pub const MAX_INTERFACES: usize = 16;
pub const MAX_ROUTES: usize = 256;
pub const MAX_NEIGHBORS: usize = 256;
const MAX_ADDRESSES: usize = 32;

#[derive(Debug, Error)]
pub enum NetconfError {
    #[error("network: {0}")]
    Invalid(String),
    #[error("network: interface {name} ({mac}): no NIC with that MAC in the guest")]
    NoSuchNic { name: String, mac: String },
    #[error("network: {0}")]
    Netlink(#[from] NetlinkError),
}

impl From<NetconfError> for AgentError {
    fn from(e: NetconfError) -> AgentError {
        match e {
            NetconfError::Invalid(_) => AgentError::InvalidArgument(e.to_string()),
            NetconfError::NoSuchNic { .. } => AgentError::NotFound(e.to_string()),
            NetconfError::Netlink(_) => AgentError::Internal(e.to_string()),
        }
    }
}

fn invalid(msg: impl Into<String>) -> NetconfError {
    NetconfError::Invalid(msg.into())
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// An interface name Linux takes: 1 to 15 bytes, no "/", ":" or blanks.
fn check_name(name: &str) -> Result<(), NetconfError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("{name:?} is not an interface name")))
    }
}

fn ip_net(n: &IpNet, what: &str) -> Result<(IpAddr, u8), NetconfError> {
    let ip: IpAddr = n
        .address
        .parse()
        .map_err(|_| invalid(format!("{what}: {:?} is not an IP address", n.address)))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if n.prefix_len > max {
        return Err(invalid(format!(
            "{what}: prefix /{} is longer than {max}",
            n.prefix_len
        )));
    }
    Ok((ip, n.prefix_len as u8))
}

fn ip(s: &str, what: &str) -> Result<Option<IpAddr>, NetconfError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| invalid(format!("{what}: {s:?} is not an IP address")))
}

/// The guest's NICs by MAC: name and index, from sysfs.
/// A guest NIC: its index and its current name.
struct Nic {
    index: u32,
    name: String,
}

fn nics() -> HashMap<[u8; 6], Nic> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return out;
    };
    for e in dir.flatten() {
        let base = e.path();
        let mac = std::fs::read_to_string(base.join("address")).ok();
        let index = std::fs::read_to_string(base.join("ifindex"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let (Some(mac), Some(index)) = (mac.as_deref().and_then(|m| parse_mac(m.trim())), index) {
            out.insert(mac, Nic { index, name: e.file_name().to_string_lossy().into_owned() });
        }
    }
    out
}

/// How long a NIC hot-plugged into a VM restored from a template may take to appear.
const NIC_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The guest's NICs, once every MAC `c` names is among them (or the wait is over).
fn wait_for_nics(c: &NetworkConfig) -> HashMap<[u8; 6], Nic> {
    let wanted: Vec<[u8; 6]> = c.interfaces.iter().filter_map(|i| parse_mac(&i.mac)).collect();
    let deadline = std::time::Instant::now() + NIC_WAIT;
    loop {
        let found = nics();
        if wanted.iter().all(|m| found.contains_key(m)) || std::time::Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Checks the whole configuration before anything is changed.
pub fn check(c: &NetworkConfig) -> Result<(), NetconfError> {
    if c.interfaces.len() > MAX_INTERFACES || c.routes.len() > MAX_ROUTES || c.neighbors.len() > MAX_NEIGHBORS {
        return Err(invalid(format!(
            "at most {MAX_INTERFACES} interfaces, {MAX_ROUTES} routes and {MAX_NEIGHBORS} neighbours"
        )));
    }
    let mut names = Vec::new();
    for i in &c.interfaces {
        check_name(&i.name)?;
        parse_mac(&i.mac).ok_or_else(|| invalid(format!("interface {}: {:?} is not a MAC address", i.name, i.mac)))?;
        if i.mtu != 0 && !(68..=65535).contains(&i.mtu) {
            return Err(invalid(format!("interface {}: MTU {} is out of range", i.name, i.mtu)));
        }
        if i.addresses.len() > MAX_ADDRESSES {
            return Err(invalid(format!(
                "interface {}: more than {MAX_ADDRESSES} addresses",
                i.name
            )));
        }
        for a in &i.addresses {
            ip_net(a, &format!("interface {}", i.name))?;
        }
        names.push(i.name.as_str());
    }
    let known = |dev: &str, what: &str| {
        if names.contains(&dev) {
            Ok(())
        } else {
            Err(invalid(format!("{what}: device {dev:?} is none of the interfaces")))
        }
    };
    for r in &c.routes {
        known(&r.device, "route")?;
        if let Some(d) = r.destination.as_ref() {
            ip_net(d, "route")?;
        }
        ip(&r.gateway, "route gateway")?;
        ip(&r.source, "route source")?;
        if r.scope > 255 {
            return Err(invalid(format!("route scope {} is out of range", r.scope)));
        }
    }
    for n in &c.neighbors {
        known(&n.device, "neighbour")?;
        ip(&n.address, "neighbour")?.ok_or_else(|| invalid("neighbour: an address is required"))?;
        parse_mac(&n.mac)
            .ok_or_else(|| invalid(format!("neighbour {}: {:?} is not a MAC address", n.address, n.mac)))?;
    }
    Ok(())
}

/// Applies a checked configuration.
pub fn apply(c: &NetworkConfig) -> Result<(), NetconfError> {
    check(c)?;
    let nics = wait_for_nics(c);
    let mut nl = Netlink::open()?;
    let mut index_of = HashMap::new();
    for i in &c.interfaces {
        // check() parsed every MAC.
        let mac = parse_mac(&i.mac).ok_or_else(|| invalid("MAC"))?;
        let nic = nics.get(&mac).ok_or_else(|| NetconfError::NoSuchNic {
            name: i.name.clone(),
            mac: i.mac.clone(),
        })?;
        let index = nic.index;
        let mtu = if i.mtu == 0 { None } else { Some(i.mtu) };
        // Renamed while down (a fresh NIC is), then addressed and set up. A NIC
        // configured before (the namespace is carried again when it grows) keeps running.
        if nic.name != i.name {
            nl.set_link(index, Some(&i.name), mtu, false)?;
        } else {
            nl.set_link(index, None, mtu, true)?;
        }
        for a in &i.addresses {
            let (addr, prefix) = ip_net(a, "address")?;
            nl.add_address(index, &addr, prefix)?;
        }
        nl.set_link(index, None, None, true)?;
        index_of.insert(i.name.as_str(), index);
    }
    let mut routes: Vec<_> = c.routes.iter().collect();
    routes.sort_by_key(|r| !r.gateway.is_empty());
    for r in routes {
        let oif = index_of[r.device.as_str()];
        let dst = r.destination.as_ref().map(|d| ip_net(d, "route")).transpose()?;
        let gateway = ip(&r.gateway, "route gateway")?;
        let source = ip(&r.source, "route source")?;
        let v6 = r.ipv6 || dst.is_some_and(|d| d.0.is_ipv6()) || gateway.is_some_and(|g| g.is_ipv6());
        let what = match &dst {
            Some((a, p)) => format!("add route {a}/{p} via {:?} dev {}", r.gateway, r.device),
            None => format!("add default route via {:?} dev {}", r.gateway, r.device),
        };
        nl.add_route(
            &what,
            &RouteSpec {
                dst,
                gateway,
                source,
                oif,
                scope: r.scope as u8,
                v6,
            },
        )?;
    }
    for n in &c.neighbors {
        let addr = ip(&n.address, "neighbour")?.ok_or_else(|| invalid("neighbour address"))?;
        let mac = parse_mac(&n.mac).ok_or_else(|| invalid("neighbour MAC"))?;
        nl.add_neighbor(index_of[n.device.as_str()], &addr, &mac)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::agent::{NetInterface, NetNeighbor, NetRoute};

    fn config() -> NetworkConfig {
        let mut c = NetworkConfig::new();
        let mut i = NetInterface::new();
        i.mac = "02:42:0a:58:00:02".into();
        i.name = "eth0".into();
        i.mtu = 1500;
        let mut a = IpNet::new();
        a.address = "10.88.0.2".into();
        a.prefix_len = 16;
        i.addresses.push(a);
        c.interfaces.push(i);
        let mut r = NetRoute::new();
        r.gateway = "10.88.0.1".into();
        r.device = "eth0".into();
        c.routes.push(r);
        let mut n = NetNeighbor::new();
        n.address = "10.88.0.1".into();
        n.mac = "02:42:0a:58:00:01".into();
        n.device = "eth0".into();
        c.neighbors.push(n);
        c
    }

    #[test]
    fn checks_every_field_before_applying() {
        assert!(check(&config()).is_ok());
        let bad = |f: &dyn Fn(&mut NetworkConfig), want: &str| {
            let mut c = config();
            f(&mut c);
            let e = check(&c).unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
        };
        bad(&|c| c.interfaces[0].mac = "zz".into(), "is not a MAC address");
        bad(&|c| c.interfaces[0].name = "a/b".into(), "is not an interface name");
        bad(
            &|c| c.interfaces[0].name = "sixteen-bytes-xx".into(),
            "is not an interface name",
        );
        bad(&|c| c.interfaces[0].mtu = 20, "MTU 20 is out of range");
        bad(
            &|c| c.interfaces[0].addresses[0].prefix_len = 33,
            "prefix /33 is longer than 32",
        );
        bad(
            &|c| c.interfaces[0].addresses[0].address = "10.88".into(),
            "is not an IP address",
        );
        bad(
            &|c| c.routes[0].device = "eth1".into(),
            "device \"eth1\" is none of the interfaces",
        );
        bad(&|c| c.routes[0].gateway = "x".into(), "route gateway");
        bad(&|c| c.neighbors[0].mac = "".into(), "is not a MAC address");
    }

    #[test]
    fn parses_macs() {
        assert_eq!(parse_mac("02:42:0A:58:00:02"), Some([2, 0x42, 0x0a, 0x58, 0, 2]));
        assert_eq!(parse_mac("02:42:0a:58:00"), None);
        assert_eq!(parse_mac("02:42:0a:58:00:002"), None);
    }
}
