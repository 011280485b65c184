"""Constrained types shared by the config sections (names, labels, quantities, images)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

from components.contract import IMAGE_REFERENCE

__all__ = [
    "MAX_MODEL_NAME",
    "Environment",
    "HfModelId",
    "ImageRef",
    "K8sVersion",
    "LabelMap",
    "ModelName",
    "NamespaceName",
    "Precision",
    "Quantity",
]

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
Quantity = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")]
K8sVersion = Annotated[str, StringConstraints(pattern=r"^1\.[0-9]{2}$")]
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
