"""The real codecs: encoder settings, every encoder a user could pick (libjpeg-turbo with a
table by default), whole image sets encoded in a process pool, and a differentiable JPEG for
the gradient-based searchers."""
