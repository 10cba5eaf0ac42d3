"""Contract: SES v2 configuration sets (issue 10, part 1) through two clients we did not
write, the AWS CLI (`aws sesv2`) and @aws-sdk/client-sesv2 (sesv2_clients.py), against a
real `postroom serve`: Create/Get/List/Delete, the Put*Options operations and
PutEmailIdentityConfigurationSetAttributes, with their AlreadyExists/NotFound/BadRequest
answers. The boto3 versions (and sending with a set) are in test_configuration_sets.py."""

from __future__ import annotations

from ses_support import TenantFactory
from sesv2_clients import Sesv2ClientFor, call


def missing(name: str) -> str:
    return f"Configuration set <{name}> does not exist."


def test_configuration_sets(
    sesv2_client_for: Sesv2ClientFor, shared_tenant_factory: TenantFactory
) -> None:
    tenant = shared_tenant_factory(f"sets-{sesv2_client_for.kind}")
    client = sesv2_client_for(tenant)
    (
        created, duplicate, bad_name, plain, sending, delivery, reputation, suppression,
        tracking, absent_put, found, absent, listed, identity, default, identity_shown,
        default_absent, deleted, delete_absent,
    ) = client.run(
        call("CreateConfigurationSet", ConfigurationSetName="full",
             DeliveryOptions={"TlsPolicy": "REQUIRE", "SendingPoolName": "pool"},
             SuppressionOptions={"SuppressedReasons": ["BOUNCE"]},
             Tags=[{"Key": "team", "Value": "mail"}]),
        call("CreateConfigurationSet", ConfigurationSetName="full"),
        call("CreateConfigurationSet", ConfigurationSetName="x" * 65),
        call("CreateConfigurationSet", ConfigurationSetName="plain"),
        call("PutConfigurationSetSendingOptions", ConfigurationSetName="full",
             SendingEnabled=False),
        call("PutConfigurationSetDeliveryOptions", ConfigurationSetName="full",
             TlsPolicy="OPTIONAL"),
        call("PutConfigurationSetReputationOptions", ConfigurationSetName="full",
             ReputationMetricsEnabled=True),
        call("PutConfigurationSetSuppressionOptions", ConfigurationSetName="full",
             SuppressedReasons=["COMPLAINT"]),
        call("PutConfigurationSetTrackingOptions", ConfigurationSetName="full",
             CustomRedirectDomain="track.example.com"),
        call("PutConfigurationSetSendingOptions", ConfigurationSetName="nope",
             SendingEnabled=True),
        call("GetConfigurationSet", ConfigurationSetName="full"),
        call("GetConfigurationSet", ConfigurationSetName="nope"),
        call("ListConfigurationSets"),
        call("CreateEmailIdentity", EmailIdentity="sets.example"),
        call("PutEmailIdentityConfigurationSetAttributes", EmailIdentity="sets.example",
             ConfigurationSetName="plain"),
        call("GetEmailIdentity", EmailIdentity="sets.example"),
        call("PutEmailIdentityConfigurationSetAttributes", EmailIdentity="sets.example",
             ConfigurationSetName="nope"),
        call("DeleteConfigurationSet", ConfigurationSetName="plain"),
        call("DeleteConfigurationSet", ConfigurationSetName="plain"),
    )  # fmt: skip

    assert created.ok() == {} and plain.ok() == {}
    duplicate.refused("AlreadyExistsException", 400, "Configuration set <full> already exists.")
    bad_name.refused("BadRequestException", 400)
    for answer in (sending, delivery, reputation, suppression, tracking):
        assert answer.ok() == {}
    absent_put.refused("NotFoundException", 404, missing("nope"))
    got = found.ok()
    assert got["ConfigurationSetName"] == "full"
    assert got["SendingOptions"] == {"SendingEnabled": False}
    assert got["DeliveryOptions"] == {"TlsPolicy": "OPTIONAL"}
    assert got["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    assert got["SuppressionOptions"] == {"SuppressedReasons": ["COMPLAINT"]}
    assert got["TrackingOptions"] == {"CustomRedirectDomain": "track.example.com"}
    assert got["Tags"] == [{"Key": "team", "Value": "mail"}]
    absent.refused("NotFoundException", 404, missing("nope"))
    assert listed.ok()["ConfigurationSets"] == ["full", "plain"]
    assert identity.ok()["IdentityType"] == "DOMAIN"
    assert default.ok() == {}
    assert identity_shown.ok()["ConfigurationSetName"] == "plain"
    default_absent.refused("NotFoundException", 404, missing("nope"))
    assert deleted.ok() == {}
    delete_absent.refused("NotFoundException", 404, missing("plain"))
