//! The trust anchors of the Lambda functions' HTTPS client.
//!
//! The SDK's default client trusts the platform's root certificates, which it reads and parses
//! (about 140 of them) before the function can ask the Runtime API for its first event: most of
//! the bootstrap's cold start. The functions talk only to AWS service endpoints (EC2, EKS, SNS),
//! and every AWS endpoint's certificate chains to Amazon Trust Services, so by default they trust
//! exactly its five roots (Amazon Root CA 1–4 and the Starfield Services root that cross-signs
//! them), embedded here: less to parse, and a smaller set of authorities that can speak for AWS.
//! `PODREACH_TLS_ROOTS=platform` restores the platform's roots (for a TLS-inspecting proxy with
//! its own CA). The CLI keeps the SDK's default: it runs on machines whose proxies we do not know.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority – G2, as PEM.
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

/// Which root certificates an HTTPS client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustAnchors {
    /// The Amazon Trust Services roots only (the functions' default).
    AmazonTrustServices,
    /// The platform's root certificates (the SDK's default).
    Platform,
}

impl TrustAnchors {
    /// `PODREACH_TLS_ROOTS`: `amazon` (default) or `platform`.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("" | "amazon") => Ok(TrustAnchors::AmazonTrustServices),
            Some("platform") => Ok(TrustAnchors::Platform),
            Some(other) => Err(format!("`{other}` is not `amazon` or `platform`")),
        }
    }
}

/// An HTTPS client like the SDK's default (rustls with aws-lc, proxy settings from the
/// environment) that trusts only the Amazon Trust Services roots.
pub fn amazon_roots_client() -> Result<SharedHttpClient, aws_smithy_http_client::HttpClientError> {
    let context = TlsContext::builder()
        .with_trust_store(
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes()),
        )
        .build()?;
    Ok(
        Builder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .tls_context(context.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings};
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;

    #[test]
    fn the_embedded_roots_are_the_five_amazon_trust_services_certificates_and_parse() {
        assert_eq!(
            AMAZON_TRUST_SERVICES_ROOTS
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            5
        );
        // Building a connector parses every root; an unreadable one would panic here, not in
        // a function's first call.
        let client = amazon_roots_client().expect("a TLS context");
        let components = RuntimeComponentsBuilder::for_tests()
            .with_time_source(Some(aws_smithy_async::time::SharedTimeSource::new(
                aws_smithy_async::time::SystemTimeSource::new(),
            )))
            .build()
            .expect("test components");
        let _connector = client.http_connector(&HttpConnectorSettings::default(), &components);
    }

    #[test]
    fn the_trust_setting_is_amazon_unless_platform_is_asked_for() {
        assert_eq!(
            TrustAnchors::parse(None),
            Ok(TrustAnchors::AmazonTrustServices)
        );
        assert_eq!(
            TrustAnchors::parse(Some("platform")),
            Ok(TrustAnchors::Platform)
        );
        assert!(TrustAnchors::parse(Some("system")).is_err());
    }
}
