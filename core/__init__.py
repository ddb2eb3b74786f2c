"""Core: database, accounts, places, security and command-line tools."""
