"""The hasher component: digests of data, computed by any hasher service."""
