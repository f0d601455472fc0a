"""The Outreach API client: HTTP, tokens, retries, the rate quota, paging and the two API
dialects (1.0 and v2). Nothing of Streamlit, the store or the analytics.

May import: the standard library, requests/urllib3, pandas, lib.clock, lib.frames and
lib.outreach itself.

    from lib.outreach import OutreachClient, StaticToken, V2Dialect, dialect_for
    client = OutreachClient(base_url, StaticToken(token))                       # API 1.0
    client = OutreachClient(base_url, auth, dialect=V2Dialect())                # API v2
    client = OutreachClient(base_url, auth, dialect=dialect_for(version))       # "1.0" / "2"
"""

from lib.outreach.auth import RefreshingToken, StaticToken, token_url_for
from lib.outreach.client import DIALECTS, OutreachClient, dialect_for
from lib.outreach.dialect import Dialect
from lib.outreach.errors import (
    ApiUnavailable,
    IncompleteRead,
    InvalidInput,
    MissingScope,
    NotAuthorised,
    NotFound,
    OutreachError,
    QuotaExhausted,
    RateLimited,
    UnexpectedResponse,
)
from lib.outreach.prospects import MIN_SEARCH as MIN_PROSPECT_SEARCH
from lib.outreach.prospects import Prospect, ProspectMatches
from lib.outreach.v1 import V1Dialect
from lib.outreach.v2 import V2Dialect, names_v2_scopes
from lib.outreach.values import ApiInfo, NewCall
from lib.outreach.windows import CallWindow, distinct_user_ids

__all__ = [
    "DIALECTS",
    "MIN_PROSPECT_SEARCH",
    "ApiInfo",
    "ApiUnavailable",
    "CallWindow",
    "Dialect",
    "IncompleteRead",
    "InvalidInput",
    "MissingScope",
    "NewCall",
    "NotAuthorised",
    "NotFound",
    "OutreachClient",
    "OutreachError",
    "Prospect",
    "ProspectMatches",
    "QuotaExhausted",
    "RateLimited",
    "RefreshingToken",
    "StaticToken",
    "UnexpectedResponse",
    "V1Dialect",
    "V2Dialect",
    "dialect_for",
    "distinct_user_ids",
    "names_v2_scopes",
    "token_url_for",
]
