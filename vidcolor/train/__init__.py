"""Training and evaluation of the colorizer network."""
