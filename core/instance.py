"""Write instance/config.py with fresh secrets, once: `python -m core.instance`."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

TEMPLATE = '''# Holdfast instance settings. Not in git: it holds this installation's secrets.
# Environment variables of the same name override these.
# Also derives invitation links (only their hashes are stored): changing it makes the next
# reminder carry a new link, and the old one then says it was replaced.
SECRET_KEY = "{secret_key}"
# Keys pseudonymous survey panels (HMAC). Changing it breaks the link between waves.
PANEL_SECRET = "{panel_secret}"
# DATABASE_URL = "postgresql+psycopg://user@host/holdfast"   # default: SQLite in this folder
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379"            # default: in memory
# Email (invitations, reminders), sent by the worker. Without MAIL_SERVER nothing is sent
# and each wave's outbox page shows what would have been.
# MAIL_SERVER = "smtp.example.org"
# MAIL_PORT = 587
# MAIL_USE_TLS = True        # STARTTLS; or MAIL_USE_SSL = True for port 465
# MAIL_USERNAME = "holdfast"
# MAIL_PASSWORD = "..."
# MAIL_SENDER = "Holdfast <holdfast@example.org>"
# Where respondents reach Holdfast, for the links in reminders the worker sends.
# PUBLIC_URL = "https://holdfast.example.org"
'''


def write_instance_config(instance_dir: Path) -> bool:
    """Create config.py with random secrets unless it exists. Returns whether it wrote one."""
    path = instance_dir / "config.py"
    if path.exists():
        return False
    instance_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        TEMPLATE.format(secret_key=secrets.token_hex(32), panel_secret=secrets.token_hex(32))
    )
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "instance")
    if write_instance_config(target):
        print(f"Wrote {target / 'config.py'} with new secrets.")
