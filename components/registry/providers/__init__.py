"""The registry's Pulumi dynamic providers, one per module, free of Pulumi resources.

The SDK pickles a provider instance by reference and the engine's provider process unpickles it
(docs/provider-semantics.md, "Dynamic resources"): providers hold no state and no module-level
client. States written before this package existed name ``components.registry.providers.<Class>``;
the names below keep them loading.
"""

from components.registry.providers.base import CONNECTION
from components.registry.providers.binding import RegistryWriterBindingProvider
from components.registry.providers.entry import RegistryEntryProvider
from components.registry.providers.previous import RegistryPreviousProvider
from components.registry.providers.rollout import RegistryRolloutProvider
from components.registry.providers.schema import RegistrySchemaProvider

__all__ = [
    "CONNECTION",
    "RegistryEntryProvider",
    "RegistryPreviousProvider",
    "RegistryRolloutProvider",
    "RegistrySchemaProvider",
    "RegistryWriterBindingProvider",
]
