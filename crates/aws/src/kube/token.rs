//! The bearer token an EKS API server accepts for an IAM principal.
//!
//! EKS authenticates with aws-iam-authenticator's scheme: the client presigns an STS
//! `GetCallerIdentity` request whose signed headers include `x-k8s-aws-id: <cluster name>`, and
//! sends `k8s-aws-v1.` followed by the URL in unpadded base64url as its bearer token. The API
//! server replays the request to STS with that header; STS answers with the caller's ARN only if
//! the signature holds, so a token made for one cluster is worthless to another
//! (aws-iam-authenticator `pkg/token/token.go`: `GetWithSTS`, `clusterIDHeader`,
//! `requestPresignParam = 60`; `aws eks get-token` makes the same). The presigned URL expires
//! after 60 seconds, so a token is made per invocation, never kept.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;

use super::percent_encode;

/// The header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long the presigned URL is valid: aws-iam-authenticator's `requestPresignParam`.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(60);
const PREFIX: &str = "k8s-aws-v1.";

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
#[error("the EKS token for cluster {cluster} could not be signed: {message}")]
pub struct TokenError {
    pub cluster: String,
    pub message: String,
}

/// STS's regional endpoint, as aws-iam-authenticator accepts it (`sts.<region>.amazonaws.com`,
/// `.com.cn` in the China Regions).
pub fn sts_host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("sts.{region}.amazonaws.com.cn")
    } else {
        format!("sts.{region}.amazonaws.com")
    }
}

/// The token for `cluster` (its name, as EKS knows it) from `credentials`, signed at `now` for
/// STS in `region`.
pub fn eks_token(
    cluster: &str,
    region: &str,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<String, TokenError> {
    let fail = |message: String| TokenError {
        cluster: cluster.to_owned(),
        message,
    };
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| fail(e.to_string()))?
        .into();
    let url = format!(
        "https://{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_host(region)
    );
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        [(CLUSTER_ID_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| fail(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| fail(e.to_string()))?
        .into_parts();
    let (_headers, query) = instructions.into_parts();
    let mut presigned = url;
    for (name, value) in query {
        presigned.push('&');
        presigned.push_str(name);
        presigned.push('=');
        presigned.push_str(&percent_encode(&value));
    }
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
    ))
}

/// The presigned URL inside a token.
#[cfg(test)]
fn presigned_url(token: &str) -> Option<String> {
    let encoded = token.strip_prefix(PREFIX)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session/token+with=odd&chars".to_owned()),
            None,
            "test",
        )
    }

    #[test]
    fn a_token_is_a_presigned_get_caller_identity_bound_to_the_cluster() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let token = eks_token("shop", "eu-west-1", &credentials(), now).expect("signed");
        assert!(token.starts_with("k8s-aws-v1."));
        assert!(!token.contains('='), "unpadded base64url");
        let url = presigned_url(&token).expect("decodes");
        assert!(
            url.starts_with(
                "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20261130%2Feu-west-1%2Fsts%2Faws4_request",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Security-Token=session%2Ftoken%2Bwith%3Dodd%26chars",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        // Another cluster, another signature.
        let other = eks_token("legacy", "eu-west-1", &credentials(), now).expect("signed");
        assert_ne!(token, other);
    }

    #[test]
    fn china_regions_sign_for_the_china_sts_host() {
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(sts_host("us-east-1"), "sts.us-east-1.amazonaws.com");
    }
}
