"""Request-scoped helpers shared by the app factory and the blueprints."""
from flask import g

from models import Company


def current_company():
    """The company row, read once per request."""
    if g.get("company") is None:
        g.company = Company.current()
    return g.company


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Version/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
            ("Mac OS X", "macOS"), ("Linux", "Linux"))


def browser_name(user_agent):
    """E.g. "Firefox 128 · Windows" from a User-Agent header, for the "Signed in now" page."""
    agent = user_agent or ""
    browser = next((f"{name} {agent.split(marker, 1)[1].split('.')[0].split(' ')[0]}"
                    for marker, name in _BROWSERS if marker in agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in agent), "")
    if browser and system:
        return f"{browser} · {system}"
    return browser or system or agent[:60]
