"""Colour from what is known: a person's hints and a reference picture, turned into what the model and the
smoother take (hint planes at the working size)."""
