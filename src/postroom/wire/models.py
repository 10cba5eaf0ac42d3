"""botocore's own service models, loaded once (ARCHITECTURE.md "Decisions": the AWS wire
format comes from `botocore/data/{ses,sesv2,sns}`; ses-spec.md section 1 [M]).

The versions are pinned here, not discovered: botocore ships one model per API version and
Postroom speaks exactly these. Each loader is cached, so every caller shares one
`ServiceModel` (the wire plans in `query_plan` are cached per model object).
"""

from __future__ import annotations

import functools

from botocore.loaders import Loader
from botocore.model import ServiceModel

SES_API_VERSION = "2010-12-01"
SESV2_API_VERSION = "2019-09-27"
SNS_API_VERSION = "2010-03-31"


@functools.cache
def _loader() -> Loader:
    return Loader()


def _load(service_name: str, api_version: str) -> ServiceModel:
    data = _loader().load_service_model(service_name, "service-2", api_version=api_version)
    return ServiceModel(data, service_name=service_name)


@functools.cache
def ses_model() -> ServiceModel:
    """SES v1, AWS query protocol (ses-spec.md 1.1)."""
    return _load("ses", SES_API_VERSION)


@functools.cache
def sesv2_model() -> ServiceModel:
    """SES v2, rest-json protocol (ses-spec.md 1.2)."""
    return _load("sesv2", SESV2_API_VERSION)


@functools.cache
def sns_model() -> ServiceModel:
    """SNS, AWS query protocol; Postroom serves a subset for HTTP subscriptions."""
    return _load("sns", SNS_API_VERSION)
