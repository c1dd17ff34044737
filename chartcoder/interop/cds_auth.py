"""Trusting CDS clients, as the CDS Hooks specification describes: the EHR signs a short-lived JWT
with its private key and sends it as `Authorization: Bearer <JWT>`; chartcoder verifies it against
the public keys configured for that EHR (`CHARTCODER_CDS_CLIENTS`, a YAML or JSON file).

Rules (docs/integration.md says the same for integrators):
- the header names `alg` (asymmetric only, from the client's allowed list, default RS384 and ES384;
  never `none` or HMAC) and `kid` (the key in the client's JWK Set); a `jku` header must equal the
  client's configured `jwks_url` (chartcoder never fetches a key set from a URL the token names);
- `iss` picks the client (exact match); `aud` must be the URL of the endpoint called; `exp`, `iat`
  and `jti` are required; `exp - iat` is at most the client's `max_token_seconds` (default 300);
  30 seconds of clock skew are allowed; `sub` and `tenant` are checked when the client sets them;
- each `jti` is accepted once per issuer until the token expires, in the database, so a replay to
  another API process fails too.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import yaml
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from chartcoder.domain.errors import AuthenticationError, ResourceError
from chartcoder.store.base import utcnow
from chartcoder.store.cds import CdsSeenToken

ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DEFAULT_ALGORITHMS = ("RS384", "ES384")
CLIENT_KEYS = {"name", "iss", "jwks", "jwks_url", "algorithms", "sub", "tenant", "max_token_seconds"}
LEEWAY_SECONDS = 30
DEFAULT_MAX_TOKEN_SECONDS = 300
JWKS_CACHE_SECONDS = 300
JWKS_REFRESH_SECONDS = 30


@dataclass(frozen=True)
class CdsClient:
    """An EHR allowed to call the CDS services. `name` is who it is in chartcoder (its hook calls
    are logged as `cds:<name>`, its feedback decided as the user `ehr:<name>`)."""

    name: str
    iss: str
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    sub: str | None = None
    tenant: str | None = None
    max_token_seconds: int = DEFAULT_MAX_TOKEN_SECONDS


class CdsClients:
    """The configured CDS clients, by issuer."""

    def __init__(self, clients: list[CdsClient], source: str = "CHARTCODER_CDS_CLIENTS") -> None:
        self.source = source
        self._by_iss: dict[str, CdsClient] = {}
        for c in clients:
            if c.iss in self._by_iss:
                raise ResourceError(f"{source}: two clients have the issuer {c.iss!r}; each needs its own")
            self._by_iss[c.iss] = c
        self._jwks_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_iss)

    def by_issuer(self, iss: str) -> CdsClient | None:
        return self._by_iss.get(iss)

    @classmethod
    def from_file(cls, path: Path | None) -> CdsClients:
        """Reads `{"clients": [...]}` (YAML or JSON); None: no client is trusted yet."""
        if path is None:
            return cls([])
        where = str(path)
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ResourceError(f"{where}: cannot read the CDS clients file ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ResourceError(f"{where}: not valid YAML or JSON ({exc})") from None
        if not isinstance(data, dict) or set(data) != {"clients"} or not isinstance(data["clients"], list):
            raise ResourceError(f'{where}: expected {{"clients": [{{"name", "iss", "jwks" or "jwks_url", ...}}]}}')
        return cls([_client(raw, f"{where}: clients[{i}]") for i, raw in enumerate(data["clients"])], where)

    def signing_key(self, client: CdsClient, header: dict[str, Any]) -> Any:
        """The public key the token's `kid` names, from the client's inline JWK Set or its URL."""
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("the JWT header has no 'kid'; CDS Hooks requires the id of the signing key")
        jku = header.get("jku")
        if jku is not None and jku != client.jwks_url:
            raise AuthenticationError(
                f"the JWT header's jku {str(jku)[:200]!r} is not the key set URL configured for this client"
            )
        alg = header.get("alg")
        if client.jwks is not None:
            jwk = _find_kid(client.jwks, kid)
            if jwk is None:
                raise AuthenticationError(f"no key with kid {kid[:100]!r} in the key set configured for this client")
            return _key_from_jwk(jwk, str(alg))
        assert client.jwks_url is not None
        jwk = _find_kid(self._jwks_from_url(client), kid)
        if jwk is None:  # a new key: the EHR may have rotated; look again past the cache (at most every 30 s)
            jwk = _find_kid(self._jwks_from_url(client, refresh=True), kid)
        if jwk is None:
            raise AuthenticationError(f"no key with kid {kid[:100]!r} in the key set at {client.jwks_url}")
        return _key_from_jwk(jwk, str(alg))

    def _jwks_from_url(self, client: CdsClient, refresh: bool = False) -> dict[str, Any]:
        """The client's JWK Set from its URL, cached JWKS_CACHE_SECONDS; a refresh (for an unknown kid)
        happens at most every JWKS_REFRESH_SECONDS, so tokens with made-up kids cannot hammer the EHR."""
        assert client.jwks_url is not None
        now = time.monotonic()
        with self._lock:
            fetched_at, data = self._jwks_cache.get(client.iss, (0.0, None))
            fresh = data is not None and now - fetched_at < JWKS_CACHE_SECONDS
            if data is not None and (fresh and not refresh or now - fetched_at < JWKS_REFRESH_SECONDS):
                return data
        try:
            data = jwt.PyJWKClient(client.jwks_url, cache_jwk_set=False, timeout=5).fetch_data()
        except (jwt.PyJWKClientError, ValueError, OSError) as exc:  # unreachable, an HTTP error, not JSON
            raise AuthenticationError(
                f"could not get this client's key set from {client.jwks_url} ({type(exc).__name__}: {str(exc)[:200]})"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise AuthenticationError(f"the key set at {client.jwks_url} is not a JWK Set")
        with self._lock:
            self._jwks_cache[client.iss] = (now, data)
        return data


def _find_kid(jwks: dict[str, Any], kid: str) -> dict[str, Any] | None:
    return next((k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == kid), None)


def _client(raw: Any, where: str) -> CdsClient:
    if not isinstance(raw, dict):
        raise ResourceError(f"{where} must be an object with name, iss and jwks or jwks_url")
    unknown = set(raw) - CLIENT_KEYS
    if unknown:
        raise ResourceError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(CLIENT_KEYS)}")
    for key in ("name", "iss"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ResourceError(f"{where}: '{key}' must be a non-empty string")
    name = raw["name"].strip()
    if len(name) > 60 or any(ch.isspace() for ch in name):
        raise ResourceError(f"{where}: 'name' must be at most 60 characters without spaces; got {name!r}")
    jwks, url = raw.get("jwks"), raw.get("jwks_url")
    if (jwks is None) == (url is None):
        raise ResourceError(f"{where}: give exactly one of 'jwks' (a JWK Set, inline) or 'jwks_url'")
    if jwks is not None:
        jwks = _inline_jwks(jwks, where)
    if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
        raise ResourceError(f"{where}: 'jwks_url' must be an http(s) URL")
    algs = _client_algorithms(raw, where)
    max_seconds = raw.get("max_token_seconds", DEFAULT_MAX_TOKEN_SECONDS)
    if not isinstance(max_seconds, int) or not 10 <= max_seconds <= 3600:
        raise ResourceError(f"{where}: 'max_token_seconds' must be a whole number of seconds, 10-3600")
    for key in ("sub", "tenant"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ResourceError(f"{where}: '{key}' must be a string")
    return CdsClient(
        name=name,
        iss=raw["iss"],
        jwks=jwks,
        jwks_url=url,
        algorithms=algs,
        sub=raw.get("sub"),
        tenant=raw.get("tenant"),
        max_token_seconds=max_seconds,
    )


def _inline_jwks(jwks: Any, where: str) -> dict[str, Any]:
    """A client's inline JWK Set (an object, or the same as a JSON string) of usable public keys."""
    if isinstance(jwks, str):  # a JWK Set pasted as a JSON string
        try:
            jwks = json.loads(jwks)
        except ValueError:
            raise ResourceError(f"{where}: 'jwks' is a string but not JSON") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ResourceError(f"{where}: 'jwks' must be a JWK Set {{\"keys\": [...]}} with at least one key")
    for i, k in enumerate(jwks["keys"]):
        if not isinstance(k, dict) or not k.get("kid") or k.get("kty") not in ("RSA", "EC", "OKP"):
            raise ResourceError(f"{where}: jwks.keys[{i}] needs 'kid' and 'kty' RSA, EC or OKP")
        if "d" in k:
            raise ResourceError(f"{where}: jwks.keys[{i}] is a private key; configure the public key only")
        try:
            jwt.PyJWK(k)
        except jwt.PyJWTError as exc:
            raise ResourceError(f"{where}: jwks.keys[{i}] is not a usable public key ({exc})") from None
    return jwks


