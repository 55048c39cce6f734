//! The demo's instances and ENIs: each instance run with its primary ENI (device index 0, as
//! `RunInstances` creates it) and put in the demo's state, then every other ENI created and
//! attached, and each ENI given its secondary addresses, tags and source/destination check.
//!
//! An instance's primary ENI is not created but taken from `RunInstances`' answer, so the demo's
//! id for it maps to moto's; tags and descriptions that name demo ids (`aws-K8S-i-…`,
//! `node.k8s.amazonaws.com/instance_id`) are rewritten to moto's ids as they are sent.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, InstanceType, NetworkInterfaceCreationType, ResourceType, Tag,
};
use podreach_core::raw;

use super::SeededDemo;
use super::calls::{missing, moto_tags, pairs, sdk, tag_specs};

pub(super) async fn seed_instance(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    instance: &raw::Instance,
    image: &str,
    demo_reservation: Option<&str>,
    primary: Option<&raw::NetworkInterface>,
) -> Result<(), String> {
    let demo_id = &instance.instance_id;
    let subnet = instance
        .subnet_id
        .as_deref()
        .ok_or_else(|| format!("{demo_id}: no SubnetId"))?;
    let mut groups = Vec::new();
    for group in primary.map(|eni| eni.groups.as_slice()).unwrap_or_default() {
        groups.push(seeded.moto_id(&group.group_id)?.to_owned());
    }
    let tags = moto_tags(seeded, &instance.tags);
    let out = ec2
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::from(
            instance.instance_type.as_deref().unwrap_or("m5.large"),
        ))
        .min_count(1)
        .max_count(1)
        .subnet_id(seeded.moto_id(subnet)?)
        .set_private_ip_address(instance.private_ip_address.clone())
        .set_security_group_ids((!groups.is_empty()).then_some(groups))
        .set_tag_specifications(tag_specs(ResourceType::Instance, pairs(&tags)))
        .send()
        .await
        .map_err(sdk("RunInstances", demo_id))?;
    let created = out
        .instances()
        .first()
        .ok_or_else(|| missing("RunInstances", "Instances"))?;
    let id = created
        .instance_id()
        .ok_or_else(|| missing("RunInstances", "InstanceId"))?
        .to_owned();
    seeded.map(demo_id, &id);
    if let (Some(demo), Some(moto)) = (demo_reservation, out.reservation_id()) {
        seeded.map(demo, moto);
    }
    if let Some(eni) = primary {
        let moto_eni = created
            .network_interfaces()
            .iter()
            .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
            .ok_or_else(|| format!("{demo_id}: moto made no primary ENI"))?;
        let moto_eni_id = moto_eni
            .network_interface_id()
            .ok_or_else(|| missing("RunInstances", "NetworkInterfaceId"))?;
        seeded.map(&eni.network_interface_id, moto_eni_id);
        if let (Some(demo), Some(moto)) = (
            eni.attachment
                .as_ref()
                .and_then(|a| a.attachment_id.as_deref()),
            moto_eni.attachment().and_then(|a| a.attachment_id()),
        ) {
            seeded.map(demo, moto);
        }
    }
    match instance.state.as_ref().map(|s| s.name.as_str()) {
        None | Some("running") => {}
        Some("stopped") => {
            ec2.stop_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(sdk("StopInstances", demo_id))?;
        }
        Some("terminated") => {
            ec2.terminate_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(sdk("TerminateInstances", demo_id))?;
        }
        Some(other) => {
            return Err(format!(
                "{demo_id}: instance state {other} cannot be seeded"
            ));
        }
    }
    Ok(())
}

/// Creates (unless it is an instance's primary ENI) and attaches one ENI, then gives it its
/// secondary addresses, tags and source/destination check.
pub(super) async fn seed_eni(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    eni: &raw::NetworkInterface,
    primary_of: &BTreeMap<&str, &raw::NetworkInterface>,
) -> Result<(), String> {
    let demo_id = &eni.network_interface_id;
    if !eni.ipv4_prefixes.is_empty() || !eni.ipv6_addresses.is_empty() {
        return Err(format!(
            "{demo_id}: IPv4 prefixes and IPv6 addresses cannot be seeded (moto has no prefix delegation)"
        ));
    }
    let is_primary = primary_of
        .values()
        .any(|p| p.network_interface_id == *demo_id);
    let tags = moto_tags(seeded, &eni.tag_set);
    let id = if is_primary {
        let id = seeded.moto_id(demo_id)?.to_owned();
        if !tags.is_empty() {
            ec2.create_tags()
                .resources(&id)
                .set_tags(Some(
                    pairs(&tags)
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(sdk("CreateTags", demo_id))?;
        }
        id
    } else {
        let mut groups = Vec::new();
        for group in &eni.groups {
            groups.push(seeded.moto_id(&group.group_id)?.to_owned());
        }
        let id = ec2
            .create_network_interface()
            .subnet_id(seeded.moto_id(&eni.subnet_id)?)
            .set_private_ip_address(eni.private_ip_address.clone())
            .set_description(eni.description.as_deref().map(|d| seeded.to_moto_ids(d)))
            .set_groups((!groups.is_empty()).then_some(groups))
            .set_interface_type(
                eni.interface_type
                    .as_deref()
                    .filter(|t| *t != "interface")
                    .map(NetworkInterfaceCreationType::from),
            )
            .set_tag_specifications(tag_specs(ResourceType::NetworkInterface, pairs(&tags)))
            .send()
            .await
            .map_err(sdk("CreateNetworkInterface", demo_id))?
            .network_interface()
            .and_then(|n| n.network_interface_id())
            .ok_or_else(|| missing("CreateNetworkInterface", "NetworkInterfaceId"))?
            .to_owned();
        seeded.map(demo_id, &id);
        if let Some(attachment) = &eni.attachment {
            let instance = attachment
                .instance_id
                .as_deref()
                .ok_or_else(|| format!("{demo_id}: attachment without InstanceId"))?;
            let device_index = i32::try_from(attachment.device_index)
                .map_err(|_| format!("{demo_id}: device index out of range"))?;
            let attachment_id = ec2
                .attach_network_interface()
                .network_interface_id(&id)
                .instance_id(seeded.moto_id(instance)?)
                .device_index(device_index)
                .send()
                .await
                .map_err(sdk("AttachNetworkInterface", demo_id))?
                .attachment_id()
                .ok_or_else(|| missing("AttachNetworkInterface", "AttachmentId"))?
                .to_owned();
            if let Some(demo) = &attachment.attachment_id {
                seeded.map(demo, &attachment_id);
            }
        }
        id
    };

    let secondary: Vec<String> = eni
        .private_ip_addresses
        .iter()
        .filter(|a| !a.primary)
        .map(|a| a.private_ip_address.clone())
        .collect();
    if !secondary.is_empty() {
        ec2.assign_private_ip_addresses()
            .network_interface_id(&id)
            .set_private_ip_addresses(Some(secondary))
            .send()
            .await
            .map_err(sdk("AssignPrivateIpAddresses", demo_id))?;
    }
    if eni.source_dest_check == Some(false) {
        ec2.modify_network_interface_attribute()
            .network_interface_id(&id)
            .source_dest_check(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map_err(sdk("ModifyNetworkInterfaceAttribute", demo_id))?;
    }
    Ok(())
}
