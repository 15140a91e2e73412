"""Where weights come from (the bundled defaults, the cache, a path or a hub id), and opening a
stranger's folder safely."""
