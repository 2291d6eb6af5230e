"""The publish topic template: where each sensor's forecast goes."""

from __future__ import annotations

from pipelines.errors import ForecasterError


def check_template(template: str, name: str = "publish") -> str:
    """Validate a publish topic template (``{sensor}`` at most once, no wildcards).

    Example:
        >>> check_template("forecasts/{sensor}")
        'forecasts/{sensor}'
        >>> check_template("forecasts/#")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `publish` must be a topic with an optional {sensor} (no '+', '#', other braces). Received: publish='forecasts/#'
    """
    rest = template.replace("{sensor}", "", 1)
    if not template or any(c in rest for c in "+#{}\0") or rest.startswith("$"):
        raise ForecasterError(
            f"`{name}` must be a topic with an optional {{sensor}} (no '+', '#', other braces). Received: {name}={template!r}"
        )
    return template
