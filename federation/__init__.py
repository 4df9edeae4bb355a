"""Code the three services share: settings, keys, XML security, stores, web security, layout."""
