"""Named choices with parameters (estimator methods, initialisation schemes): one validator."""

from __future__ import annotations


def resolve_options(kind: str, name: str, registry: dict[str, dict], params: dict) -> dict:
    """Check ``name`` against ``registry`` (name -> parameter defaults) and ``params`` against its
    parameters; return the parameters with defaults filled.

    Raises ``ValueError`` naming the unknown choice or parameters and listing the allowed ones.
    """
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; allowed: {', '.join(registry)}")
    defaults = registry[name]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for {kind} {name!r}; "
            f"allowed: {', '.join(defaults) or 'none'}"
        )
    return {**defaults, **params}
