//! Addresses and table numbers the lab derives arithmetically: an ENI's gateway and host route
//! table, a probe host's address inside its block, and the overlap of two CIDRs.
//!
//! They follow the CNI's own numbering (`GetIPv4Gateway`, helper.go's table ids), so they are
//! kept apart from the model reading and unit-tested on their own; the host-rule tests build
//! specs by hand with the same two public helpers, so the lab and its tests cannot disagree on
//! them.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// `GetIPv4Gateway`: the subnet base address + 1.
pub fn gateway_of(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()).wrapping_add(1))
}

/// Host table of an ENI (helper.go): card 0 device 0 → main; card 0 device d → d+1; card k>0 →
/// 10000 + d + 100·k (v1.20.3+ numbering; older multi-card numbering depends on the instance type).
pub fn host_table(device_index: u32, network_card_index: u32) -> Option<u32> {
    match (network_card_index, device_index) {
        (0, 0) => None,
        (0, d) => Some(d + 1),
        (k, d) => Some(10_000 + d + 100 * k),
    }
}

pub(crate) fn host_address(block: Ipv4Net, offset: u32) -> Ipv4Addr {
    let size = 1u64 << (32 - block.prefix_len());
    let base = u32::from(block.network());
    if size <= 2 {
        return block.network();
    }
    let offset = offset.min(u32::try_from(size - 2).unwrap_or(u32::MAX));
    Ipv4Addr::from(base + offset)
}

pub(crate) fn intersection(a: Ipv4Net, b: Ipv4Net) -> Option<Ipv4Net> {
    if a.contains(&b.network()) && a.prefix_len() <= b.prefix_len() {
        Some(b)
    } else if b.contains(&a.network()) && b.prefix_len() <= a.prefix_len() {
        Some(a)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("test CIDR")
    }

    #[test]
    fn the_gateway_is_the_subnet_base_plus_one() {
        assert_eq!(gateway_of(net("10.0.1.0/24")), Ipv4Addr::new(10, 0, 1, 1));
        assert_eq!(
            gateway_of(net("100.64.32.0/19")),
            Ipv4Addr::new(100, 64, 32, 1)
        );
    }

    #[test]
    fn host_tables_follow_the_cni_numbering() {
        assert_eq!(host_table(0, 0), None);
        assert_eq!(host_table(1, 0), Some(2));
        assert_eq!(host_table(3, 0), Some(4));
        assert_eq!(host_table(0, 1), Some(10_100));
        assert_eq!(host_table(2, 1), Some(10_102));
    }

    #[test]
    fn probe_addresses_stay_inside_their_block() {
        for block in ["10.1.0.0/16", "10.1.5.0/30", "10.1.5.7/32", "10.1.5.6/31"] {
            let block = net(block);
            assert!(block.contains(&host_address(block, 10)), "{block}");
        }
        assert_eq!(
            intersection(net("10.1.0.0/16"), net("10.1.1.0/24")),
            Some(net("10.1.1.0/24"))
        );
        assert_eq!(intersection(net("10.1.0.0/16"), net("10.2.1.0/24")), None);
    }
}
