"""Who is asking: only a person's browser navigating to the UI may wake a sleeping stack.

Judged by what a browser sends on a navigation and programs do not by default (allow, not deny): a GET that
accepts HTML, with the Fetch Metadata a browser adds to a top-level navigation (Sec-Fetch-Mode: navigate,
Sec-Fetch-Dest: document; https://www.w3.org/TR/fetch-metadata/), from an agent that names a browser engine.
Link previewers, scanners, uptime checks and HTTP libraries fail one test or another, and the words below catch
the previewers that dress as browsers. Everything else gets the page (or, on an API path, a 503) and wakes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

API_PREFIXES = ("/api/", "/auth/token", "/execution/")
BROWSER_ENGINES = ("chrome/", "firefox/", "safari/", "edg/")
NOT_A_PERSON = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "outlook",
    "ms-office",
    "microsoft office",
    "whatsapp",
    "telegram",
    "headless",
    "phantomjs",
    "lighthouse",
    "pingdom",
    "uptime",
    "statuscake",
    "monitor",
    "healthcheck",
    "health-check",
    "nessus",
    "qualys",
    "zgrab",
    "masscan",
    "nmap",
    "nikto",
    "scanner",
    "curl",
    "wget",
    "python",
    "go-http-client",
    "okhttp",
    "java",
    "libwww",
    "httpclient",
)


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def is_browser_navigation(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """Whether a request (headers with lower-case names) is a person's browser opening a page of the UI."""
    if method != "GET" or is_api(path):
        return False
    if "text/html" not in headers.get("accept", "").lower():
        return False
    if headers.get("sec-fetch-mode", "").lower() != "navigate":
        return False
    if headers.get("sec-fetch-dest", "").lower() != "document":
        return False
    purpose = " ".join(headers.get(h, "") for h in ("sec-purpose", "purpose", "x-purpose", "x-moz")).lower()
    if "prefetch" in purpose or "prerender" in purpose or "preview" in purpose:
        return False
    agent = headers.get("user-agent", "").lower()
    if not agent.startswith("mozilla/5.0") or not any(engine in agent for engine in BROWSER_ENGINES):
        return False
    return not any(word in agent for word in NOT_A_PERSON)
