"""Authentication: bearer tokens bound to one principal (user + team), expiry, rotation and revocation."""
