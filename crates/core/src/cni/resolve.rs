//! Resolving a cluster's CNI configuration from its sources, CLI > DaemonSet > add-on > version
//! default (docs/datapath.md §9): each setting parsed as its release parses it, with a note
//! wherever the CNI falls back, and an alternative configuration for every setting whose value
//! the snapshot does not show (`valueFrom`; docs/datapath.md §10.7).

use std::collections::BTreeMap;

use super::settings::*;
use super::*;

impl CniConfig {
    /// Resolves the configuration from its sources: CLI > DaemonSet > add-on > version default.
    pub fn resolve(inputs: &CniInputs) -> CniConfig {
        let mut notes = Vec::new();
        let mut assumptions = Vec::new();

        let mut daemonset_version = inputs
            .daemonset_image
            .as_deref()
            .and_then(Version::parse_loose);
        if daemonset_version.is_none() {
            // An image pinned by digest alone: the rest of the DaemonSet may still say.
            if let Some((place, version)) = inputs
                .daemonset_version_hints
                .iter()
                .find_map(|(place, text)| Version::parse_loose(text).map(|v| (place, v)))
            {
                notes.push(format!(
                    "the aws-node image carries no version tag; the version {version} is read from {place}"
                ));
                daemonset_version = Some(version);
            }
        }
        let addon_version = inputs
            .addon_version
            .as_deref()
            .and_then(Version::parse_loose);
        if let (Some(image), None) = (&inputs.daemonset_image, daemonset_version) {
            // Neither the image nor anything else of the DaemonSet names the version.
            notes.push(format!(
                "the aws-node image `{image}` carries no version tag podreach can read"
            ));
        }
        let (version, version_source) = match (inputs.cli_version, daemonset_version, addon_version)
        {
            (Some(v), _, _) => (Some(v), Some(SettingSource::Cli)),
            (None, Some(v), _) => (Some(v), Some(SettingSource::Daemonset)),
            (None, None, Some(v)) => (Some(v), Some(SettingSource::Addon)),
            _ => (None, None),
        };
        let version = match version {
            Some(v) => {
                if v > Version::NEWEST_SPECIFIED {
                    assumptions.push(format!(
                        "CNI {v} is newer than the newest release podreach's datapath model covers ({}); \
                         its behaviour is assumed unchanged since then",
                        Version::NEWEST_SPECIFIED
                    ));
                }
                v
            }
            None => {
                assumptions.push(format!(
                    "CNI version unknown ({VERSION_SOURCES}): every verdict is evaluated under each of the {} \
                     releases whose behaviour differs (docs/datapath.md §10.7), and one that differs between \
                     them is unknown (MISSING_INPUT); the texts describe {}",
                    Version::RELEASES_MODELLED.len(),
                    Version::NEWEST_SPECIFIED
                ));
                Version::NEWEST_SPECIFIED
            }
        };

        let mut settings = Vec::new();
        let mut resolved: BTreeMap<&str, (String, SettingSource)> = BTreeMap::new();
        let mut unknown = Vec::new();
        for &name in MODELLED {
            if let (None, Some(from)) = (
                inputs.cli_env.get(name),
                inputs.daemonset_value_from.get(name),
            ) && introduced_in(name).is_none_or(|first| version >= first)
            {
                let default = default_for(name, version);
                let both = EVALUATED_BOTH_WAYS.contains(&name);
                assumptions.push(if both {
                    format!(
                        "{name} is set from {from}, which the snapshot does not hold: its value is unknown. \
                         Verdicts are evaluated with the default `{default}` and with the other extreme; \
                         where they differ the verdict is unknown (give the value with --cni-env {name}=…)"
                    )
                } else {
                    format!(
                        "{name} is set from {from}, which the snapshot does not hold: its value is unknown \
                         and the default `{default}` is assumed for every verdict (give it with --cni-env {name}=…)"
                    )
                });
                unknown.push(UnknownSetting {
                    name: name.to_owned(),
                    from: from.clone(),
                    alternative_value: both.then(|| alternative_value(name, default).to_owned()),
                    alternative: None,
                    version: None,
                });
                resolved.insert(name, (default.to_owned(), SettingSource::Unknown));
                continue;
            }
            let found = [
                (inputs.cli_env.get(name), SettingSource::Cli),
                (inputs.daemonset_env.get(name), SettingSource::Daemonset),
                (inputs.addon_env.get(name), SettingSource::Addon),
            ]
            .into_iter()
            .find_map(|(value, source)| value.map(|v| (v.clone(), source)));
            let (value, source) = match found {
                Some((value, source)) => {
                    if introduced_in(name).is_some_and(|first| version < first) {
                        notes.push(format!(
                            "{name}={value} ({source}) is ignored: CNI {version} does not read it (added in {})",
                            introduced_in(name).map(|v| v.to_string()).unwrap_or_default()
                        ));
                        (
                            default_for(name, version).to_owned(),
                            SettingSource::Default,
                        )
                    } else {
                        (value, source)
                    }
                }
                None => (
                    default_for(name, version).to_owned(),
                    SettingSource::Default,
                ),
            };
            resolved.insert(name, (value, source));
        }
        for (name, (value, source)) in &resolved {
            let shown = match source {
                SettingSource::Unknown => inputs
                    .daemonset_value_from
                    .get(*name)
                    .map_or_else(|| "unknown".to_owned(), |from| format!("unknown ({from})")),
                _ => value.clone(),
            };
            settings.push(ResolvedSetting {
                name: (*name).to_owned(),
                value: shown,
                source: *source,
                default: Some(default_for(name, version).to_owned()),
            });
        }
        for (name, from) in &inputs.daemonset_value_from {
            if !MODELLED.contains(&name.as_str()) {
                settings.push(ResolvedSetting {
                    name: name.clone(),
                    value: format!("unknown ({from})"),
                    source: SettingSource::Unknown,
                    default: None,
                });
            }
        }
        // Variables podreach does not model but the user set: list them so nothing is silently dropped.
        for (map, source) in [
            (&inputs.cli_env, SettingSource::Cli),
            (&inputs.daemonset_env, SettingSource::Daemonset),
            (&inputs.addon_env, SettingSource::Addon),
        ] {
            for (name, value) in map {
                if !MODELLED.contains(&name.as_str()) && !settings.iter().any(|s| &s.name == name) {
                    settings.push(ResolvedSetting {
                        name: name.clone(),
                        value: value.clone(),
                        source,
                        default: None,
                    });
                }
            }
        }

        let value = |name: &str| resolved.get(name).map(|(v, _)| v.as_str()).unwrap_or("");
        let mut flag = |name: &str| -> bool {
            let text = value(name);
            let fallback = default_for(name, version) == "true";
            match parse_go_bool(text) {
                Some(b) => b,
                None => {
                    notes.push(format!(
                        "{name}=`{text}` is not a Go boolean; the CNI uses its default ({fallback})"
                    ));
                    fallback
                }
            }
        };
        // v1.0.x has no EXTERNALSNAT (PR #81, v1.1.0): `E` is always false there; `introduced_in` handles it.
        let external_snat = flag(EXTERNALSNAT);
        let node_port_support = flag(NODE_PORT_SUPPORT);
        let custom_networking = flag(CUSTOM_NETWORK_CFG);
        let pod_eni = flag(ENABLE_POD_ENI);
        let prefix_delegation = flag(ENABLE_PREFIX_DELEGATION);
        let ipv6 = flag(ENABLE_IPV6);
        let multi_nic = flag(ENABLE_MULTI_NIC);
        let subnet_discovery = flag(ENABLE_SUBNET_DISCOVERY);
        let configure_rpfilter = flag(CONFIGURE_RPFILTER);

        for name in [EXCLUDE_SNAT_CIDRS, EXTERNAL_SERVICE_CIDRS] {
            let (_, skipped) = parse_cidr_list(value(name), version);
            for entry in skipped {
                notes.push(match entry {
                    SkippedEntry::Invalid(entry) => {
                        format!("{name} entry `{entry}` is not an IPv4 CIDR: the CNI skips it")
                    }
                    SkippedEntry::Untrimmed(entry) => format!(
                        "{name} entry `{entry}` is ignored: CNI {version} does not trim the \
                         entries of the list (trimming came in {TRIMS_CIDR_LISTS}), so it rejects \
                         the CIDR with its spaces; write the list without spaces"
                    ),
                });
            }
        }
        let (exclude_snat_cidrs, _) = parse_cidr_list(value(EXCLUDE_SNAT_CIDRS), version);
        let (external_service_cidrs, _) = parse_cidr_list(value(EXTERNAL_SERVICE_CIDRS), version);
        if external_snat && !exclude_snat_cidrs.is_empty() {
            notes.push(format!(
                "{EXCLUDE_SNAT_CIDRS} has no effect because {EXTERNALSNAT}=true"
            ));
        }

        // getConnmark: strconv.ParseInt(v, 0, 64), valid 1..2^32-1, otherwise 0x80.
        let connmark_text = value(CONNMARK);
        let connmark = parse_go_int(connmark_text)
            .filter(|m| (1..=i64::from(u32::MAX)).contains(m))
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or_else(|| {
                notes.push(format!(
                    "{CONNMARK}=`{connmark_text}` is invalid; the CNI uses 0x80"
                ));
                0x80
            });

        // typeOfSNAT (network.go): an invalid value gives the version's default, `prng` from
        // v1.7.0 (PR #1048), `hashrandom` before.
        let randomize_snat = match value(RANDOMIZESNAT) {
            v @ ("prng" | "hashrandom" | "none") => v.to_owned(),
            other => {
                let fallback = default_for(RANDOMIZESNAT, version);
                notes.push(format!(
                    "{RANDOMIZESNAT}=`{other}` is invalid; the CNI uses {fallback}"
                ));
                fallback.to_owned()
            }
        };
        // An invalid mode stops aws-node, so new pods get no address:
        // - v1.11.0–v1.12.0: scripts/entrypoint.sh:76-83 exits on any non-empty value but `strict`
        //   or `standard`, whatever ENABLE_POD_ENI says (an empty value means strict, :106-107);
        // - v1.12.1+: cmd/aws-vpc-cni/main.go, validateEnvVars (v1.12.1:304-312), only with
        //   ENABLE_POD_ENI=true.
        let sgp_text = value(POD_SECURITY_GROUP_ENFORCING_MODE);
        let valid = matches!(sgp_text, "strict" | "standard");
        let entrypoint_exits = version >= facts::SGP_ENFORCING_MODE
            && version < facts::RULE_1024_UNLESS_EXTERNALSNAT
            && !sgp_text.is_empty()
            && !valid;
        if entrypoint_exits {
            notes.push(format!(
                "{POD_SECURITY_GROUP_ENFORCING_MODE}=`{sgp_text}`: the entrypoint of aws-node {version} \
                 exits on it (scripts/entrypoint.sh, whatever {ENABLE_POD_ENI} says), so new pods get no \
                 address; podreach models the strict mode"
            ));
        } else if version >= facts::RULE_1024_UNLESS_EXTERNALSNAT && pod_eni && !valid {
            notes.push(format!(
                "{POD_SECURITY_GROUP_ENFORCING_MODE}=`{sgp_text}` with {ENABLE_POD_ENI}=true: \
                 aws-node {version} refuses to start with it, so new pods get no address; \
                 podreach models the strict mode"
            ));
        }
        let sgp_mode = if version < facts::SGP_ENFORCING_MODE {
            SgpMode::Strict
        } else {
            match value(POD_SECURITY_GROUP_ENFORCING_MODE) {
                "standard" => SgpMode::Standard,
                _ => SgpMode::Strict,
            }
        };

        // rp_filter of the primary interface (docs/datapath.md §2.6): the init container writes 2 from
        // v1.7.0; before, ipamd wrote it when NODE_PORT_SUPPORT (and CONFIGURE_RPFILTER from v1.6.1).
        let (rp_filter_primary, rp_filter_primary_source) = match inputs.cli_rp_filter_primary {
            Some(mode) => (Some(mode), SettingSource::Cli),
            None => {
                let init_writes = version >= facts::INIT_CONTAINER_AND_POD_ENI
                    && inputs.daemonset_has_init != Some(false);
                let ipamd_writes = version < facts::RULE_1024_UNLESS_EXTERNALSNAT
                    && node_port_support
                    && (version < facts::CONFIGURE_RPFILTER_READ || configure_rpfilter);
                if init_writes || ipamd_writes {
                    let who = if init_writes {
                        "the aws-vpc-cni-init container"
                    } else {
                        "ipamd (NODE_PORT_SUPPORT)"
                    };
                    assumptions.push(format!(
                        "rp_filter on the primary interface assumed 2 (loose), as {who} sets it; \
                         a hardening step that sets it to 1 afterwards changes the verdicts (--rp-filter-primary)"
                    ));
                    (Some(2), SettingSource::Assumed)
                } else {
                    let why = if inputs.daemonset_has_init == Some(false) {
                        "the aws-node DaemonSet has no aws-vpc-cni-init container"
                    } else {
                        "this CNI version and configuration never set it"
                    };
                    assumptions.push(format!(
                        "rp_filter on the primary interface unknown ({why}); verdicts that depend on it are \
                         `unknown` (tell podreach with --rp-filter-primary)"
                    ));
                    (None, SettingSource::Assumed)
                }
            }
        };
        let rp_filter_secondary = inputs.cli_rp_filter_secondary;
        if rp_filter_secondary.is_none() {
            assumptions.push(
                "rp_filter on secondary interfaces unknown (the CNI leaves them at the OS default); \
                 per docs/datapath.md §5.4 it can change the reasons given, never a verdict"
                    .to_owned(),
            );
        }
        settings.push(ResolvedSetting {
            name: "rp_filter (primary interface)".to_owned(),
            value: rp_filter_primary.map_or_else(|| "unknown".to_owned(), |m| m.to_string()),
            source: rp_filter_primary_source,
            default: Some("2".to_owned()),
        });
        settings.push(ResolvedSetting {
            name: "rp_filter (secondary interfaces)".to_owned(),
            value: rp_filter_secondary.map_or_else(|| "unknown".to_owned(), |m| m.to_string()),
            source: if rp_filter_secondary.is_some() {
                SettingSource::Cli
            } else {
                SettingSource::Assumed
            },
            default: None,
        });

        // The other extreme of each unknown setting, one at a time (never the product of all).
        for setting in &mut unknown {
            if let Some(value) = &setting.alternative_value {
                let mut other = inputs.clone();
                other.cli_env.insert(setting.name.clone(), value.clone());
                other.daemonset_value_from.clear();
                setting.alternative = Some(Box::new(CniConfig::resolve(&other)));
            }
        }
        // An unknown version: every other modelled release, with the same settings.
        if version_source.is_none() {
            for release in Version::RELEASES_MODELLED {
                if *release == version {
                    continue;
                }
                let mut other = inputs.clone();
                other.cli_version = Some(*release);
                other.daemonset_value_from.clear();
                unknown.push(UnknownSetting {
                    name: UNKNOWN_VERSION.to_owned(),
                    from: VERSION_SOURCES.to_owned(),
                    alternative_value: Some(release.to_string()),
                    alternative: Some(Box::new(CniConfig::resolve(&other))),
                    version: Some(*release),
                });
            }
        }

        CniConfig {
            unknown,
            version,
            version_source,
            external_snat,
            exclude_snat_cidrs,
            external_service_cidrs,
            node_port_support,
            connmark,
            randomize_snat,
            veth_prefix: value(VETHPREFIX).to_owned(),
            custom_networking,
            pod_eni,
            sgp_mode,
            prefix_delegation,
            ipv6,
            multi_nic,
            subnet_discovery,
            rp_filter_primary,
            rp_filter_primary_source,
            rp_filter_secondary,
            settings,
            notes,
            assumptions,
        }
    }

