"""End-to-end runs that wire the stages together (loopback, demo)."""
