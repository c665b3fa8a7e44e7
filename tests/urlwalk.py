"""Walking the URLconf, for tests that check a rule on every route."""

from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver


def walk(patterns=None, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    """Yield (name with namespace, pattern) for every route in the URLconf."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            yield from walk(entry.url_patterns, inner or namespace)
        else:
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield name, entry


def route_template(pattern: URLPattern, prefix: str = "") -> str:
    """Return the route's path with each argument written as <name>."""
    return prefix + str(pattern.pattern)


def routes() -> Iterator[tuple[str, str, URLPattern]]:
    """Yield (name, full route as written, pattern) for every route, prefixes included."""
    yield from _routes(get_resolver().url_patterns, "", "")


def _routes(patterns, namespace: str, prefix: str):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            yield from _routes(entry.url_patterns, inner or namespace, prefix + str(entry.pattern))
        else:
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield name, prefix + str(entry.pattern), entry
