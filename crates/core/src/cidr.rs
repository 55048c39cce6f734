//! IPv4 CIDR arithmetic the analysis needs: splitting a destination into blocks that every
//! relevant CIDR either fully contains or does not touch, and longest-prefix route choice.
//!
//! A route destination such as `10.1.0.0/16` may be only partly covered by
//! `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS`, `AWS_EXTERNAL_SERVICE_CIDRS`, the VPC's own CIDRs, a more
//! specific route or the peer's subnets. The kernel and the VPC decide per packet, so the analysis
//! splits the destination at those boundaries (docs/datapath.md §5.1) and evaluates each block once.
//! CIDRs nest or are disjoint, so halving a block until no boundary lies strictly inside it gives
//! the coarsest such partition; `proptest` checks this against a per-address reference.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// `true` when `outer` contains every address of `inner`.
pub fn contains(outer: &Ipv4Net, inner: &Ipv4Net) -> bool {
    outer.prefix_len() <= inner.prefix_len() && outer.contains(&inner.network())
}

/// `true` when the two blocks share at least one address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    contains(a, b) || contains(b, a)
}

/// Splits `block` into the fewest CIDR blocks such that each of `boundaries` either contains a
/// piece entirely or is disjoint from it. The pieces are returned in address order.
pub fn split(block: Ipv4Net, boundaries: &[Ipv4Net]) -> Vec<Ipv4Net> {
    let block = block.trunc();
    let inside: Vec<Ipv4Net> = boundaries
        .iter()
        .map(Ipv4Net::trunc)
        .filter(|b| b.prefix_len() > block.prefix_len() && block.contains(&b.network()))
        .collect();
    let mut out = Vec::new();
    split_into(block, &inside, &mut out);
    out
}

fn split_into(block: Ipv4Net, inside: &[Ipv4Net], out: &mut Vec<Ipv4Net>) {
    let strictly_inside: Vec<Ipv4Net> = inside
        .iter()
        .copied()
        .filter(|b| b.prefix_len() > block.prefix_len() && block.contains(&b.network()))
        .collect();
    if strictly_inside.is_empty() {
        out.push(block);
        return;
    }
    // A boundary strictly inside means prefix_len < 32, so the block has two halves.
    match block.subnets(block.prefix_len() + 1) {
        Ok(halves) => {
            for half in halves {
                split_into(half, &strictly_inside, out);
            }
        }
        Err(_) => out.push(block),
    }
}

/// Returns the index of the longest entry of `prefixes` that contains all of `block`, the
/// rule the VPC router (and the kernel's FIB) applies. Ties keep the first entry.
pub fn longest_match<'a, I>(prefixes: I, block: &Ipv4Net) -> Option<usize>
where
    I: IntoIterator<Item = &'a Ipv4Net>,
{
    let mut best: Option<(usize, u8)> = None;
    for (index, prefix) in prefixes.into_iter().enumerate() {
        if contains(prefix, block) && best.is_none_or(|(_, len)| prefix.prefix_len() > len) {
            best = Some((index, prefix.prefix_len()));
        }
    }
    best.map(|(index, _)| index)
}

/// `true` when some entry of `set` contains all of `block`.
pub fn covered_by_any(set: &[Ipv4Net], block: &Ipv4Net) -> bool {
    set.iter().any(|c| contains(c, block))
}

