"""Adapters of skfavor to other libraries, each importing its own optional dependency."""
