"""SES v1 configuration sets (issue 10, part 1). Translation only: the rules are in
`domain/use_cases/configuration_sets.py`, one state with SES v2's (`ses_v2_configuration_
sets.py`). Event destinations come with part 2: DescribeConfigurationSet answers none."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from postroom.domain import configuration_sets as sets
from postroom.domain.configuration_sets import ConfigurationSet
from postroom.domain.use_cases import configuration_sets as use_cases
from postroom.interfaces.http.ses_v1 import Context, Output, operation


@operation("CreateConfigurationSet")
async def create_configuration_set(ctx: Context, params: Mapping[str, Any]) -> Output:
    name = params["ConfigurationSet"].get("Name", "")
    await use_cases.create_configuration_set(ctx.core, ctx.caller, ConfigurationSet(name, 0.0))
    return {}


@operation("DeleteConfigurationSet")
async def delete_configuration_set(ctx: Context, params: Mapping[str, Any]) -> Output:
    await use_cases.delete_configuration_set(ctx.core, ctx.caller, params["ConfigurationSetName"])
    return {}


@operation("DescribeConfigurationSet")
async def describe_configuration_set(ctx: Context, params: Mapping[str, Any]) -> Output:
    stored = await use_cases.get_configuration_set(
        ctx.core, ctx.caller, params["ConfigurationSetName"]
    )
    found = stored.found
    wanted = set(params.get("ConfigurationSetAttributeNames") or ())
    result: dict[str, Any] = {"ConfigurationSet": {"Name": found.name}}
    if "eventDestinations" in wanted:
        result["EventDestinations"] = []  # event destinations: issue 10, part 2
    if "trackingOptions" in wanted and found.tracking_domain is not None:
        result["TrackingOptions"] = (
            {"CustomRedirectDomain": found.tracking_domain} if found.tracking_domain else {}
        )
    if "deliveryOptions" in wanted:
        result["DeliveryOptions"] = {"TlsPolicy": found.tls_policy.capitalize()}
    if "reputationOptions" in wanted:
        reputation: dict[str, Any] = {
            "SendingEnabled": found.sending_enabled,
            "ReputationMetricsEnabled": found.reputation_metrics,
        }
        if found.last_fresh_start is not None:
            reputation["LastFreshStart"] = datetime.fromtimestamp(found.last_fresh_start, UTC)
        result["ReputationOptions"] = reputation
    return result


@operation("ListConfigurationSets")
async def list_configuration_sets(ctx: Context, params: Mapping[str, Any]) -> Output:
    page = await use_cases.list_configuration_sets(
        ctx.core, ctx.caller, params.get("MaxItems"), params.get("NextToken")
    )
    result: dict[str, Any] = {"ConfigurationSets": [{"Name": name} for name in page.names]}
    if page.next_token:
        result["NextToken"] = page.next_token
    return result


async def _change(
    ctx: Context, params: Mapping[str, Any], change: use_cases.Change, action: str
) -> None:
    name = params["ConfigurationSetName"]
    await use_cases.change_configuration_set(ctx.core, ctx.caller, name, change, action)


@operation("UpdateConfigurationSetSendingEnabled")
async def update_sending_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("Enabled"))
    await _change(ctx, params, lambda f: dataclasses.replace(f, sending_enabled=enabled),
                  "update_configuration_set_sending_enabled")  # fmt: skip
    return None


@operation("UpdateConfigurationSetReputationMetricsEnabled")
async def update_reputation_metrics_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("Enabled"))
    await _change(ctx, params, lambda f: dataclasses.replace(f, reputation_metrics=enabled),
                  "update_configuration_set_reputation_metrics_enabled")  # fmt: skip
    return None


@operation("PutConfigurationSetDeliveryOptions")
async def put_delivery_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    given = (params.get("DeliveryOptions") or {}).get("TlsPolicy") or "Optional"
    policy = sets.check_tls_policy(given)
    await _change(ctx, params, lambda f: dataclasses.replace(f, tls_policy=policy),
                  "put_configuration_set_delivery_options")  # fmt: skip
    return {}


def _domain(params: Mapping[str, Any]) -> str | None:
    domain = (params.get("TrackingOptions") or {}).get("CustomRedirectDomain")
    return sets.check_redirect_domain(domain) if domain else None


@operation("CreateConfigurationSetTrackingOptions")
async def create_tracking_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    await _change(ctx, params, use_cases.add_tracking(_domain(params)),
                  "create_configuration_set_tracking_options")  # fmt: skip
    return {}


@operation("UpdateConfigurationSetTrackingOptions")
async def update_tracking_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    await _change(ctx, params, use_cases.update_tracking(_domain(params)),
                  "update_configuration_set_tracking_options")  # fmt: skip
    return {}


@operation("DeleteConfigurationSetTrackingOptions")
async def delete_tracking_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    await _change(ctx, params, use_cases.remove_tracking,
                  "delete_configuration_set_tracking_options")  # fmt: skip
    return {}