def _client_algorithms(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    algs = raw.get("algorithms", list(DEFAULT_ALGORITHMS))
    if not isinstance(algs, list) or not algs or any(a not in ASYMMETRIC for a in algs):
        raise ResourceError(
            f"{where}: 'algorithms' must list asymmetric JWS algorithms from {', '.join(ASYMMETRIC)}; got {algs!r}"
        )
    return tuple(algs)


def _key_from_jwk(jwk: dict[str, Any], alg: str) -> Any:
    if jwk.get("use") not in (None, "sig"):
        raise AuthenticationError(f"the key {jwk.get('kid')!r} is not a signing key (use={jwk.get('use')!r})")
    if jwk.get("alg") not in (None, alg):
        raise AuthenticationError(f"the key {jwk.get('kid')!r} is for {jwk.get('alg')}, but the JWT says {alg}")
    try:
        return jwt.PyJWK(jwk, algorithm=alg).key
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the key {jwk.get('kid')!r} cannot verify {alg} signatures ({exc})") from None


def looks_like_jwt(token: str | None) -> bool:
    return bool(token) and token.count(".") == 2 and token.startswith("eyJ")  # type: ignore[union-attr]


def _read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(header, claims, alg) of a token not verified yet, refusing what no client may send."""
    if len(token) > 16_384:
        raise AuthenticationError("the JWT is longer than 16 KB")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthenticationError("the bearer token is not a well-formed JWT") from None
    alg = header.get("alg")
    if alg not in ASYMMETRIC:
        raise AuthenticationError(
            f"the JWT is signed with {str(alg)[:20]!r}; CDS clients must sign with an asymmetric algorithm "
            "(RS384 or ES384 recommended); 'none' and HMAC are refused"
        )
    if header.get("typ") not in (None, "JWT") and str(header.get("typ")).upper() != "JWT":
        raise AuthenticationError(f"the JWT header's typ must be 'JWT'; got {str(header.get('typ'))[:20]!r}")
    return header, unverified, alg


def _decode(
    token: str,
    key: Any,
    alg: str,
    audiences: list[str],
    client: CdsClient,
    header: dict[str, Any],
    unverified: dict[str, Any],
) -> dict[str, Any]:
    """The token's claims once its signature, audience, issuer and times verify."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audiences,
            issuer=client.iss,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("the JWT has expired (exp is in the past)") from None
    except jwt.ImmatureSignatureError:
        raise AuthenticationError("the JWT is not valid yet (iat or nbf is in the future)") from None
    except jwt.InvalidAudienceError:
        got = unverified.get("aud")
        raise AuthenticationError(
            f"the JWT's aud must be the URL of the endpoint called, {audiences[0]}; got {str(got)[:300]!r}"
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthenticationError(
            f"the JWT has no '{exc.claim}' claim; CDS Hooks requires iss, aud, exp, iat and jti"
        ) from None
    except jwt.InvalidSignatureError:
        raise AuthenticationError(
            f"the JWT's signature does not verify with the key {header.get('kid')!r} configured for this client"
        ) from None
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the JWT is not valid ({type(exc).__name__}: {str(exc)[:200]})") from None
    except (ValueError, TypeError):  # a key of the wrong type for the algorithm
        raise AuthenticationError(f"the key {header.get('kid')!r} cannot verify {alg} signatures") from None
    return claims


def _check_lifetime(claims: dict[str, Any], client: CdsClient) -> tuple[float, str]:
    """(exp, jti) of verified claims, once exp and iat are numbers and the token lives no longer than allowed."""
    exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
        raise AuthenticationError("the JWT's exp and iat must be numbers (seconds since 1970-01-01 UTC)")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
        raise AuthenticationError("the JWT's jti must be a string of 1-255 characters")
    if exp - iat > client.max_token_seconds + LEEWAY_SECONDS:
        raise AuthenticationError(
            f"the JWT lives {int(exp - iat)} s (exp - iat); this client's tokens may live at most "
            f"{client.max_token_seconds} s"
        )
    return exp, jti


class JwtVerifier:
    """Verifies a CDS client's bearer JWT for one endpoint URL and remembers its `jti`."""

    def __init__(self, clients: CdsClients, store: Any) -> None:
        self.clients = clients
        self.store = store

    def verify(self, token: str, audiences: list[str]) -> CdsClient:
        """The client the token proves; AuthenticationError saying what is wrong otherwise."""
        header, unverified, alg = _read_unverified(token)
        client = self._issuer(unverified)
        if alg not in client.algorithms:
            raise AuthenticationError(
                f"this client may sign with {', '.join(client.algorithms)}; the JWT is signed with {alg}"
            )
        key = self.clients.signing_key(client, header)
        claims = _decode(token, key, alg, audiences, client, header, unverified)
        exp, jti = _check_lifetime(claims, client)
        if client.sub is not None and claims.get("sub") != client.sub:
            raise AuthenticationError("the JWT's sub is not the one configured for this client")
        if client.tenant is not None and claims.get("tenant") != client.tenant:
            raise AuthenticationError("the JWT's tenant is not the one configured for this client")
        self._remember(client.iss, jti, datetime.fromtimestamp(exp, UTC) + timedelta(seconds=LEEWAY_SECONDS))
        return client

    def _issuer(self, unverified: dict[str, Any]) -> CdsClient:
        """The configured client whose issuer the (not yet verified) token names."""
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise AuthenticationError("the JWT has no 'iss' claim; CDS Hooks requires iss, aud, exp, iat and jti")
        client = self.clients.by_issuer(iss)
        if client is None:
            if not len(self.clients):
                raise AuthenticationError(
                    "no CDS client is configured on this server (CHARTCODER_CDS_CLIENTS); "
                    "ask its operator to add your issuer and public keys"
                )
            raise AuthenticationError(f"the issuer {iss[:200]!r} is not a configured CDS client")
        return client

    def _remember(self, iss: str, jti: str, until: datetime) -> None:
        try:
            with self.store.session() as s:
                s.execute(delete(CdsSeenToken).where(CdsSeenToken.expires_at < utcnow()))
                s.add(CdsSeenToken(issuer=iss, jti=jti, expires_at=until))
                s.flush()
        except IntegrityError:
            raise AuthenticationError(
                "this JWT was used before (its jti was seen); sign a new token with a fresh jti for every request"
            ) from None
