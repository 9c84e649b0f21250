"""Boot-config side of the resolver: request names, escaping, rendering, the cached answer."""
