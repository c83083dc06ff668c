"""People and access: accounts, roles, invitations, API tokens, lock-outs, and the audit log of who changed whom."""
