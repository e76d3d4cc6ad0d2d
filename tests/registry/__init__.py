"""Registry source and CI kit tests: real local registries, a fault-injecting proxy, the container image."""
