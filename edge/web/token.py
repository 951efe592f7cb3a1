"""The web view's token for a run: from the config (token, token_file, token_env), else,
for a view others can reach (not loopback), one generated once and kept in the state
folder, so the URL someone bookmarked keeps working across restarts.

A generated token is announced once: the log line gives the URL to open and the file that
holds the token (the log's redaction writes the token itself as ***, as for every token=
in a URL, so it does not travel with shipped logs), and a run at a terminal also prints
the whole URL there, to be copied. A token chosen in the config is never shown.
"""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

from edge.config.paths import owner_digest, state_folder, write_state_file
from edge.config.view import WebConfig, token_problem
from edge.errors import ConfigError
from edge.web.server import is_loopback

log = logging.getLogger(__name__)


def token_file_for(config_file: Path | None, environ: dict[str, str] | None = None) -> Path:
    """Where the generated token of the run configured by `config_file` is kept."""
    name = "web-token.txt" if config_file is None else f"web-token-{owner_digest(config_file)}.txt"
    return state_folder(environ) / name


def kept_token(path: Path) -> str:
    """The token kept in `path`, or a new one kept there (mode 0600).

    ConfigError when it cannot be kept: a token nobody can read back would lock everyone
    out of the view, so the run says what to do instead."""
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token_problem(token) is None:
            return token
        log.warning("web: the token kept in %s is not usable; a new one replaces it", path)
    except (FileNotFoundError, NotADirectoryError):
        pass  # none kept yet (or no folder for one: said below, when keeping fails)
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("web: cannot read %s (%s); a new token replaces it", path, exc)
    token = secrets.token_urlsafe(24)
    try:
        write_state_file(path, token + "\n", mode=0o600)  # no .partial left if it fails
    except OSError as exc:
        raise ConfigError(
            f"web: a view others can reach needs a token, and none can be kept in {path} "
            f"({exc.strerror or exc}): set web.token_file or web.token_env, or make "
            f"{path.parent} writable"
        ) from None
    return token


def with_run_token(
    cfg: WebConfig, config_file: Path | None, environ: dict[str, str] | None = None
) -> tuple[WebConfig, Path | None]:
    """`cfg` with the token this run uses, and the file of a generated one (else None)."""
    token = cfg.resolve_token(environ)
    if token is not None or is_loopback(cfg.host):
        return cfg.model_copy(update={"token": token}), None
    kept_in = token_file_for(config_file, environ)
    return cfg.model_copy(update={"token": kept_token(kept_in)}), kept_in


def announce_token(url: str, token: str, kept_in: Path) -> None:
    """Once, at start: where to look, and at a terminal the URL itself (see the top)."""
    log.info(
        "web: open %s?token=%s (a token generated for this device, kept in %s; set "
        "web.token, token_file or token_env to choose one)",
        url,
        token,
        kept_in,
    )
    if sys.stderr.isatty():
        print(f"emotion-edge: open {url}?token={token}", file=sys.stderr)
