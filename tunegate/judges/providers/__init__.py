"""Judge providers behind one protocol, registered by name.

Built-ins register exactly as third-party providers would (``register_provider``, with the
traits preflight, budgets and redaction ask about; a plugin's module is named in the
``tunegate.plugins`` entry-point group); importing
this package registers ``anthropic``, ``openai``, ``openai-compatible``, ``local`` and ``scripted``. Their SDKs
(and torch for ``local``) are imported only when a provider is created.
"""

from __future__ import annotations

from tunegate.judges.providers import anthropic_api, local_hf, openai_api, scripted  # noqa: F401  (registration)
from tunegate.judges.providers.base import (
    INSTALL_HINT,
    PROVIDERS,
    JudgeProvider,
    ProviderFactory,
    ProviderInfo,
    ProviderReply,
    api_key_from_env,
    import_sdk,
    make_provider,
    provider_info,
    register_provider,
)

__all__ = [
    "INSTALL_HINT",
    "PROVIDERS",
    "JudgeProvider",
    "ProviderFactory",
    "ProviderInfo",
    "ProviderReply",
    "api_key_from_env",
    "import_sdk",
    "make_provider",
    "provider_info",
    "register_provider",
]
