"""Random keys and their digests. The keys carry 240 random bits, so one SHA-256 suffices (a slow password hash
guards guessable secrets; these are not guessable) and a lookup by digest stays one indexed query."""
import hashlib
import secrets


def new_key(prefix):
    return f"{prefix}_{secrets.token_urlsafe(30)}"


def digest(key):
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
