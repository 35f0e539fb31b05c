"""yuejuan api."""
