"""Adapters of skfavor to other libraries, each importing its optional dependency."""
