"""The bundled demo: a small news site served on loopback, its sources, and its search dev set."""
