"""test-i18n.py: the installed Tether window speaks German.

Run by tests/test-install.sh inside tests/run-with-display.sh (private
Xvfb, session bus, AT-SPI bus) under Debian's /usr/bin/python3, with
LANGUAGE=de and TETHER_APP set to the installed (DESTDIR-staged) tether,
which finds its message catalog beside itself. Opens a profile (not
started) and reads, through AT-SPI, the window title (its format reads the
same in German), the state pill and the Start button, which must be the
German ones from po/de.po. TAP output.
"""

import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tetheratspi as t  # noqa: E402
from tetheratspi import tap  # noqa: E402

APP = os.environ['TETHER_APP']

work = tempfile.mkdtemp(prefix='tether-i18n-')
profile = os.path.join(work, 'i18n.json')
with open(profile, 'w') as f:
    json.dump({'name': 'Sprachprobe', 'command': ['sleep', '600']}, f)

env = dict(os.environ, GSETTINGS_BACKEND='memory')
with tap.step('the installed app opens a window on the profile'):
    proc, app = t.launch([APP, profile], 'tether', env=env)
    tap.dump_root = app

with tap.step('window title: „Sprachprobe — Tether“'):
    t.find(app, ('frame', 'window'), 'Sprachprobe — Tether')

with tap.step('state pill: „Zustand: Gestoppt“'):
    t.find(app, 'label', 'Zustand: Gestoppt', timeout=30 * t.SCALE)

with tap.step('the Start button is „Starten“'):
    t.find(app, 'push button', 'Starten', mapped=True)

with tap.step('no English left on the Start button'):
    hits = t.find_all(app, 'push button', re.compile(r'^Start$'))
    assert not hits, [t.describe(h) for h in hits]

tap.done()
