"""SES v2 configuration sets (issue 10, part 1) and an identity's default set
(PutEmailIdentityConfigurationSetAttributes). The same use cases and state as v1's
(`ses_v1_configuration_sets.py`): a set made with one API is read with the other.

Stored and shown, not acted on: SendingPoolName, MaxDeliverySeconds, ReputationOptions,
TrackingOptions (open and click tracking come later). VdmOptions, ArchivingOptions and
SuppressionOptions.ValidationOptions are refused as not supported yet."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from postroom.domain import configuration_sets as sets
from postroom.domain.configuration_sets import ConfigurationSet
from postroom.domain.use_cases import configuration_sets as use_cases
from postroom.interfaces.http.ses_v1 import Context, Output, not_supported
from postroom.interfaces.http.ses_v2 import operation


def _when(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _reasons(given: list[str] | None) -> frozenset[str] | None:
    return None if given is None else sets.check_reasons(list(given))


def _unsupported(params: Mapping[str, Any], operation_name: str, *names: str) -> None:
    for name in names:
        if params.get(name):
            raise not_supported(f"{operation_name} with {name}")


@operation("CreateConfigurationSet")
async def create_configuration_set(ctx: Context, params: Mapping[str, Any]) -> Output:
    _unsupported(params, "CreateConfigurationSet", "VdmOptions", "ArchivingOptions")
    tracking = params.get("TrackingOptions")
    delivery = params.get("DeliveryOptions") or {}
    reputation = params.get("ReputationOptions") or {}
    suppression = params.get("SuppressionOptions")
    if suppression is not None:
        _unsupported(suppression, "CreateConfigurationSet", "ValidationOptions")
    wanted = ConfigurationSet(
        name=params["ConfigurationSetName"],
        created_at=0.0,
        sending_enabled=bool((params.get("SendingOptions") or {}).get("SendingEnabled", True)),
        tls_policy=sets.check_tls_policy(delivery.get("TlsPolicy") or "OPTIONAL"),
        sending_pool=delivery.get("SendingPoolName"),
        max_delivery_seconds=delivery.get("MaxDeliverySeconds"),
        reputation_metrics=bool(reputation.get("ReputationMetricsEnabled", False)),
        last_fresh_start=_when(reputation.get("LastFreshStart")),
        suppressed_reasons=_reasons(suppression.get("SuppressedReasons"))
        if suppression is not None
        else None,
        tracking_domain=tracking.get("CustomRedirectDomain") if tracking else None,
        https_policy=tracking.get("HttpsPolicy") if tracking else None,
    )
    tags = [(t.get("Key", ""), t.get("Value", "")) for t in params.get("Tags") or []]
    await use_cases.create_configuration_set(ctx.core, ctx.caller, wanted, tags)
    return {}


@operation("GetConfigurationSet")
async def get_configuration_set(ctx: Context, params: Mapping[str, Any]) -> Output:
    stored = await use_cases.get_configuration_set(
        ctx.core, ctx.caller, params["ConfigurationSetName"]
    )
    found = stored.found
    delivery: dict[str, Any] = {"TlsPolicy": found.tls_policy}
    if found.sending_pool is not None:
        delivery["SendingPoolName"] = found.sending_pool
    if found.max_delivery_seconds is not None:
        delivery["MaxDeliverySeconds"] = found.max_delivery_seconds
    reputation: dict[str, Any] = {"ReputationMetricsEnabled": found.reputation_metrics}
    if found.last_fresh_start is not None:
        reputation["LastFreshStart"] = datetime.fromtimestamp(found.last_fresh_start, UTC)
    result: dict[str, Any] = {
        "ConfigurationSetName": found.name,
        "DeliveryOptions": delivery,
        "ReputationOptions": reputation,
        "SendingOptions": {"SendingEnabled": found.sending_enabled},
        "Tags": [{"Key": key, "Value": value} for key, value in stored.tags.items()],
    }
    if found.tracking_domain:  # v2's TrackingOptions requires the domain
        tracking = {"CustomRedirectDomain": found.tracking_domain}
        if found.https_policy is not None:
            tracking["HttpsPolicy"] = found.https_policy
        result["TrackingOptions"] = tracking
    if found.suppressed_reasons is not None:
        result["SuppressionOptions"] = {"SuppressedReasons": sorted(found.suppressed_reasons)}
    return result


@operation("DeleteConfigurationSet")
async def delete_configuration_set(ctx: Context, params: Mapping[str, Any]) -> Output:
    await use_cases.delete_configuration_set(ctx.core, ctx.caller, params["ConfigurationSetName"])
    return {}


@operation("ListConfigurationSets")
async def list_configuration_sets(ctx: Context, params: Mapping[str, Any]) -> Output:
    page = await use_cases.list_configuration_sets(
        ctx.core, ctx.caller, params.get("PageSize"), params.get("NextToken")
    )
    result: dict[str, Any] = {"ConfigurationSets": page.names}
    if page.next_token:
        result["NextToken"] = page.next_token
    return result


async def _change(
    ctx: Context, params: Mapping[str, Any], change: use_cases.Change, action: str
) -> Output:
    name = params["ConfigurationSetName"]
    await use_cases.change_configuration_set(ctx.core, ctx.caller, name, change, action)
    return {}


@operation("PutConfigurationSetSendingOptions")
async def put_sending_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("SendingEnabled", False))
    return await _change(ctx, params, lambda f: dataclasses.replace(f, sending_enabled=enabled),
                         "put_configuration_set_sending_options")  # fmt: skip


@operation("PutConfigurationSetDeliveryOptions")
async def put_delivery_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    policy = sets.check_tls_policy(params.get("TlsPolicy") or "OPTIONAL")
    pool, seconds = params.get("SendingPoolName"), params.get("MaxDeliverySeconds")

    def change(found: ConfigurationSet) -> ConfigurationSet:
        return dataclasses.replace(
            found, tls_policy=policy, sending_pool=pool, max_delivery_seconds=seconds
        )

    return await _change(ctx, params, change, "put_configuration_set_delivery_options")


@operation("PutConfigurationSetReputationOptions")
async def put_reputation_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("ReputationMetricsEnabled", False))
    return await _change(ctx, params, lambda f: dataclasses.replace(f, reputation_metrics=enabled),
                         "put_configuration_set_reputation_options")  # fmt: skip


@operation("PutConfigurationSetSuppressionOptions")
async def put_suppression_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    """SuppressedReasons (even empty) replace the account's reasons for the set's mail;
    none given: the account's apply again."""
    _unsupported(params, "PutConfigurationSetSuppressionOptions", "ValidationOptions")
    reasons = _reasons(params.get("SuppressedReasons"))
    return await _change(
        ctx, params, lambda f: dataclasses.replace(f, suppressed_reasons=reasons),
        "put_configuration_set_suppression_options",
    )  # fmt: skip


@operation("PutConfigurationSetTrackingOptions")
async def put_tracking_options(ctx: Context, params: Mapping[str, Any]) -> Output:
    """No CustomRedirectDomain: the set has no tracking options any more."""
    domain = params.get("CustomRedirectDomain") or None
    https = params.get("HttpsPolicy") if domain else None

    def change(found: ConfigurationSet) -> ConfigurationSet:
        return dataclasses.replace(found, tracking_domain=domain, https_policy=https)

    return await _change(ctx, params, change, "put_configuration_set_tracking_options")


@operation("PutEmailIdentityConfigurationSetAttributes")
async def put_email_identity_configuration_set_attributes(
    ctx: Context, params: Mapping[str, Any]
) -> Output:
    await use_cases.set_identity_configuration_set(
        ctx.core, ctx.caller, params["EmailIdentity"], params.get("ConfigurationSetName")
    )
    return {}
