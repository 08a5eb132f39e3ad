"""The two-way sync with the business database (SPEC section 8; the design in README, "Sync")."""