    /// `true` when the version came from no source and the newest behaviour is assumed.
    pub fn version_unknown(&self) -> bool {
        self.version_source.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[Ipv4Net]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_invalid_sgp_mode_stops_the_v1_11_entrypoint_even_without_pod_enis() {
        let notes = |version: Version, pod_eni: &str| {
            CniConfig::resolve(&CniInputs {
                cli_version: Some(version),
                cli_env: [
                    (
                        POD_SECURITY_GROUP_ENFORCING_MODE.to_owned(),
                        "Strict".to_owned(),
                    ),
                    (ENABLE_POD_ENI.to_owned(), pod_eni.to_owned()),
                ]
                .into_iter()
                .collect(),
                ..CniInputs::default()
            })
            .notes
        };
        let exits = |n: &[String]| {
            n.iter()
                .any(|n| n.contains("entrypoint") && n.contains("exits"))
        };
        let refuses = |n: &[String]| n.iter().any(|n| n.contains("refuses to start"));
        assert!(exits(&notes(Version::new(1, 11, 4), "false")));
        assert!(exits(&notes(Version::new(1, 12, 0), "true")));
        assert!(
            !exits(&notes(Version::new(1, 10, 4), "true")),
            "no such variable before v1.11.0"
        );
        assert!(!refuses(&notes(Version::new(1, 12, 1), "false")));
        assert!(refuses(&notes(Version::new(1, 12, 1), "true")));
    }

    #[test]
    fn exclude_snat_entries_with_spaces_are_dropped_before_1_12_6_and_trimmed_after() {
        let value = "10.9.0.0/16, 10.1.0.0/16 ,10.2.0.0/16,,";
        let (kept, skipped) = parse_cidr_list(value, Version::new(1, 12, 5));
        assert_eq!(cidrs(&kept), ["10.9.0.0/16", "10.2.0.0/16"]);
        assert_eq!(
            skipped,
            [SkippedEntry::Untrimmed(" 10.1.0.0/16 ".to_owned())]
        );
        let (kept, skipped) = parse_cidr_list(value, Version::new(1, 12, 6));
        assert_eq!(cidrs(&kept), ["10.9.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]);
        assert!(skipped.is_empty(), "{skipped:?}");
        let (kept, skipped) = parse_cidr_list("10.1.0.9/16,fd00::/8,nope", Version::new(1, 16, 0));
        assert_eq!(cidrs(&kept), ["10.1.0.0/16"], "normalised to the network");
        assert_eq!(
            skipped,
            [
                SkippedEntry::Invalid("fd00::/8".to_owned()),
                SkippedEntry::Invalid("nope".to_owned())
            ]
        );
    }

    #[test]
    fn the_report_says_which_exclusion_the_cni_ignores_and_why() {
        let inputs = CniInputs {
            cli_version: Some(Version::new(1, 11, 4)),
            daemonset_env: BTreeMap::from([(
                EXCLUDE_SNAT_CIDRS.to_owned(),
                "10.9.0.0/16, 10.1.0.0/16".to_owned(),
            )]),
            ..CniInputs::default()
        };
        let config = CniConfig::resolve(&inputs);
        assert_eq!(cidrs(&config.exclude_snat_cidrs), ["10.9.0.0/16"]);
        assert!(
            config
                .notes
                .iter()
                .any(|n| n.contains("` 10.1.0.0/16` is ignored") && n.contains("v1.12.6")),
            "{:?}",
            config.notes
        );
    }

    #[test]
    fn go_parsing_of_connmark_and_randomizesnat_follows_the_version() {
        assert_eq!(parse_go_int(" 0x40"), None, "Go does not trim");
        let resolve = |version, env: &[(&str, &str)]| {
            CniConfig::resolve(&CniInputs {
                cli_version: Some(version),
                daemonset_env: env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..CniInputs::default()
            })
        };
        let old = resolve(Version::new(1, 6, 3), &[(RANDOMIZESNAT, "bogus")]);
        assert_eq!(old.randomize_snat, "hashrandom");
        let new = resolve(Version::new(1, 7, 0), &[(RANDOMIZESNAT, "bogus")]);
        assert_eq!(new.randomize_snat, "prng");
        let connmark = resolve(Version::new(1, 16, 0), &[(CONNMARK, " 0x40")]);
        assert_eq!(connmark.connmark, 0x80);
    }

    #[test]
    fn an_image_pinned_by_digest_keeps_its_tag_version() {
        let pinned = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.11.4-eksbuild.1@sha256:7d3a0e2f9c1b4a5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6";
        assert_eq!(Version::parse_loose(pinned), Some(Version::new(1, 11, 4)));
        assert_eq!(
            Version::parse_loose("registry.local:5000/amazon-k8s-cni:v1.19.0"),
            Some(Version::new(1, 19, 0))
        );
        // A digest alone names no version.
        assert_eq!(
            Version::parse_loose(
                "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni@sha256:7d3a0e2f"
            ),
            None
        );
    }

    #[test]
    fn versions_are_read_from_image_references_and_addon_versions() {
        let image =
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.11.4-eksbuild.1";
        assert_eq!(Version::parse_loose(image), Some(Version::new(1, 11, 4)));
        assert_eq!(
            Version::parse_loose("v1.18.3-eksbuild.1"),
            Some(Version::new(1, 18, 3))
        );
        assert_eq!(Version::parse_loose("1.7"), Some(Version::new(1, 7, 0)));
        assert_eq!(Version::parse_loose("registry:5000/amazon-k8s-cni"), None);
        assert_eq!(Version::parse_loose("latest"), None);
    }

    #[test]
    fn cli_beats_daemonset_beats_addon_beats_default() {
        let mut inputs = CniInputs {
            addon_version: Some("v1.10.1-eksbuild.1".into()),
            daemonset_image: Some("x/amazon-k8s-cni:v1.11.4".into()),
            ..CniInputs::default()
        };
        inputs.addon_env.insert(EXTERNALSNAT.into(), "true".into());
        inputs
            .addon_env
            .insert(NODE_PORT_SUPPORT.into(), "false".into());
        inputs
            .daemonset_env
            .insert(NODE_PORT_SUPPORT.into(), "true".into());
        inputs.cli_env.insert(
            EXCLUDE_SNAT_CIDRS.into(),
            "10.9.0.0/16,bogus,fd00::/8".into(),
        );
        let cni = CniConfig::resolve(&inputs);
        assert_eq!(cni.version, Version::new(1, 11, 4));
        assert_eq!(cni.version_source, Some(SettingSource::Daemonset));
        assert!(cni.external_snat);
        assert!(cni.node_port_support);
        let source = |n: &str| cni.settings.iter().find(|s| s.name == n).map(|s| s.source);
        assert_eq!(source(EXTERNALSNAT), Some(SettingSource::Addon));
        assert_eq!(source(NODE_PORT_SUPPORT), Some(SettingSource::Daemonset));
        assert_eq!(source(EXCLUDE_SNAT_CIDRS), Some(SettingSource::Cli));
        assert_eq!(source(CONNMARK), Some(SettingSource::Default));
        assert_eq!(
            cni.exclude_snat_cidrs,
            vec!["10.9.0.0/16".parse::<Ipv4Net>().expect("cidr")]
        );
        assert_eq!(
            cni.notes.iter().filter(|n| n.contains("skips it")).count(),
            2
        );
    }

    #[test]
    fn a_variable_the_version_does_not_read_falls_back_to_its_default_with_a_note() {
        let mut inputs = CniInputs {
            cli_version: Some(Version::new(1, 11, 0)),
            ..CniInputs::default()
        };
        inputs
            .daemonset_env
            .insert(EXTERNAL_SERVICE_CIDRS.into(), "10.9.0.0/16".into());
        let cni = CniConfig::resolve(&inputs);
        assert!(cni.external_service_cidrs.is_empty());
        assert!(cni.notes.iter().any(|n| n.contains("does not read it")));
    }

    #[test]
    fn unknown_version_assumes_the_newest_and_says_so() {
        let cni = CniConfig::resolve(&CniInputs::default());
        assert!(cni.version_unknown());
        assert_eq!(cni.version, Version::NEWEST_SPECIFIED);
        assert!(
            cni.assumptions
                .iter()
                .any(|a| a.contains("CNI version unknown"))
        );
        assert_eq!(cni.rp_filter_primary, Some(2));
    }

    #[test]
    fn go_parsing_of_connmark_and_booleans() {
        assert_eq!(parse_go_int("0x80"), Some(128));
        assert_eq!(parse_go_int("0200"), Some(128));
        assert_eq!(parse_go_int("128"), Some(128));
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
