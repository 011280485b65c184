"""Constrained types shared by the config sections (names, labels, quantities, images, text that
reaches a container)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

from components.config.quantity import QuantityError, cpu_quantity, memory_quantity
from components.contract import IMAGE_REFERENCE

Environment = Literal["development", "staging", "production"]
Precision = Literal["fp32", "bf16", "fp16", "fp8", "int8", "int4"]

# A DNS-1035 label (Service names must start with a letter). 40 characters leaves room for the
# longest derived object name, the smoke-test Job `<name>-smoke-<8 hex>`, in a 63-character label.
MAX_MODEL_NAME = 40
_DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_MODEL_NAME, pattern=_DNS_LABEL)
]
NamespaceName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=_DNS_LABEL)]
LabelMap = dict[
    Annotated[
        str,
        StringConstraints(
            max_length=253,
            pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        ),
    ],
    Annotated[
        str,
        StringConstraints(max_length=63, pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"),
    ],
]
# A DNS-1123 subdomain: what Kubernetes requires of StorageClass, IngressClass and ClusterIssuer
# names (k8s.io/apimachinery/pkg/util/validation IsDNS1123Subdomain).
K8sName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    ),
]


def _quantity(check: object) -> AfterValidator:
    def run(value: str) -> str:
        try:
            return check(value)  # type: ignore[operator, no-any-return]
        except QuantityError as exc:
            raise PydanticCustomError("quantity", str(exc)) from None

    return AfterValidator(run)


CpuQuantity = Annotated[str, _quantity(cpu_quantity)]
MemoryQuantity = Annotated[str, _quantity(memory_quantity)]


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise PydanticCustomError("cidr", "not a CIDR: {why}", {"why": str(exc)}) from None
    if "/" not in value:
        raise PydanticCustomError("cidr", "give the prefix length too (e.g. 203.0.113.0/24)")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]


def _hostname(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    ok = len(value) <= 253 and all(
        0 < len(label) <= 63
        and label[0].isalnum()
        and label[-1].isalnum()
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels
    )
    if not ok and ("@" in value or "://" in value or "=" in value):
        # A connection string pasted as the host may hold a password: never echo it (the plan
        # is posted to pull requests).
        raise PydanticCustomError(
            "hostname",
            "not a hostname or IP address: it looks like a URL or connection string (not shown: "
            "it may hold a password); give the host alone, and the password as a secret",
        )
    if not ok:
        raise PydanticCustomError(
            "hostname", "not a hostname or IP address, got {v}", {"v": repr(value)}
        )
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise PydanticCustomError(
            "gpu_count",
            "a GPU count is a number (1, 2, 4 or 8), got {v}",
            {"v": str(value).lower()},
        )
    return value


GpuCount = Annotated[Literal[1, 2, 4, 8], BeforeValidator(_no_bool)]
K8sVersion = Annotated[str, StringConstraints(pattern=r"^1\.[0-9]{2}$")]
# A Hugging Face revision: a branch, tag or commit (staging/production: a 40-hex commit).
ModelRevision = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
HfModelId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
]


def _image_ref(value: str) -> str:
    if not IMAGE_REFERENCE.match(value):
        raise PydanticCustomError(
            "image", "not an image reference (registry/repository[:tag][@sha256:digest])"
        )
    return value


ImageRef = Annotated[str, AfterValidator(_image_ref)]


def _container_text(value: str) -> str:
    """Text the config passes into a container's command, args or env: the kubelet would expand
    ``$(VAR)`` in it with the container's variables (``$(HF_TOKEN)`` becomes the token) and turn
    ``$$`` into ``$`` (docs/provider-semantics.md, "Kubernetes")."""
    if "$(" in value or "$$" in value:
        raise PydanticCustomError(
            "container_text",
            "holds {seq}, which Kubernetes expands in a container's args and env ($(VAR) becomes "
            "the container's variable VAR, e.g. a Secret's value, and $$ becomes $; "
            "https://kubernetes.io/docs/tasks/inject-data-application/"
            "define-interdependent-environment-variables/); write the value without it",
            {"seq": "'$('" if "$(" in value else "'$$'"},
        )
    return value


ContainerText = Annotated[str, AfterValidator(_container_text)]