/// An inclusive range of IPv4 addresses, printed `a` or `a-b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AddressRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl AddressRange {
    /// The range as text, built directly: a finding over 15,000 ENIs writes thousands of them,
    /// and the formatting machinery of `to_string` costs more than the digits.
    pub fn text(&self) -> String {
        let mut text = String::with_capacity(31);
        push_ipv4(&mut text, self.first);
        if self.first != self.last {
            text.push('-');
            push_ipv4(&mut text, self.last);
        }
        text
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Appends `address` in dotted-quad form; a finding lists hundreds of thousands of them, and
/// this is several times cheaper than the general formatting machinery.
pub fn push_ipv4(out: &mut String, address: Ipv4Addr) {
    for (i, octet) in address.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
}

/// The fewest inclusive ranges covering exactly `addresses` (as integers, in any order) and
/// every address of `prefixes`: how a person reads 735,000 pod addresses.
pub fn ranges(addresses: &[u32], prefixes: &[Ipv4Net]) -> Vec<AddressRange> {
    merge(
        addresses
            .iter()
            .map(|a| (*a, *a))
            .chain(
                prefixes
                    .iter()
                    .map(|p| (u32::from(p.network()), u32::from(p.broadcast()))),
            )
            .collect(),
    )
}

/// The fewest inclusive ranges covering exactly the union of `spans` (`(first, last)` pairs).
pub fn merge(mut spans: Vec<(u32, u32)>) -> Vec<AddressRange> {
    spans.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (first, last) in spans {
        match out.last_mut() {
            Some(open) if first <= open.1.saturating_add(1) => open.1 = open.1.max(last),
            _ => out.push((first, last)),
        }
    }
    out.into_iter()
        .map(|(first, last)| AddressRange {
            first: Ipv4Addr::from(first),
            last: Ipv4Addr::from(last),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("test CIDR")
    }

    #[test]
    fn a_partly_excluded_route_splits_at_the_exclusion() {
        let pieces = split(
            net("10.1.0.0/16"),
            &[net("10.1.128.0/17"), net("10.0.0.0/8")],
        );
        assert_eq!(pieces, vec![net("10.1.0.0/17"), net("10.1.128.0/17")]);
    }

    #[test]
    fn a_nested_boundary_yields_one_piece_per_level() {
        let pieces = split(net("10.1.0.0/16"), &[net("10.1.5.0/24")]);
        assert_eq!(pieces.len(), 9);
        assert!(pieces.contains(&net("10.1.5.0/24")));
    }

    #[test]
    fn longest_match_prefers_the_more_specific_route() {
        let routes = [net("0.0.0.0/0"), net("10.1.0.0/16"), net("10.1.5.0/24")];
        assert_eq!(longest_match(&routes, &net("10.1.5.0/24")), Some(2));
        assert_eq!(longest_match(&routes, &net("10.1.6.0/24")), Some(1));
        assert_eq!(longest_match(&routes, &net("10.1.0.0/16")), Some(1));
        assert_eq!(longest_match(&routes[1..], &net("192.168.0.0/24")), None);
    }

    /// Random CIDRs inside 10.0.0.0/22 (1024 addresses), small enough for a per-address check.
    fn small_cidr() -> impl Strategy<Value = Ipv4Net> {
        (0u32..1024, 22u8..=32).prop_map(|(offset, len)| {
            Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + offset), len)
                .expect("prefix length within 0..=32")
                .trunc()
        })
    }

    fn addresses(block: &Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(block.network());
        let last = u32::from(block.broadcast());
        (first..=last).map(Ipv4Addr::from)
    }

    fn membership(boundaries: &[Ipv4Net], address: Ipv4Addr) -> Vec<bool> {
        boundaries.iter().map(|b| b.contains(&address)).collect()
    }

    proptest! {
        #[test]
        fn split_pieces_partition_the_block_and_are_uniform(
            block in small_cidr(),
            boundaries in proptest::collection::vec(small_cidr(), 0..8),
        ) {
            let pieces = split(block, &boundaries);
            // Partition: every address of the block lies in exactly one piece, and no piece leaks.
            for address in addresses(&block) {
                let holders = pieces.iter().filter(|p| p.contains(&address)).count();
                prop_assert_eq!(holders, 1, "{} held by {} pieces", address, holders);
            }
            let total: u64 = pieces.iter().map(|p| 1u64 << (32 - p.prefix_len())).sum();
            prop_assert_eq!(total, 1u64 << (32 - block.prefix_len()));
            // Uniform: all addresses of a piece agree on membership in every boundary.
            for piece in &pieces {
                let first = membership(&boundaries, piece.network());
                for address in addresses(piece) {
                    prop_assert_eq!(&membership(&boundaries, address), &first);
                }
            }
            // Coarsest: two sibling pieces never agree, or they would have been one piece.
            for a in &pieces {
                for b in &pieces {
                    if a != b && a.prefix_len() == b.prefix_len() && a.supernet() == b.supernet() {
                        prop_assert_ne!(
                            membership(&boundaries, a.network()),
                            membership(&boundaries, b.network())
                        );
                    }
                }
            }
        }

        #[test]
        fn longest_match_of_a_piece_agrees_with_every_address_in_it(
            block in small_cidr(),
            routes in proptest::collection::vec(small_cidr(), 0..8),
        ) {
            for piece in split(block, &routes) {
                let chosen = longest_match(&routes, &piece).map(|i| routes[i].prefix_len());
                for address in addresses(&piece) {
                    // Brute force: the longest route holding this single address.
                    let reference = routes
                        .iter()
                        .filter(|r| r.contains(&address))
                        .map(Ipv4Net::prefix_len)
                        .max();
                    prop_assert_eq!(chosen, reference, "piece {} address {}", piece, address);
                }
            }
        }

        #[test]
        fn addresses_print_as_the_standard_library_prints_them(a in any::<u32>()) {
            let mut text = String::new();
            push_ipv4(&mut text, Ipv4Addr::from(a));
            prop_assert_eq!(text, Ipv4Addr::from(a).to_string());
        }

        #[test]
        fn ranges_cover_exactly_the_addresses_and_prefixes(
            offsets in proptest::collection::btree_set(0u32..512, 0..64),
            prefixes in proptest::collection::vec(small_cidr(), 0..3),
        ) {
            let addresses: Vec<u32> = offsets.iter().map(|o| 0x0a00_0000 + o).collect();
            let out = ranges(&addresses, &prefixes);
            // Brute force: an address is covered exactly when it was given or is in a prefix.
            for a in 0x0a00_0000u32..0x0a00_0000 + 1024 {
                let given = addresses.contains(&a)
                    || prefixes.iter().any(|p| p.contains(&Ipv4Addr::from(a)));
                let covered = out
                    .iter()
                    .filter(|r| u32::from(r.first) <= a && a <= u32::from(r.last))
                    .count();
                prop_assert_eq!(covered, usize::from(given), "address {}", Ipv4Addr::from(a));
            }
            // Fewest: ranges are sorted and never touch.
            for pair in out.windows(2) {
                prop_assert!(u32::from(pair[0].last) + 1 < u32::from(pair[1].first));
            }
        }
    }
}
