//! Transit gateway route tables, as the AWS CLI prints them: the tables of a gateway, and each
//! table's associations, propagations and routes.
//!
//! Only `describe-transit-gateway-route-tables` names its tables; the other three commands answer
//! for one table (`--transit-gateway-route-table-id`) and do not repeat its id. A live collection
//! writes the id into the document (`TransitGatewayRouteTableId`, podreach's own key, as it does
//! for prefix-list entries), and an offline file without it is attributed by its name
//! (`tgw-rtb-….json`, `routes-tgw-rtb-….json`). `search-transit-gateway-routes` also answers only
//! for its filter: podreach's own files say which prefixes were searched (`SearchedPrefixes`), so
//! the model never reads "not searched" as "no route"; a file without it is taken as the whole
//! table, which the README's recipe asks for, and the verdicts say so.

use serde::{Deserialize, Serialize};

/// `aws ec2 describe-transit-gateway-route-tables`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTransitGatewayRouteTables {
    pub transit_gateway_route_tables: Vec<TransitGatewayRouteTable>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransitGatewayRouteTable {
    pub transit_gateway_route_table_id: String,
    pub transit_gateway_id: String,
    /// `pending`, `available`, `deleting`, `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default)]
    pub default_association_route_table: bool,
    #[serde(default)]
    pub default_propagation_route_table: bool,
}

/// `aws ec2 get-transit-gateway-route-table-associations --transit-gateway-route-table-id …`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTransitGatewayRouteTableAssociations {
    /// podreach's own key: the table these answer for (the AWS CLI's output does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_gateway_route_table_id: Option<String>,
    pub associations: Vec<TransitGatewayRouteTableLink>,
}

/// `aws ec2 get-transit-gateway-route-table-propagations --transit-gateway-route-table-id …`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTransitGatewayRouteTablePropagations {
    /// podreach's own key, as for the associations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_gateway_route_table_id: Option<String>,
    pub transit_gateway_route_table_propagations: Vec<TransitGatewayRouteTableLink>,
}

/// One association or propagation of a table: the attachment and what it leads to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransitGatewayRouteTableLink {
    pub transit_gateway_attachment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// `vpc`, `vpn`, `direct-connect-gateway`, `connect`, `peering`, `tgw-peering`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// `associating`, `associated`, … for an association; `enabling`, `enabled`, … for a
    /// propagation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// `aws ec2 search-transit-gateway-routes --transit-gateway-route-table-id … --filters …`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchTransitGatewayRoutes {
    /// podreach's own key: the table searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_gateway_route_table_id: Option<String>,
    /// podreach's own key: the prefixes searched (each with `route-search.longest-prefix-match`
    /// and `route-search.subnet-of-match`); absent, the document is the whole table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searched_prefixes: Option<Vec<String>>,
    pub routes: Vec<TransitGatewayRoute>,
    /// AWS returns at most 1,000 routes per search and sets this when there were more.
    #[serde(default)]
    pub additional_routes_available: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransitGatewayRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transit_gateway_attachments: Vec<TransitGatewayRouteAttachment>,
    /// `static` or `propagated`.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `active`, `blackhole`, `pending`, `deleting`, `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransitGatewayRouteAttachment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    pub transit_gateway_attachment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
}
