"""test-app.py: the real Tether window, driven like a person would.

Runs inside tests/run-with-display.sh (private Xvfb, session bus, AT-SPI
bus) under Debian's /usr/bin/python3. Real backends built by
tether-test-tree (and examples/pool_worker.py for a prefork pool), real
signals, real cgroups: every button is found by its accessible name and
clicked through AT-SPI, and every claim is checked against the processes
themselves (a marker in each process's argv) and against `tetherctl`,
which talks to the app's control socket.

Environment (set by tests/meson.build): TETHER_APP, TETHERCTL,
TETHER_TEST_TREE, TETHER_SHIM, TETHER_APP_G_DEBUG (the app's G_DEBUG:
fatal warnings for the app, not for this process). With
TETHER_UI_SCREENSHOTS=DIR, the details, rollback, health and log steps save
screenshots there.
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tetheratspi as t  # noqa: E402
from gi.repository import Atspi, Gio, GLib  # noqa: E402

APP = os.environ['TETHER_APP']
TETHERCTL = os.environ['TETHERCTL']
TREE = os.environ['TETHER_TEST_TREE']
APP_ID = 'org.tether.Tether'
tap = t.tap
workdir = tempfile.mkdtemp(prefix='tether-ui-')


def marked(marker):
    """Live, non-zombie backend pids whose argv carries marker."""
    return t.marked_pids(marker)


def write_profile(name, mode_args, extra=None):
    marker = f'tether-ui-{uuid.uuid4().hex[:12]}'
    profile = {'name': name, 'command': [TREE, marker] + mode_args}
    profile.update(extra or {})
    path = os.path.join(workdir, f'{name.replace(" ", "-")}.json')
    with open(path, 'w') as f:
        json.dump(profile, f)
    return path, marker


def tetherctl(*args, profile):
    out = subprocess.run([TETHERCTL, *args, '--json', f'--profile={profile}'],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f'tetherctl {" ".join(args)}: exit {out.returncode}: {out.stderr.strip()}')
    return json.loads(out.stdout)


def gapplication_action(action, parameter=None):
    argv = ['gapplication', 'action', APP_ID, action]
    if parameter is not None:
        argv.append(parameter)
    subprocess.run(argv, check=True, timeout=30)


def state_is(app, label):
    """The state pill: its accessible name is 'State: <label>'."""
    return t.find(app, 'label', f'State: {label}', timeout=30 * t.SCALE)


def main_window(app):
    return t.find(app, ('frame', 'window'), re.compile('Tether'))


def kill_leftovers(marker):
    for pid in marked(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


SHOTS = os.environ.get('TETHER_UI_SCREENSHOTS')


def screenshot(title, name):
    """With $TETHER_UI_SCREENSHOTS set, the X window called title into that
    directory (no window manager: every toplevel sits at +0+0)."""
    if not SHOTS:
        return
    tree = subprocess.run(['xwininfo', '-root', '-tree'], capture_output=True, text=True).stdout
    m = re.search(rf'"{re.escape(title)}": \(.*?\)\s+(\d+x\d+)\+', tree)
    if m:
        os.makedirs(SHOTS, exist_ok=True)
        subprocess.run(['import', '-window', 'root', '-crop', f'{m.group(1)}+0+0', '+repage',
                        os.path.join(SHOTS, name)], check=False, timeout=30)


def row_of(view, pid):
    """pid's row; a tick may remove other rows while they are read."""
    return t.wait_until(lambda: next((r for r, cells in t.table_rows(view) if cells[1:2] == [str(pid)]),
                                     None), 10 * t.SCALE, f'the row of {pid}')


def row_colour(row):
    """The commonest colour along a row's middle line (its background, text
    being thin), as ImageMagick writes it ("#D9D9D9"); None without
    ImageMagick's import."""
    x, y, w, h = t.extents(row)
    try:
        out = subprocess.run(['import', '-window', 'root', '-crop', f'{w}x1+{x}+{y + h // 2}', 'txt:-'],
                             capture_output=True, text=True, timeout=30).stdout
    except FileNotFoundError:
        return None
    colours = re.findall(r'#[0-9A-Fa-f]{6}', out)
    return max(set(colours), key=colours.count).upper() if colours else None


def pointer_away(view):
    """Moves the pointer off the rows (into the empty middle of the list,
    below the few rows of these trees), so no row is shaded for the hover;
    not to the bottom, where a toast under the pointer would never time
    out and hold back the ones after it."""
    x, y, w, h = t.extents(view)
    Atspi.generate_mouse_event(x + w // 2, y + h // 2, 'abs')
    time.sleep(0.3)


# ---- 1. a backend that forks children: Start, the tree, Stop -------------------

# No desktop shell here: python3-dbusmock's notification_daemon template is
# the org.freedesktop.Notifications server, on the private session bus, and
# records every call. GLib is told to use that backend (a GNOME session
# would take org.gtk.Notifications from the shell instead).
notifyd = subprocess.Popen([sys.executable, '-m', 'dbusmock', '--session', '--template',
                            'notification_daemon'], stdout=subprocess.DEVNULL)
t.wait_until(lambda: subprocess.run(
    ['gdbus', 'introspect', '--session', '--dest', 'org.freedesktop.Notifications',
     '--object-path', '/org/freedesktop/Notifications'],
    capture_output=True).returncode == 0, 20 * t.SCALE, 'the notification daemon stand-in')


def notification_calls():
    """[(method, [args...]), ...] the stand-in daemon received."""
    bus = Gio.bus_get_sync(Gio.BusType.SESSION)
    reply = bus.call_sync('org.freedesktop.Notifications', '/org/freedesktop/Notifications',
                          'org.freedesktop.DBus.Mock', 'GetCalls', None,
                          GLib.VariantType('(a(tsav))'), Gio.DBusCallFlags.NONE, 10000, None)
    return [(method, args) for _, method, args in reply.unpack()[0]]


forking, forking_marker = write_profile('Forking backend', ['children', '3'],
                                        {'stop': {'graceful_timeout': 5}})
env = dict(os.environ, GSETTINGS_BACKEND='memory', GNOTIFICATION_BACKEND='freedesktop',
           G_DEBUG=os.environ.get('TETHER_APP_G_DEBUG', ''))
proc, app = t.launch([APP, forking], 'tether', env=env)
tap.dump_root = app

with tap.step('the window opens on the profile: title, state Stopped, Start enabled'):
    main_window(app)
    state_is(app, 'Stopped')
    start = t.find(app, 'push button', 'Start', mapped=True)
    t.wait_until(lambda: t.has_state(start, 'sensitive'), what='Start sensitive (enabled)')

with tap.step('Start: the backend and its 3 children run, tetherctl tree (against the app) matches them'):
    t.click(start)
    state_is(app, 'Running')

    def tree_complete():
        tree = tetherctl('tree', profile=forking)
        pids = sorted(p['pid'] for p in tree['processes'])
        return tree if len(pids) == 4 and pids == marked(forking_marker) else None
    tree = t.wait_until(tree_complete, 20 * t.SCALE, 'tetherctl tree == the 4 marked processes')
    main_pid = tree['main_pid']
    children = [p for p in tree['processes'] if p['pid'] != main_pid]
    assert all(p['parent'] == main_pid for p in children), tree

with tap.step('the tree view shows the backend and its children as rows'):
    view = t.find(app, 'tree table', 'Processes')
    want = {str(p['pid']) for p in tree['processes']}

    def rows_shown():
        shown = {cells[1] for _, cells in t.table_rows(view) if len(cells) > 1}
        return want <= shown
    t.wait_until(rows_shown, 20 * t.SCALE,
                 lambda: f'rows for pids {sorted(want)} (shown: {t.table_rows(view)})')
    # name, PID, state, CPU %, memory, threads, uptime, command line
    cells = next(c for _, c in t.table_rows(view) if len(c) > 1 and c[1] == str(main_pid))
    # The program's name from its command line, not the kernel's 15-byte comm.
    assert cells[0] == 'tether-test-tree' and cells[2] == 'Sleeping', cells
    assert re.fullmatch(r'\d+\.\d', cells[3]) and re.search(r'[KM]iB$', cells[4]), cells
    assert cells[5] == '1' and re.fullmatch(r'\d+ s', cells[6]), cells
    assert forking_marker in cells[7] and ' children 3' in cells[7], cells
    # The Name cell's tooltip (its accessible description) has the
    # kernel's 15-byte name, and the command line.
    main_row = next(r for r, c in t.table_rows(view) if len(c) > 1 and c[1] == str(main_pid))
    name_label = t.find(main_row, 'label', 'tether-test-tree')
    description = name_label.get_description() or ''
    assert description.startswith('Kernel name: tether-test-tre\n') and forking_marker in description, description

def click_until_selected(get_row, pid, button=1):
    """Click pid's row until the detail line names it: under Xvfb with no
    window manager the first click after a popup closed can be lost."""
    for attempt in range(5):
        t.mouse_click(get_row(), button=button)
        try:
            return t.find(app, 'label', re.compile(rf' \({pid}\) — '), timeout=2 * t.SCALE)
        except AssertionError:
            if attempt == 4:
                raise


with tap.step('right-click selects the row and leaves no shade of its own: after the menu, it looks like a '
              'row selected by a left click, and unselected like any other row'):
    first, second, third = (p['pid'] for p in children)
    t.mouse_click(row_of(view, second))
    t.find(app, 'label', re.compile(rf' \({second}\) — '))
    pointer_away(view)
    selected = row_colour(row_of(view, second))
    plain = row_colour(row_of(view, third))
    if selected is None:
        tap.diag('no ImageMagick import: colours not compared')
    else:
        assert selected != plain, (selected, plain)
        t.mouse_click(row_of(view, first), button=3)
        t.find(app, 'menu item', f'tether-test-tree ({first})', mapped=True)
        t.find(app, 'label', re.compile(rf' \({first}\) — '))
        t.key('Escape')
        t.wait_until(lambda: not t.find_all(app, 'menu item', 'Stop Subtree', mapped=True),
                     10 * t.SCALE, 'the row menu closed')
        pointer_away(view)
        t.wait_until(lambda: row_colour(row_of(view, first)) == selected, 5 * t.SCALE,
                     lambda: f'the right-clicked row as selected ({selected}): {row_colour(row_of(view, first))}')
        # Under Xvfb with no window manager the first click after a popup
        # closed can be lost: click until the row is selected.
        click_until_selected(lambda: row_of(view, second), second)
        pointer_away(view)
        t.wait_until(lambda: row_colour(row_of(view, first)) == plain, 5 * t.SCALE,
                     lambda: f'the once right-clicked row plain ({plain}): {row_colour(row_of(view, first))}')

with tap.step('right-click on a child row: its menu; Kill Subtree asks, kills only that child'):
    victim = children[0]['pid']
    # The right-click selects that row: the detail line names it.
    click_until_selected(lambda: next(r for r, cells in t.table_rows(view)
                                      if len(cells) > 1 and cells[1] == str(victim)), victim, button=3)
    t.click(t.find(app, 'menu item', 'Kill Subtree…', mapped=True))
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile(rf'^Kill .*\({victim}\)\?'))
    t.find(dialog, 'label', re.compile('^1 process will be killed'))
    t.click(t.find(dialog, 'push button', 'Kill', mapped=True))
    t.wait_until(lambda: victim not in marked(forking_marker), 10 * t.SCALE, f'{victim} killed')
    assert len(marked(forking_marker)) == 3, marked(forking_marker)
    # The selected row died: nothing is selected (never a neighbour).
    t.find(app, 'label', 'No process selected')
    assert not any(t.has_state(r, 'selected') for r, _ in t.table_rows(view))

with tap.step('the process count and graphs are there'):
    t.find(app, 'label', '3 processes')
    t.find(app, 'image', 'CPU')
    t.find(app, 'image', 'Memory')
    # Without a pool section there is no Workers control.
    assert not t.find_all(app, 'spin button', 'Workers'), 'a Workers control without a pool'

def kernel_ppid(pid):
    with open(f'/proc/{pid}/stat') as f:
        return int(f.read().rsplit(')', 1)[1].split()[1])


with tap.step('Columns (main menu) > Parent PID adds the column: every row shows its parent\'s pid; a '
              'column header\'s right-click menu takes it away again'):
    t.click(t.find(app, 'push button', 'Main Menu', mapped=True))
    t.click(t.find(app, 'menu item', 'Columns', mapped=True))
    t.click(t.find(app, ('check menu item', 'menu item'), 'Parent PID', mapped=True))
    alive = marked(forking_marker)
    want = {str(pid): str(kernel_ppid(pid)) for pid in alive}
    assert all(ppid == str(main_pid) for pid, ppid in want.items() if pid != str(main_pid)), want

    def ppid_cells():
        # GTK 4.8 lists a column shown later after the others on AT-SPI.
        rows = {c[1]: c for _, c in t.table_rows(view) if len(c) > 1}
        return all(pid in rows and len(rows[pid]) == 9 and rows[pid][8] == ppid for pid, ppid in want.items())
    t.wait_until(ppid_cells, 10 * t.SCALE, lambda: f'parent pids {want} (rows: {[c for _, c in t.table_rows(view)]})')
    t.wait_until(lambda: not t.find_all(app, ('check menu item', 'menu item'), 'Parent PID', mapped=True),
                 10 * t.SCALE, 'the main menu closed')
    # GTK 4.8's column titles are not on AT-SPI as headers: their label is.
    t.mouse_click(t.find(view, 'label', 'PID', mapped=True), button=3)
    t.click(t.find(app, ('check menu item', 'menu item'), 'Parent PID', mapped=True))
    t.wait_until(lambda: all(len(c) == 8 for _, c in t.table_rows(view)), 10 * t.SCALE,
                 lambda: f'no Parent PID column (rows: {[c for _, c in t.table_rows(view)]})')

with tap.step('Preferences: a new refresh interval reaches the running sampler'):
    assert tetherctl('tree', profile=forking)['interval_ms'] == 1000
    t.click(t.find(app, 'push button', 'Main Menu', mapped=True))
    t.click(t.find(app, 'menu item', 'Preferences', mapped=True))
    prefs = t.find(app, ('frame', 'window', 'dialog'), 'Preferences')
    spin = t.find(prefs, 'spin button', 'Refresh Interval')
    assert Atspi.Value.get_current_value(spin) == 1.0, Atspi.Value.get_current_value(spin)
    Atspi.Value.set_current_value(spin, 0.5)
    t.wait_until(lambda: tetherctl('tree', profile=forking)['interval_ms'] == 500, 10 * t.SCALE,
                 'interval_ms 500')
    t.key('Escape')

with tap.step('Stop: the ladder ends the tree, nothing survives'):
    t.click(t.find(app, 'push button', 'Stop', mapped=True))
    state_is(app, 'Stopped')
    t.wait_until(lambda: not marked(forking_marker), 10 * t.SCALE, 'no marked process left')
    assert tetherctl('status', profile=forking)['state'] == 'stopped'

with tap.step('every button, toggle and switch in the window has an accessible name'):
    window = main_window(app)
    controls = t.find_all(window, ('push button', 'toggle button', 'check box', 'menu button'),
                          mapped=True)
    assert len(controls) >= 6, [t.describe(c) for c in controls]
    unnamed = [t.describe(c) for c in controls if not (t.name_of(c) or '').strip()]
    assert not unnamed, unnamed

# ---- 2. the same verbs from D-Bus and tetherctl ------------------------------------

with tap.step('gapplication action start (D-Bus) starts it; tetherctl stop stops it'):
    gapplication_action('start')
    state_is(app, 'Running')
    t.wait_until(lambda: len(marked(forking_marker)) == 4, 20 * t.SCALE, '4 marked processes')
    t.find(app, 'label', '4 processes')
    report = tetherctl('stop', profile=forking)
    assert report['forced'] is False, report
    state_is(app, 'Stopped')
    assert not marked(forking_marker), marked(forking_marker)

with tap.step('an earlier run left behind (a detached copy of the command): Start lists it and asks; '
              'End Them and Start ends it, then the backend starts'):
    # setsid -f: not a child of the app (a subreaper) nor of this script.
    subprocess.run(['setsid', '-f', TREE, forking_marker, 'children', '3'], check=True, timeout=30)
    t.wait_until(lambda: len(marked(forking_marker)) == 4, 20 * t.SCALE, '4 leftover processes')
    old = marked(forking_marker)
    t.click(t.find(app, 'push button', 'Start', mapped=True))
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), 'An Earlier Run Is Still There')
    t.find(dialog, 'label', re.compile(r'left 4 processes behind'))
    for pid in old:
        t.find(dialog, 'label', f'tether-test-tree ({pid})')
    assert tetherctl('status', profile=forking)['state'] == 'stopped'
    t.click(t.find(dialog, 'push button', 'End Them and Start', mapped=True))
    state_is(app, 'Running')
    t.wait_until(lambda: len(marked(forking_marker)) == 4 and not set(old) & set(marked(forking_marker)),
                 20 * t.SCALE, lambda: f'4 new marked processes, none of {old} (now {marked(forking_marker)})')
    t.find(app, 'label', re.compile(r'^Ended 4 processes of an earlier run'))
    assert sorted(p['pid'] for p in tetherctl('tree', profile=forking)['processes']) == marked(forking_marker)
    tetherctl('stop', profile=forking)
    state_is(app, 'Stopped')

# ---- 3. a backend that ignores SIGTERM: Force stop with its confirmation ----------

stubborn, stubborn_marker = write_profile('Stubborn backend', ['ignore-term', '2'],
                                          {'stop': {'graceful_timeout': 60, 'term_timeout': 60}})

with tap.step('open a second profile over D-Bus (app.open-profile)'):
    gapplication_action('open-profile', f"'{stubborn}'")
    t.find(app, 'label', re.compile('^Stubborn backend'))
    state_is(app, 'Stopped')

with tap.step('Force stop asks first, saying how many processes will be killed'):
    t.click(t.find(app, 'push button', 'Start', mapped=True))
    state_is(app, 'Running')
    t.wait_until(lambda: len(marked(stubborn_marker)) == 3, 20 * t.SCALE, '3 marked processes')
    # Force Stop is in the Stop button's menu, away from the window's close
    # button, and its only red is the confirmation's.
    t.click(t.find(app, 'push button', 'More Ways to Stop', mapped=True))
    t.click(t.find(app, 'menu item', re.compile('^Force Stop'), mapped=True))
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile('Force Stop Stubborn backend'))
    t.find(dialog, 'label', re.compile(r'^3 processes will be killed'))
    time.sleep(0.5)
    assert len(marked(stubborn_marker)) == 3, 'killed before the confirmation'

with tap.step('confirming kills the whole tree at once (not after the 60 s ladder)'):
    began = time.monotonic()
    t.click(t.find(dialog, 'push button', 'Force Stop', mapped=True))
    t.wait_until(lambda: not marked(stubborn_marker), 10 * t.SCALE, 'no marked process left')
    state_is(app, 'Stopped')
    assert time.monotonic() - began < 10, time.monotonic() - began
    # Asked for, not escalated: no "did not stop in time" news.
    assert not t.find_all(app, 'label', re.compile('did not stop in time')), 'escalation toast'

with tap.step('Stop on it shows the countdown; Force Now ends it'):
    t.click(t.find(app, 'push button', 'Start', mapped=True))
    state_is(app, 'Running')
    t.wait_until(lambda: len(marked(stubborn_marker)) == 3, 20 * t.SCALE, '3 marked processes')
    t.click(t.find(app, 'push button', 'Stop', mapped=True))
    state_is(app, 'Stopping')
    countdown = t.find(app, 'label', re.compile(r'^Asked the backend to exit; .* in \d+ seconds?$'))
    first = int(re.search(r'(\d+) second', t.name_of(countdown) or t.text_of(countdown)).group(1))
    assert 50 <= first <= 60, first
    assert len(marked(stubborn_marker)) == 3
    # Every row still there says so, in words, beside its state.
    view = t.find(app, 'tree table', 'Processes')
    t.wait_until(lambda: sorted(int(c[1]) for _, c in t.table_rows(view)
                                if len(c) > 2 and c[2].endswith(' Still running')) == marked(stubborn_marker),
                 10 * t.SCALE, lambda: f'rows marked Still running (rows: {[c for _, c in t.table_rows(view)]})')
    t.click(t.find(app, 'push button', 'Force Now', mapped=True))
    t.wait_until(lambda: not marked(stubborn_marker), 10 * t.SCALE, 'no marked process left')
    state_is(app, 'Stopped')

with tap.step('no row is marked while the backend runs; during the SIGTERM countdown the processes that '
              'ignore it are marked "Still running after SIGTERM"'):
    termed, termed_marker = write_profile('SIGTERM-ignoring backend', ['ignore-term', '2'],
                                          {'stop': {'graceful_timeout': 1, 'term_timeout': 60}})
    gapplication_action('open-profile', f"'{termed}'")
    t.find(app, 'label', re.compile('^SIGTERM-ignoring backend'))
    t.click(t.find(app, 'push button', 'Start', mapped=True))
    state_is(app, 'Running')
    t.wait_until(lambda: len(marked(termed_marker)) == 3, 20 * t.SCALE, '3 marked processes')
    view = t.find(app, 'tree table', 'Processes')
    t.wait_until(lambda: len(t.table_rows(view)) == 3, 10 * t.SCALE, '3 rows')
    assert not any('Still running' in ' '.join(c) for _, c in t.table_rows(view)), t.table_rows(view)
    t.click(t.find(app, 'push button', 'Stop', mapped=True))
    t.find(app, 'label', re.compile(r'^Sent SIGTERM to every process; killing them in \d+ seconds?$'),
           timeout=10 * t.SCALE)
    t.wait_until(lambda: sorted(int(c[1]) for _, c in t.table_rows(view)
                                if len(c) > 2 and c[2].endswith(' Still running after SIGTERM'))
                 == marked(termed_marker),
                 10 * t.SCALE, lambda: f'rows marked after SIGTERM (rows: {[c for _, c in t.table_rows(view)]})')
    screenshot('SIGTERM-ignoring backend — Tether', 'still-running.png')
    t.click(t.find(app, 'push button', 'Force Now', mapped=True))
    t.wait_until(lambda: not marked(termed_marker), 10 * t.SCALE, 'no marked process left')
    state_is(app, 'Stopped')

with tap.step('a stop the ladder had to force says so in a toast'):
    quick, quick_marker = write_profile('Quick stubborn backend', ['ignore-term', '1'],
                                        {'stop': {'graceful_timeout': 1, 'term_timeout': 1}})
    gapplication_action('open-profile', f"'{quick}'")
    t.find(app, 'label', re.compile('^Quick stubborn backend'))
    t.click(t.find(app, 'push button', 'Start', mapped=True))
    state_is(app, 'Running')
    t.wait_until(lambda: len(marked(quick_marker)) == 2, 20 * t.SCALE, '2 marked processes')
    t.click(t.find(app, 'push button', 'Stop', mapped=True))
    t.find(app, 'label', re.compile('^Quick stubborn backend did not stop in time'))
    t.wait_until(lambda: not marked(quick_marker), 10 * t.SCALE, 'no marked process left')
    state_is(app, 'Stopped')

# ---- 4. a backend that crashes: the state, the reason, a toast ---------------------

crashing, crashing_marker = write_profile('Crashing backend', ['sleep'])
with open(crashing) as f:
    profile = json.load(f)
# Exits with status 3 a moment after starting (the marker rides along in $0).
profile['command'] = ['sh', '-c', 'sleep 1; exit 3', crashing_marker]
with open(crashing, 'w') as f:
    json.dump(profile, f)

with tap.step('a crash shows Failed, the exit status, and a toast'):
    gapplication_action('open-profile', f"'{crashing}'")
    t.find(app, 'label', re.compile('^Crashing backend'))
    t.click(t.find(app, 'push button', 'Start', mapped=True))
    state_is(app, 'Failed')
    t.find(app, 'label', re.compile(r'^Crashing backend failed: .*status 3'))
    t.find(app, 'label', re.compile(r'status 3'))
    assert not marked(crashing_marker), marked(crashing_marker)
    gapplication_action('open-profile', f"'{stubborn}'")
    t.find(app, 'label', re.compile('^Stubborn backend'))

# ---- 5. closing the window while the backend runs ---------------------------------

with tap.step('closing the window asks; Keep Running hides it and the backend lives on'):
    t.click(t.find(app, 'push button', 'Start', mapped=True))
    state_is(app, 'Running')
    t.wait_until(lambda: len(marked(stubborn_marker)) == 3, 20 * t.SCALE, '3 marked processes')
    t.click(t.find(app, 'push button', 'Close', mapped=True))
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile('^Stop Stubborn backend'))
    t.click(t.find(dialog, 'push button', 'Keep Running', mapped=True))
    time.sleep(1)
    assert proc.poll() is None, 'the app quit'
    assert tetherctl('status', profile=stubborn)['state'] == 'running'
    assert len(marked(stubborn_marker)) == 3

with tap.step('stopped while in the background: a desktop notification, then the app exits by itself'):
    tetherctl('kill', profile=stubborn)
    t.wait_until(lambda: not marked(stubborn_marker), 10 * t.SCALE, 'no marked process left')
    # Notify (app_name, replaces_id, icon, summary, body, ...)
    t.wait_until(lambda: any(method == 'Notify' and args[3] == 'Stubborn backend stopped'
                             for method, args in notification_calls()),
                 10 * t.SCALE, lambda: f'a Notify call (calls: {notification_calls()})')
    t.wait_until(lambda: proc.poll() is not None, 20 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode

with tap.step('quitting over D-Bus stops the backend first, then the app exits 0, nothing left '
              '(TETHER_OWNER=cgroup is honoured)'):
    proc, app = t.launch([APP, '--start', stubborn], 'tether', env=dict(env, TETHER_OWNER='cgroup'))
    t.wait_until(lambda: len(marked(stubborn_marker)) == 3, 20 * t.SCALE, '3 marked processes')
    assert tetherctl('status', profile=stubborn)['owner'] == 'cgroup'
    assert tetherctl('status', profile=stubborn)['cgroup'] is not None
    # The window says how the tree is owned, and what that means.
    owner = t.find(app, 'label', 'cgroup', mapped=True)
    assert 'a cgroup of its own' in owner.get_description(), owner.get_description()
    gapplication_action('quit')
    # The ladder: SIGTERM is ignored for 60 s, so a second quit skips to
    # the forced step.
    state_is(app, 'Stopping')
    assert len(marked(stubborn_marker)) == 3
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 20 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode
    assert not marked(stubborn_marker), marked(stubborn_marker)
    assert not marked(forking_marker), marked(forking_marker)

# ---- 6. the app killed outright: the shim takes the tree with it ------------------

with tap.step('SIGKILL to the app (--owner=reaper): the backend tree dies with it'):
    proc, app = t.launch([APP, '--owner=reaper', '--start', forking], 'tether', env=env)
    t.wait_until(lambda: len(marked(forking_marker)) == 4, 20 * t.SCALE, '4 marked processes')
    status = tetherctl('status', profile=forking)
    assert status['owner'] == 'reaper' and status['cgroup'] is None, status
    owner = t.find(app, 'label', 'helper', mapped=True)
    assert 'detached processes are still caught' in owner.get_description(), owner.get_description()
    proc.kill()
    proc.wait(10)
    t.wait_until(lambda: not marked(forking_marker), 10 * t.SCALE, 'no marked process left')

# ---- 7. no profile: the welcome page ---------------------------------------------

with tap.step('without a profile (and none remembered) the welcome page offers Open and Demo'):
    proc, app = t.launch([APP], 'tether', env=env)
    t.find(app, 'label', 'No Profile Open')
    t.find(app, 'push button', 'Open Profile…', mapped=True)
    t.find(app, 'push button', 'Run Demo', mapped=True)
    # Nothing to start or stop yet: no controls at all (not greyed ones).
    for name in ('Start', 'Stop', 'More Ways to Stop'):
        assert not t.find_all(app, 'push button', name, mapped=True), name
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 20 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode

with tap.step('a malformed profile: a dialog naming the file, line and column'):
    bad = os.path.join(workdir, 'bad.json')
    with open(bad, 'w') as f:
        f.write('{\n  "name": "Bad",\n  "command": ["true"],,\n}\n')
    proc, app = t.launch([APP, bad], 'tether', env=env)
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile(r'^Could not open .*bad\.json'))
    t.find(dialog, 'label', re.compile(r'bad\.json:3:\d+: '))
    t.find(app, 'label', 'No Profile Open')
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 20 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode

for layout, what in ((':close', "GNOME's window buttons: close only"),
                     (':minimize,maximize,close', 'minimize, maximize and close')):
    with tap.step(f'360 px wide ({what}): the window is that narrow, every control fits'):
        # The settings and GTK configuration a narrow session would have.
        config = os.path.join(workdir, 'config')
        os.makedirs(os.path.join(config, 'glib-2.0', 'settings'), exist_ok=True)
        os.makedirs(os.path.join(config, 'gtk-4.0'), exist_ok=True)
        with open(os.path.join(config, 'glib-2.0', 'settings', 'keyfile'), 'w') as f:
            f.write('[org/tether/Tether]\nwindow-width=360\nwindow-height=640\n')
        with open(os.path.join(config, 'gtk-4.0', 'settings.ini'), 'w') as f:
            f.write(f'[Settings]\ngtk-decoration-layout={layout}\n')
        narrow_env = dict(env, GSETTINGS_BACKEND='keyfile', XDG_CONFIG_HOME=config)
        proc, app = t.launch([APP, '--start', forking], 'tether', env=narrow_env)
        window = main_window(app)
        state_is(app, 'Running')

        def x_window_width():
            # The X window itself (AT-SPI's frame extents leave out a few px).
            tree = subprocess.run(['xwininfo', '-root', '-tree'], capture_output=True, text=True).stdout
            m = re.search(r'"Forking backend — Tether": \(.*?\)\s+(\d+)x\d+', tree)
            return int(m.group(1)) if m else None
        t.wait_until(lambda: x_window_width() == 360, 10 * t.SCALE,
                     lambda: f'a 360 px X window (got {x_window_width()})')
        buttons = ['Start', 'Stop', 'More Ways to Stop', 'Main Menu', 'Close']
        if 'minimize' in layout:
            buttons += ['Minimize', 'Maximize']
        for name in buttons:
            x, y, w, h = t.extents(t.find(app, 'push button', name, mapped=True))
            assert w > 0 and x >= 0 and x + w <= 360, (name, x, w)
        # Name, CPU and Memory come first and fit (GTK 4.8's column titles
        # are on AT-SPI as labels).
        view = t.find(app, 'tree table', 'Processes')
        xs = []
        for title in ('Name', 'CPU %', 'Memory'):
            x, y, w, h = t.extents(t.find(view, 'label', title, mapped=True))
            assert w > 0 and x >= 0 and x + w <= 360, (title, x, w)
            xs.append(x)
        assert xs == sorted(xs), xs
        gapplication_action('quit')
        t.wait_until(lambda: proc.poll() is not None, 20 * t.SCALE, 'the app exits')
        assert not marked(forking_marker), marked(forking_marker)

with tap.step('--owner with a bad kind: said on the terminal, exit 2, nothing opens'):
    out = subprocess.run([APP, '--owner=bogus', forking], capture_output=True, text=True,
                         timeout=30, env=env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert '--owner must be auto, cgroup or reaper (got “bogus”)' in out.stderr, out.stderr

# ---- 8. the keyboard: every shortcut README.md and the help overlay list --------
# A fresh window: under Xvfb with no window manager, the first click on a
# window after a modal dialog of it closed is lost, and the earlier steps
# leave such dialogs behind.

def dialog_gone(pattern):
    return lambda: not t.find_all(app, ('dialog', 'alert'), re.compile(pattern))


def x_children():
    """The root window's children as (id, width, height, x, y): a popover
    has a window of its own (no window manager here)."""
    tree = subprocess.run(['xwininfo', '-root', '-children'], capture_output=True, text=True).stdout
    return {(w, int(width), int(height), int(x), int(y))
            for w, width, height, x, y in re.findall(r'^\s*(0x[0-9a-f]+)\s.*?\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s',
                                                    tree, re.M)}


def x_window(title):
    """The file chooser (GtkFileChooserNative's own dialog here) is not on
    the app's AT-SPI tree; X lists its window."""
    tree = subprocess.run(['xwininfo', '-root', '-tree'], capture_output=True, text=True).stdout
    return f'"{title}":' in tree


with tap.step('keyboard on the selected row: Ctrl+C, Ctrl+Shift+C, Shift+F10, Menu, Delete'):
    proc, app = t.launch([APP, '--start', forking], 'tether', env=env)
    state_is(app, 'Running')
    tree = t.wait_until(tree_complete, 20 * t.SCALE, 'tetherctl tree == the 4 marked processes')
    children = sorted(p['pid'] for p in tree['processes'] if p['pid'] != tree['main_pid'])
    view = t.find(app, 'tree table', 'Processes')
    t.wait_until(lambda: all(any(c[1:2] == [str(pid)] for _, c in t.table_rows(view)) for pid in children),
                 20 * t.SCALE, 'rows for the children')
    # A left click selects; the pointer stays over the window, where the
    # keys go (no window manager).
    t.mouse_click(row_of(view, children[0]))
    t.find(app, 'label', re.compile(rf' \({children[0]}\) — '))
    t.key('ctrl+c')
    t.find(app, 'label', 'Command line copied')
    t.key('ctrl+shift+c')
    t.find(app, 'label', 'PID copied')
    for combo in ('shift+F10', 'Menu'):
        windows = x_children()
        t.key(combo)
        t.find(app, 'menu item', 'Stop Subtree', mapped=True)
        # Its first line names the process it acts on.
        t.find(app, 'menu item', f'tether-test-tree ({children[0]})', mapped=True)
        if combo == 'shift+F10':
            # It hangs right under that row, not in the middle of the list:
            # its X window (AT-SPI places a popover's items in its own
            # surface) begins, shadow margin included, at the row's bottom.
            _, row_y, _, row_h = t.extents(row_of(view, children[0]))
            menus = [(y, h) for _, _, h, _, y in x_children() - windows]
            assert any(row_y + row_h - 40 <= y <= row_y + row_h + 5 for y, h in menus), (row_y, row_h, menus)
        t.key('Escape')
        t.wait_until(lambda: not t.find_all(app, 'menu item', 'Stop Subtree', mapped=True),
                     10 * t.SCALE, f'the row menu ({combo}) closed')
    t.key('Delete')
    # It does not ask (SIGTERM cannot be undone) but says what it reached.
    t.find(app, 'label', f'Sent SIGTERM to tether-test-tree ({children[0]})', timeout=10 * t.SCALE)
    t.wait_until(lambda: children[0] not in marked(forking_marker), 10 * t.SCALE,
                 f'{children[0]} stopped')
    t.wait_until(lambda: not any(cells[1:2] == [str(children[0])] for _, cells in t.table_rows(view)),
                 10 * t.SCALE, f'the row of {children[0]} gone')
    assert len(marked(forking_marker)) == 3, marked(forking_marker)

with tap.step('keyboard: Shift+Delete and Ctrl+Shift+K ask first (Escape cancels), Ctrl+, opens Preferences'):
    t.mouse_click(row_of(view, children[1]))
    t.find(app, 'label', re.compile(rf' \({children[1]}\) — '))
    t.key('shift+Delete')
    t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile(rf'^Kill .*\({children[1]}\)\?'))
    t.key('Escape')
    t.wait_until(dialog_gone('^Kill '), 10 * t.SCALE, 'the Kill dialog closed')
    t.key('ctrl+shift+k')
    t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile('^Force Stop Forking backend'))
    t.key('Escape')
    t.wait_until(dialog_gone('^Force Stop '), 10 * t.SCALE, 'the Force Stop dialog closed')
    assert len(marked(forking_marker)) == 3, 'killed without asking'
    t.key('ctrl+,')
    t.find(app, ('frame', 'window', 'dialog'), 'Preferences')
    t.key('Escape')
    t.wait_until(lambda: not t.find_all(app, ('frame', 'window', 'dialog'), 'Preferences'),
                 10 * t.SCALE, 'Preferences closed')

# ---- 8b. for support staff: Send Signal…, the details pane, a support bundle -----

def proc_state(pid):
    """The state letter of /proc/PID/status ('S', 'T', ...)."""
    with open(f'/proc/{pid}/status') as f:
        return next(line.split()[1] for line in f if line.startswith('State:'))


def detail(name):
    """The details pane's values called name: their accessible names are
    'PID: 1234', 'State: S — sleeping' (the text is the value)."""
    pane = t.find(app, 'filler', 'Details of the selected process')
    t._clear_cache(pane)
    return [t.text_of(label) for label in t.find_all(pane, 'label', re.compile(rf'^{re.escape(name)}: '),
                                                      mapped=True)]


def send_signal_dialog(pid):
    t.key('shift+F10')
    t.click(t.find(app, 'menu item', 'Send Signal…', mapped=True))
    return t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile(rf'^Send a Signal to .* \({pid}\)$'))


def select_row(pid):
    """A left click on pid's row; the first click after a dialog closed may
    be lost (no window manager), so once more if it did not select."""
    pattern = re.compile(rf' \({pid}\) — ')
    for _ in range(2):
        t.mouse_click(row_of(view, pid))
        with contextlib.suppress(AssertionError):
            return t.find(app, 'label', pattern, timeout=3 * t.SCALE)
    return t.find(app, 'label', pattern)


with tap.step('Send Signal… (row menu): nothing chosen, nothing to send; STOP asks first, then the process '
              'is stopped; Ctrl+I shows its details: its PID, state T'):
    target = children[1]
    # Still selected from the step before.
    t.find(app, 'label', re.compile(rf' \({target}\) — '))
    dialog = send_signal_dialog(target)
    assert not t.has_state(t.find(dialog, 'push button', 'Send', mapped=True), 'sensitive'), 'Send enabled'
    t.click(t.find(dialog, 'push button', 'STOP', mapped=True))
    t.find(dialog, 'label', re.compile('^Stop: freeze the process'))
    t.click(t.find(dialog, 'push button', 'Send…', mapped=True))
    confirm = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile(rf'^Send SIGSTOP to .* \({target}\)\?$'))
    time.sleep(0.3)
    assert proc_state(target) != 'T', 'stopped before the confirmation'
    t.click(t.find(confirm, 'push button', 'Send SIGSTOP', mapped=True))
    t.wait_until(lambda: proc_state(target) == 'T', 10 * t.SCALE, f'{target} in state T')
    t.find(app, 'label', f'Sent SIGSTOP to process {target}')
    assert all(proc_state(p) != 'T' for p in marked(forking_marker) if p != target)
    t.key('ctrl+i')
    t.wait_until(lambda: detail('PID') == [str(target)], 10 * t.SCALE, lambda: f'PID {target} (got {detail("PID")})')
    t.wait_until(lambda: detail('State') and detail('State')[0].startswith('T — '), 10 * t.SCALE,
                 lambda: f'state T in the details (got {detail("State")})')
    screenshot('Forking backend — Tether', 'details-pane.png')

with tap.step('CONT needs no confirmation; the open details pane follows the process back to S'):
    dialog = send_signal_dialog(target)
    t.click(t.find(dialog, 'push button', 'CONT', mapped=True))
    send = t.find(dialog, 'push button', 'Send', mapped=True)
    t.wait_until(lambda: t.has_state(send, 'sensitive'), 10 * t.SCALE, 'Send sensitive once CONT is chosen')
    t.click(send)
    t.wait_until(lambda: proc_state(target) == 'S', 10 * t.SCALE, f'{target} in state S')
    t.find(app, 'label', f'Sent SIGCONT to process {target}')
    # Refreshed by itself (every 2 s).
    t.wait_until(lambda: detail('State') and detail('State')[0].startswith('S — '), 10 * t.SCALE,
                 lambda: f'state S in the details (got {detail("State")})')

with tap.step('STOP to a subtree (the main process and its descendants, asked first), CONT over D-Bus '
              '(app.send-signal); the details pane closes when its process dies'):
    main = tree['main_pid']
    select_row(main)
    t.wait_until(lambda: detail('PID') == [str(main)], 10 * t.SCALE, 'the details follow the selection')
    members = marked(forking_marker)
    dialog = send_signal_dialog(main)
    t.click(t.find(dialog, 'push button', 'STOP', mapped=True))
    t.click(t.find(dialog, 'check box', re.compile('descendants'), mapped=True))
    t.click(t.find(dialog, 'push button', 'Send…', mapped=True))
    confirm = t.find(app, ('dialog', 'alert', 'frame', 'window'),
                     re.compile(rf'^Send SIGSTOP to .* \({main}\) and Its Descendants\?$'))
    t.find(confirm, 'label', re.compile(rf'{len(members)} processes will get it\.$'))
    t.click(t.find(confirm, 'push button', 'Send SIGSTOP', mapped=True))
    t.wait_until(lambda: all(proc_state(p) == 'T' for p in members), 10 * t.SCALE,
                 lambda: f'{members} in state T (got {[proc_state(p) for p in members]})')
    gapplication_action('send-signal', f"({main}, 'CONT', true)")
    t.wait_until(lambda: all(proc_state(p) == 'S' for p in members), 10 * t.SCALE,
                 lambda: f'{members} in state S (got {[proc_state(p) for p in members]})')
    select_row(children[2])
    t.wait_until(lambda: detail('PID') == [str(children[2])], 10 * t.SCALE, 'the details of the child')
    os.kill(children[2], signal.SIGKILL)
    t.wait_until(lambda: not detail('PID'), 10 * t.SCALE, 'the details pane closed')
    t.find(app, 'label', 'No process selected')

with tap.step('Save Support Bundle… (main menu): a JSON file, 0600, with every section'):
    bundle = os.path.join(workdir, 'support', 'bundle.json')
    os.makedirs(os.path.dirname(bundle))
    t.click(t.find(app, 'push button', 'Main Menu', mapped=True))
    t.click(t.find(app, 'menu item', 'Save Support Bundle…', mapped=True))
    # GtkFileChooserNative's own dialog: X lists it, the name entry has the
    # keyboard.
    t.wait_until(lambda: x_window('Save Support Bundle'), 10 * t.SCALE, 'the file chooser')
    time.sleep(0.5)
    t.key('ctrl+a')
    t.type_text(bundle)
    t.key('Return')
    t.find(app, 'label', f'Saved support bundle to {bundle}', timeout=30 * t.SCALE)
    assert os.stat(bundle).st_mode & 0o777 == 0o600, oct(os.stat(bundle).st_mode)
    subprocess.run([sys.executable, '-m', 'json.tool', bundle], check=True, stdout=subprocess.DEVNULL)
    with open(bundle) as f:
        document = json.load(f)
    assert list(document) == ['format', 'created', 'versions', 'status', 'profile', 'diagnosis', 'tree',
                              'log', 'history'], list(document)
    assert {'tether', 'glib', 'kernel', 'gtk', 'libadwaita'} <= set(document['versions']), document['versions']
    assert document['status']['state'] == 'running', document['status']
    assert forking_marker in document['profile']
    assert sorted(p['pid'] for p in document['diagnosis']['processes']) == marked(forking_marker), document['diagnosis']
    assert 'lines' in document['log'] and 'events' in document['history']

with tap.step('keyboard: Ctrl+. stops, Ctrl+Return starts, Ctrl+R restarts'):
    t.key('ctrl+.')
    state_is(app, 'Stopped')
    assert not marked(forking_marker), marked(forking_marker)
    t.key('ctrl+Return')
    state_is(app, 'Running')
    first = t.wait_until(lambda: tetherctl('status', profile=forking).get('main_pid'), 20 * t.SCALE,
                         'a main pid')
    t.key('ctrl+r')
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile('^Restart Forking backend'))
    t.find(dialog, 'label', re.compile(r'^Its \d+ processes are asked to exit'))
    time.sleep(0.5)
    assert tetherctl('status', profile=forking).get('main_pid') == first, 'restarted before the confirmation'
    t.click(t.find(dialog, 'push button', 'Restart', mapped=True))
    t.wait_until(lambda: tetherctl('status', profile=forking).get('main_pid') not in (None, 0, first),
                 20 * t.SCALE, 'a new main pid after the restart')
    state_is(app, 'Running')

# ---- 8c. finding the hot process: search, the flat list ranked by CPU -------------

busy, busy_marker = write_profile('Busy backend', ['busy'])


def shown_pids(view):
    """The pids of the rows shown, top to bottom."""
    rows = [(t.extents(r)[1], cells[1]) for r, cells in t.table_rows(view) if len(cells) > 1]
    return [int(pid) for _, pid in sorted(rows)]


with tap.step('Ctrl+F on the processes: a pid typed, its row is the only match (its parent stays '
              'shown in the tree); Escape shows every row again'):
    t.key('ctrl+.')
    state_is(app, 'Stopped')
    gapplication_action('open-profile', f"'{busy}'")
    t.find(app, 'label', 'Busy backend', mapped=True)
    t.key('ctrl+Return')
    state_is(app, 'Running')
    tree = t.wait_until(lambda: (lambda tr: tr if len(tr['processes']) == 3 else None)(
        tetherctl('tree', profile=busy)), 20 * t.SCALE, 'the busy tree')
    hot = next(p['pid'] for p in tree['processes'] if ' _busy' in p['cmdline'])
    view = t.find(app, 'tree table', 'Processes')
    t.wait_until(lambda: len(shown_pids(view)) == 3, 10 * t.SCALE, '3 rows')
    t.key('ctrl+f')
    t.find(app, 'entry', 'Search processes', mapped=True, states=('focused',), timeout=5 * t.SCALE)
    t.type_text(str(hot))
    t.find(app, 'label', '1 match', mapped=True, timeout=10 * t.SCALE)
    t.wait_until(lambda: sorted(shown_pids(view)) == sorted([tree['main_pid'], hot]), 10 * t.SCALE,
                 lambda: f'rows {tree["main_pid"]} and {hot} only (shown: {shown_pids(view)})')
    screenshot('Busy backend — Tether', 'search.png')
    t.key('Escape')
    t.wait_until(lambda: len(shown_pids(view)) == 3, 10 * t.SCALE, 'every row again')

def flat_list():
    """Main menu > Flat List (a toggle)."""
    t.click(t.find(app, 'push button', 'Main Menu', mapped=True))
    t.click(t.find(app, ('menu item', 'check menu item'), 'Flat List', mapped=True))


with tap.step('Flat List (main menu), sorted by CPU: the spinning process is row 1'):
    flat_list()
    # GTK 4.8's column titles are not on AT-SPI as headers: their label is.
    t.mouse_click(t.find(view, 'label', 'CPU %', mapped=True))
    t.wait_until(lambda: shown_pids(view)[:1] == [hot], 10 * t.SCALE,
                 lambda: f'{hot} first (shown: {shown_pids(view)})')
    screenshot('Busy backend — Tether', 'flat.png')
    # The keyboard's way to sort (GTK 4.8's headers take no focus): the
    # Columns menu; PID sorts smallest first, chosen again largest first.
    for order in (sorted, lambda pids: sorted(pids, reverse=True)):
        t.click(t.find(app, 'push button', 'Main Menu', mapped=True))
        t.click(t.find(app, 'menu item', 'Columns', mapped=True))
        t.click(t.find(app, 'menu item', 'Sort by PID', mapped=True))
        t.wait_until(lambda: shown_pids(view) == order(shown_pids(view)), 10 * t.SCALE,
                     lambda: f'rows by pid (shown: {shown_pids(view)})')
        t.wait_until(lambda: not t.find_all(app, 'menu item', 'Sort by PID', mapped=True),
                     10 * t.SCALE, 'the main menu closed')
    flat_list()
    t.wait_until(lambda: not t.find_all(app, ('menu item', 'check menu item'), 'Flat List', mapped=True),
                 10 * t.SCALE, 'the main menu closed')
    tetherctl('stop', profile=busy)
    state_is(app, 'Stopped')

# ---- 8d. a 1000-process tree exits; the empty states ------------------------------

big, big_marker = write_profile('Big backend', ['children', '999'])


live_name = t.live_name


with tap.step('a 1000-process tree stops: the pill says Stopped promptly once every process is gone, '
              'and the window answers all along'):
    gapplication_action('open-profile', f"'{big}'")
    t.find(app, 'label', 'Big backend', mapped=True)
    # References taken while the tree is small: searching 1000 rows over
    # AT-SPI would itself take seconds.
    pill = state_is(app, 'Stopped')
    count = t.find(app, 'label', re.compile(r'^\d+ process(es)?$'), mapped=True)
    t.key('ctrl+Return')
    t.wait_until(lambda: live_name(count) == '1000 processes', 90 * t.SCALE,
                 lambda: f'1000 processes (the count says {live_name(count)!r})')
    t.key('ctrl+.')
    gone, lag, worst = t.watch_stop(pill, big_marker, 60 * t.SCALE)
    tap.diag(f'1000-process stop: every process gone {gone:.2f} s after Ctrl+., '
             f'the pill said Stopped {lag:.2f} s after that; '
             f'slowest reply of the window meanwhile {worst * 1000:.0f} ms')
    # The issue saw 6 s of identical frames here; on a loaded 2-core CI
    # machine a few hundred ms are normal.
    assert lag < 3 * t.SCALE, (gone, lag)
    assert worst < 2 * t.SCALE, f'the window did not answer for {worst:.2f} s'
    assert not marked(big_marker), len(marked(big_marker))

failing = os.path.join(workdir, 'Failing-backend.json')
with open(failing, 'w') as f:
    json.dump({'name': 'Failing backend',
               # stderr: the app copies the backend's stdout to its own,
               # which is this test's TAP stream.
               'command': ['sh', '-c', 'echo loading settings >&2; echo "port 8080 in use" >&2; exit 3']}, f)

with tap.step('a backend that failed: an empty state saying so, its last output and Start, '
              'instead of an empty table'):
    gapplication_action('open-profile', f"'{failing}'")
    t.find(app, 'label', 'Failing backend', mapped=True)
    page = t.find(app, 'label', 'Not Running', mapped=True)
    t.key('ctrl+Return')
    state_is(app, 'Failed')
    t.find(app, 'label', 'The Backend Failed', mapped=True, timeout=10 * t.SCALE)
    t.find(app, 'label', re.compile('^Exited with status 3'), mapped=True)
    t.find(app, 'label', re.compile('loading settings\nport 8080 in use'), mapped=True, timeout=10 * t.SCALE)
    assert not t.find_all(app, 'tree table', 'Processes', mapped=True), 'the empty table is still shown'
    start = t.find(app, 'push button', 'Start', mapped=True,
                   pred=lambda acc: t.extents(acc)[1] > 200)  # the page's, not the header's
    screenshot('Failing backend — Tether', 'failed.png')
    t.click(start)
    # Started again: its output twice in the last lines.
    t.find(app, 'label', re.compile('(loading settings\n(.|\n)*){2}'), mapped=True, timeout=10 * t.SCALE)
    state_is(app, 'Failed')

with tap.step('keyboard: Ctrl+? shows the shortcuts, Ctrl+O asks for a profile, Ctrl+Q quits'):
    t.key('ctrl+?')
    t.find(app, ('frame', 'window', 'dialog'), re.compile('Shortcuts'))
    t.key('Escape')
    t.wait_until(lambda: not t.find_all(app, ('frame', 'window', 'dialog'), re.compile('Shortcuts')),
                 10 * t.SCALE, 'the shortcuts window closed')

    t.key('ctrl+o')
    t.wait_until(lambda: x_window('Open Profile'), 10 * t.SCALE, 'the file chooser')
    t.key('Escape')
    t.wait_until(lambda: not x_window('Open Profile'), 10 * t.SCALE, 'the file chooser closed')
    t.key('ctrl+q')
    t.wait_until(lambda: proc.poll() is not None, 30 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode
    assert not marked(forking_marker), marked(forking_marker)

# ---- 9. a prefork worker pool: the Workers control, worker rows, news -------------

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


pool_marker = f'tether-ui-{uuid.uuid4().hex[:12]}'
pool_port = free_port()
pool_profile = os.path.join(workdir, 'Pool-backend.json')
with open(pool_profile, 'w') as f:
    worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples',
                          'pool_worker.py')
    # -X: an option Python keeps for the program, so the marker rides in argv.
    json.dump({'name': 'Pool backend',
               'command': ['/usr/bin/python3', '-X', f'marker={pool_marker}', os.path.realpath(worker)],
               'ready': 'notify',
               'stop': {'graceful_timeout': 5, 'term_timeout': 5},
               'pool': {'mode': 'managed', 'listen': f'127.0.0.1:{pool_port}',
                        'workers': 2, 'min': 1, 'max': 4, 'limits': {'heartbeat_timeout': 2}}}, f)


def worker_rows(view):
    """{pid: role} of the rows the Role column marks as pool workers."""
    return {int(cells[1]): cells[2] for _, cells in t.table_rows(view)
            if len(cells) > 2 and cells[2].startswith('worker ')}


def pool_settled(view, n):
    """n ready workers in the tree, and they are exactly the live ones."""
    rows = worker_rows(view)
    return (len(rows) == n and all(re.fullmatch(r'worker \d+', role) for role in rows.values())
            and sorted(rows) == marked(pool_marker))


def pool_status():
    return tetherctl('status', profile=pool_profile)['pool']


with tap.step('a pool profile: the Workers spin button (1 to 4) shows the target, the count is live, '
              'the tree marks the 2 workers'):
    proc, app = t.launch([APP, '--start', pool_profile], 'tether', env=env)
    tap.dump_root = app
    state_is(app, 'Running')
    spin = t.find(app, 'spin button', 'Workers', mapped=True)
    t.wait_until(lambda: t.has_state(spin, 'sensitive'), what='the Workers spin button sensitive')
    assert Atspi.Value.get_current_value(spin) == 2, Atspi.Value.get_current_value(spin)
    assert (Atspi.Value.get_minimum_value(spin), Atspi.Value.get_maximum_value(spin)) == (1, 4)
    t.find(app, 'label', '2 of 2 workers ready')
    t.find(app, 'push button', 'Recycle Workers', mapped=True)
    view = t.find(app, 'tree table', 'Processes')
    t.wait_until(lambda: pool_settled(view, 2), 20 * t.SCALE,
                 lambda: f'2 worker rows (rows: {t.table_rows(view)}, live: {marked(pool_marker)})')

with tap.step('Workers set to 3: the tree shows 3 worker processes, the count says 3, so does tetherctl'):
    Atspi.Value.set_current_value(spin, 3)
    t.find(app, 'label', '3 of 3 workers ready')
    t.wait_until(lambda: pool_settled(view, 3), 20 * t.SCALE,
                 lambda: f'3 worker rows (rows: {t.table_rows(view)}, live: {marked(pool_marker)})')
    status = pool_status()
    assert (status['target'], status['actual']) == (3, 3), status

with tap.step('Workers set to 1 from the keyboard (Alt+W, typing, Enter): the tree follows'):
    # The pointer over the window, where the keys go (no window manager).
    t.mouse_click(t.find(app, 'label', 'Workers', mapped=True))
    t.key('alt+w')
    t.key('ctrl+a')
    t.type_text('1')
    t.key('Return')
    t.find(app, 'label', '1 of 1 worker ready')
    t.wait_until(lambda: pool_settled(view, 1), 20 * t.SCALE,
                 lambda: f'1 worker row (rows: {t.table_rows(view)}, live: {marked(pool_marker)})')
    status = pool_status()
    assert (status['target'], status['actual']) == (1, 1), status

with tap.step('gapplication action resize 2 (D-Bus): the pool, the count and the spin button follow'):
    gapplication_action('resize', '2')
    t.find(app, 'label', '2 of 2 workers ready')
    t.wait_until(lambda: pool_settled(view, 2), 20 * t.SCALE, '2 worker rows')
    t.wait_until(lambda: Atspi.Value.get_current_value(spin) == 2, 10 * t.SCALE, 'the spin button at 2')

with tap.step('Recycle Workers replaces every worker; the detail line says it was recycled, and why'):
    before = set(worker_rows(view))
    t.click(t.find(app, 'push button', 'Recycle Workers', mapped=True))
    t.wait_until(lambda: pool_settled(view, 2) and not before & set(worker_rows(view)), 20 * t.SCALE,
                 lambda: f'2 new worker rows (before: {sorted(before)}, rows: {t.table_rows(view)})')
    pid = min(worker_rows(view))
    t.mouse_click(row_of(view, pid))
    # The slot had a worker before the resizes too: recycled once or more.
    t.find(app, 'label', re.compile(rf' \({pid}\) — worker \d · recycled \d+× · last: a rolling recycle — '))

with tap.step('a worker that stops its heartbeat, then one killed outright: a toast says why, '
              'and each is replaced'):
    # /hang: the worker that answers sends no more WATCHDOG=1.
    with socket.create_connection(('127.0.0.1', pool_port), timeout=10) as conn:
        conn.sendall(b'GET /hang HTTP/1.0\r\n\r\n')
        reply = b''.join(iter(lambda: conn.recv(4096), b''))
    hung = json.loads(reply.split(b'\r\n\r\n', 1)[1])['pid']
    t.find(app, 'label', re.compile(rf'^Worker {hung} replaced: missed heartbeat \(no WATCHDOG=1 for '))
    t.wait_until(lambda: pool_settled(view, 2) and hung not in worker_rows(view), 20 * t.SCALE,
                 lambda: f'a worker in place of {hung} (rows: {t.table_rows(view)})')
    victim = max(worker_rows(view))
    os.kill(victim, signal.SIGKILL)
    t.find(app, 'label', re.compile(rf'^Worker {victim} ended: killed by signal 9'))
    t.wait_until(lambda: pool_settled(view, 2) and victim not in worker_rows(view), 20 * t.SCALE,
                 lambda: f'a worker in place of {victim} (rows: {t.table_rows(view)})')

with tap.step('quitting stops every worker, then the app exits 0'):
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 30 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode
    assert not marked(pool_marker), marked(pool_marker)

# ---- 10. checkpoints: the Roll Back dialog, app.rollback, the history --------------
# examples/checkpoint_demo.py saves a snapshot every 2 items and reports it;
# started with TETHER_CHECKPOINT=<n> it loads snapshot n and logs "resuming
# from checkpoint n (item i)". One checkpoint every half second: enough rows
# soon, without a dialog whose every row AT-SPI walks growing by ten a
# second. The journal goes to a private XDG_STATE_HOME.

checkpoint_marker = f'tether-ui-{uuid.uuid4().hex[:12]}'
checkpoint_dir = tempfile.mkdtemp(prefix='checkpoints-', dir=workdir)
checkpoint_profile = os.path.join(workdir, 'Checkpoint-backend.json')
with open(checkpoint_profile, 'w') as f:
    demo = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples',
                        'checkpoint_demo.py')
    json.dump({'name': 'Checkpoint backend',
               'command': ['/usr/bin/python3', '-X', f'marker={checkpoint_marker}', os.path.realpath(demo),
                           '--state-dir', os.path.join(checkpoint_dir, 'snapshots'),
                           '--every', '2', '--item-seconds', '0.25'],
               'ready': 'notify',
               'stop': {'graceful_timeout': 5, 'term_timeout': 5},
               'rollback': {'method': 'restart', 'env': 'TETHER_CHECKPOINT'}}, f)
# The backend's stdout is the app's.
checkpoint_log = os.path.join(checkpoint_dir, 'backend.log')
checkpoint_env = dict(env, XDG_STATE_HOME=os.path.join(checkpoint_dir, 'state'))


def checkpoints():
    return tetherctl('checkpoints', profile=checkpoint_profile)['checkpoints']


def backend_log():
    with open(checkpoint_log) as f:
        return f.read()


def main_pid():
    return tetherctl('status', profile=checkpoint_profile).get('main_pid')


# The state pill's names as they change (AT-SPI events, read while waiting):
# a state as short as Frozen is seen even if no poll lands on it.
pill_names = []


def on_name_changed(event):
    # The new name as sent (the source's name is read later, when it may
    # have changed again).
    name = event.any_data
    if isinstance(name, str) and name.startswith('State: '):
        pill_names.append(name)


name_listener = Atspi.EventListener.new(on_name_changed)
name_listener.register('object:property-change:accessible-name')


def row_text(row):
    """A list row as '<name>: <description>' (an AdwActionRow's title and subtitle)."""
    return f'{t.name_of(row)}: {row.get_description() or ""}'


def list_items(root, pattern=''):
    """[(text, row)] of the list rows whose row_text matches pattern, in order."""
    t._clear_cache(root)
    return [(row_text(row), row) for row in t.find_all(root, 'list item')
            if re.search(pattern, row_text(row))]


with tap.step('a checkpointing backend: Roll Back… appears once it has reported checkpoints, '
              'journaled in $XDG_STATE_HOME'):
    log_file = open(checkpoint_log, 'w')
    proc, app = t.launch([APP, '--start', checkpoint_profile], 'tether', env=checkpoint_env,
                         stdout=log_file)
    tap.dump_root = app
    state_is(app, 'Running')
    t.wait_until(lambda: len(checkpoints()) >= 3, 20 * t.SCALE, '3 checkpoints')
    t.find(app, 'push button', 'Roll Back…', mapped=True)
    journals = [os.path.join(d, f) for d, _, files in os.walk(checkpoint_env['XDG_STATE_HOME'])
                for f in files if f == 'journal.jsonl']
    assert len(journals) == 1 and os.path.getsize(journals[0]) > 0, journals

with tap.step('Roll Back… lists the checkpoints newest first: ID, label, when'):
    t.click(t.find(app, 'push button', 'Roll Back…', mapped=True))
    dialog = t.find(app, ('frame', 'window', 'dialog'), 'Roll Back')
    row_pattern = r'^Checkpoint (\d+): item (\d+) · \d\d:\d\d:\d\d \((just now|1 minute ago)\)$'
    rows = t.wait_until(lambda: (lambda r: r if len(r) >= 3 else None)(list_items(dialog, row_pattern)),
                        10 * t.SCALE, 'at least 3 checkpoint rows')
    ids = [int(re.match(row_pattern, name).group(1)) for name, _ in rows]
    assert ids == sorted(ids, reverse=True), ids
    reported = {int(cp['id']): cp['label'] for cp in checkpoints()}
    assert set(ids) <= set(reported), (ids, reported)

with tap.step('picking the second newest and confirming: the confirmation says what will happen; '
              'Frozen, then Running at that checkpoint; a toast says so'):
    before_pid = main_pid()
    t.mouse_click(rows[1][1])
    # New checkpoints push rows down meanwhile: the selected one is the pick.
    picked = t.find(dialog, 'list item', states=('selected',))
    picked_id, picked_item = re.match(row_pattern, row_text(picked)).group(1, 2)
    button = t.find(dialog, 'push button', 'Roll Back…', mapped=True)
    t.wait_until(lambda: t.has_state(button, 'sensitive'), 10 * t.SCALE, 'Roll Back… sensitive')
    screenshot('Roll Back', 'rollback-dialog.png')
    t.click(button)
    confirm = t.find(app, ('dialog', 'alert', 'frame', 'window'), f'Roll Back to Checkpoint {picked_id}?')
    t.find(confirm, 'label', re.compile(rf'^(All )?\d+ process(es)? will be suspended, stopped and '
                                        rf'restarted at checkpoint {picked_id}\. The backend then carries '
                                        rf'on from the state it saved at '))
    screenshot(f'Roll Back to Checkpoint {picked_id}?', 'rollback-confirm.png')
    reason = t.find(confirm, 'text', 'Reason', mapped=True)
    Atspi.EditableText.set_text_contents(reason, 'UI test')
    del pill_names[:]
    t.click(t.find(confirm, 'push button', 'Roll Back', mapped=True))
    t.find(app, 'label', re.compile(rf'^Rolled back to checkpoint {picked_id} in \d+\.\d s$'))
    screenshot('Checkpoint backend — Tether', 'rollback-toast.png')
    state_is(app, 'Running')
    t.wait_until(lambda: f'resuming from checkpoint {picked_id} (item {picked_item})' in backend_log(),
                 10 * t.SCALE, lambda: f'the backend resuming at {picked_id} (log: {backend_log()[-2000:]})')
    assert main_pid() not in (None, 0, before_pid), (before_pid, main_pid())
    assert 'State: Frozen' in pill_names, pill_names
    assert pill_names.index('State: Frozen') < pill_names.index('State: Stopped') < len(pill_names) - 1, pill_names
    t.wait_until(lambda: not t.find_all(app, ('frame', 'window', 'dialog'), 'Roll Back'), 10 * t.SCALE,
                 'the Roll Back dialog closed')

with tap.step('History (main menu): the rollback with its reason, newer checkpoints above it'):
    t.click(t.find(app, 'push button', 'Main Menu', mapped=True))
    t.click(t.find(app, 'menu item', 'History', mapped=True))
    history = t.find(app, ('frame', 'window', 'dialog'), 'History')
    rollback_row = rf'^Rolled back to checkpoint {picked_id}: reason: UI test · '
    # The backend checkpoints on after the rollback: those come first.
    names = t.wait_until(lambda: (lambda n: n if any(re.match(rollback_row, x) for x in n)
                                  and n[0].startswith('Checkpoint ') else None)(
                                      [text for text, _ in list_items(history)]),
                         10 * t.SCALE, 'the rollback, and a newer checkpoint on top')
    first_rollback = next(i for i, n in enumerate(names) if re.match(rollback_row, n))
    picked_row = next(i for i, n in enumerate(names) if n.startswith(f'Checkpoint {picked_id}: '))
    assert first_rollback < picked_row, names
    screenshot('History', 'history.png')
    t.key('Escape')
    t.wait_until(lambda: not t.find_all(app, ('frame', 'window', 'dialog'), 'History'), 10 * t.SCALE,
                 'History closed')

with tap.step('gapplication action rollback (D-Bus): straight to that checkpoint; an unknown one is a toast'):
    oldest = checkpoints()[0]
    before_pid = main_pid()
    gapplication_action('rollback', f"'{oldest['id']}'")
    t.find(app, 'label', re.compile(rf'^Rolled back to checkpoint {oldest["id"]} in \d+\.\d s$'))
    t.wait_until(lambda: f'resuming from checkpoint {oldest["id"]} ({oldest["label"]})' in backend_log(),
                 10 * t.SCALE, f'the backend resuming at {oldest["id"]}')
    assert main_pid() not in (None, 0, before_pid), (before_pid, main_pid())
    gapplication_action('rollback', "'no-such-checkpoint'")
    t.find(app, 'label', re.compile(r'^Could not roll back Checkpoint backend: Unknown checkpoint '
                                    r'“no-such-checkpoint”'))

with tap.step('keyboard: Ctrl+Shift+Z opens the Roll Back dialog, Escape closes it'):
    t.key('ctrl+shift+z')
    t.find(app, ('frame', 'window', 'dialog'), 'Roll Back')
    t.key('Escape')
    t.wait_until(lambda: not t.find_all(app, ('frame', 'window', 'dialog'), 'Roll Back'), 10 * t.SCALE,
                 'the Roll Back dialog closed')
    name_listener.deregister('object:property-change:accessible-name')

with tap.step('in the background (Keep Running), a rollback over D-Bus: Tether stays through its stop, '
              'the outcome is a notification'):
    t.click(t.find(app, 'push button', 'Close', mapped=True))
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile('^Stop Checkpoint backend'))
    t.click(t.find(dialog, 'push button', 'Keep Running', mapped=True))
    t.wait_until(lambda: not t.find_all(app, ('frame', 'window'), re.compile('Tether$'), mapped=True),
                 10 * t.SCALE, 'the window hidden')
    newest = checkpoints()[-1]
    gapplication_action('rollback', f"'{newest['id']}'")
    t.wait_until(lambda: any(method == 'Notify' and args[3].startswith(f'Rolled back to checkpoint {newest["id"]} ')
                             for method, args in notification_calls()),
                 10 * t.SCALE, lambda: f'a Notify call (calls: {notification_calls()})')
    assert f'resuming from checkpoint {newest["id"]} ({newest["label"]})' in backend_log()
    time.sleep(0.5)
    assert proc.poll() is None, 'the app quit'
    assert marked(checkpoint_marker) and tetherctl('status', profile=checkpoint_profile)['state'] == 'running'
    assert not any(method == 'Notify' and args[3] == 'Checkpoint backend stopped'
                   for method, args in notification_calls()), notification_calls()

with tap.step('quitting stops the backend, then the app exits 0'):
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 30 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode
    assert not marked(checkpoint_marker), marked(checkpoint_marker)
    log_file.close()

# ---- 11. health.http: Not responding, why and since when, Restart right there -----
# tests/ui/health_server.py answers until its mode file says "hang", then
# accepts and never answers (until restarted, whatever the file says later).

health_marker = f'tether-ui-{uuid.uuid4().hex[:12]}'
health_port = free_port()
health_mode = os.path.join(workdir, 'health-mode')
health_profile = os.path.join(workdir, 'Health-backend.json')
with open(health_profile, 'w') as f:
    json.dump({'name': 'Health backend',
               'command': ['/usr/bin/python3', '-X', f'marker={health_marker}',
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), 'health_server.py'),
                           str(health_port), health_mode],
               'ready': 'notify',
               'stop': {'graceful_timeout': 5, 'term_timeout': 5},
               'health': {'http': f'http://127.0.0.1:{health_port}/', 'interval': 0.3, 'timeout': 0.5,
                          'failures': 2}}, f)


def set_health_mode(mode):
    with open(health_mode, 'w') as f:
        f.write(mode)


def health_pid():
    return tetherctl('status', profile=health_profile).get('main_pid')


def unresponsive_bar(**kw):
    return t.find(app, 'alert', 'Backend not responding', **kw)


def bar_shown():
    return t.find_all(app, 'alert', 'Backend not responding', mapped=True)


with tap.step('a backend whose health probe stops answering: the Not responding bar says for how '
              'long and why, under the header'):
    set_health_mode('ok')
    proc, app = t.launch([APP, '--start', health_profile], 'tether', env=env)
    tap.dump_root = app
    state_is(app, 'Running')
    hung_pid = t.wait_until(health_pid, 20 * t.SCALE, 'a main pid')
    time.sleep(1)  # a few probes pass
    assert not bar_shown(), 'the bar while the backend answers'
    set_health_mode('hang')
    bar = unresponsive_bar(mapped=True, timeout=10 * t.SCALE)
    state_is(app, 'Not responding')
    title = t.find(bar, 'label', re.compile(r'^Not responding for \d+ s$'))
    t.find(bar, 'label', re.compile(r'^Not responding since \d\d:\d\d:\d\d: 2 health probes in a row '
                                    rf'failed: http://127\.0\.0\.1:{health_port}/ did not answer within 0\.5 s'))
    # The duration counts on by itself.
    first = t.name_of(title)
    t.wait_until(lambda: t.name_of(title) != first, 5 * t.SCALE,
                 lambda: f'the duration past {first!r} (now {t.name_of(title)!r})')
    t.find(bar, 'push button', 'Force Stop', mapped=True)
    assert tetherctl('status', profile=health_profile)['state'] == 'not-responding'
    screenshot('Health backend — Tether', 'health-bar.png')

with tap.step('its Restart button restarts the backend (a new main process), and the bar goes away'):
    set_health_mode('ok')
    restart = t.find(bar, 'push button', 'Restart', mapped=True)
    t.wait_until(lambda: t.has_state(restart, 'sensitive'), what='the bar\'s Restart sensitive')
    t.click(restart)
    t.wait_until(lambda: health_pid() not in (None, 0, hung_pid), 20 * t.SCALE,
                 'a new main pid after the restart')
    state_is(app, 'Running')
    t.wait_until(lambda: not bar_shown(), 10 * t.SCALE, 'the bar hidden')
    assert hung_pid not in marked(health_marker), marked(health_marker)

with tap.step('not responding with the window closed (Keep Running): a desktop notification'):
    t.click(t.find(app, 'push button', 'Close', mapped=True))
    dialog = t.find(app, ('dialog', 'alert', 'frame', 'window'), re.compile('^Stop Health backend'))
    t.click(t.find(dialog, 'push button', 'Keep Running', mapped=True))
    t.wait_until(lambda: not t.find_all(app, ('frame', 'window'), re.compile('Tether$'), mapped=True),
                 10 * t.SCALE, 'the window hidden')
    set_health_mode('hang')
    t.wait_until(lambda: any(method == 'Notify' and args[3] == 'Health backend is not responding'
                             and 'did not answer' in args[4] for method, args in notification_calls()),
                 10 * t.SCALE, lambda: f'a Notify call (calls: {notification_calls()})')

with tap.step('quitting stops the hung backend, then the app exits 0'):
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 30 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode
    assert not marked(health_marker), marked(health_marker)

# ---- 12. the Log page: the backend's output, following the tail, search ----------
# A burst longer than the view keeps (10 000 lines), then, once Tether has
# read it all (the streams are separate pipes, read as they fill), one line
# on each stream. The log file goes to a private XDG_STATE_HOME.

log_marker = f'tether-ui-{uuid.uuid4().hex[:12]}'
log_dir = tempfile.mkdtemp(prefix='log-', dir=workdir)
log_profile = os.path.join(workdir, 'Log-backend.json')
with open(log_profile, 'w') as f:
    json.dump({'name': 'Log backend',
               'command': ['/bin/sh', '-c', "seq -f 'filler line %g' 12000; sleep 0.3; "
                           "echo hello-from-stdout; echo oops-on-stderr >&2; exec sleep 1000",
                           log_marker]}, f)
log_env = dict(env, XDG_STATE_HOME=os.path.join(log_dir, 'state'))


def log_line(text, **kw):
    return t.find(app, 'label', text, **kw)


with tap.step('the Log page (Alt+2): the newest lines at the end, in view, the stderr one marked'):
    # 12 000 lines: not on this test's output (the backend's stdout is the app's).
    proc, app = t.launch([APP, '--start', log_profile], 'tether', env=log_env, stdout=subprocess.DEVNULL)
    tap.dump_root = app
    main_window(app)
    state_is(app, 'Running')
    # The view switcher's tabs.
    log_tab = t.find(app, 'page tab', 'Log', mapped=True)
    processes_tab = t.find(app, 'page tab', 'Processes', mapped=True)
    t.key('alt+2')
    t.wait_until(lambda: t.has_state(log_tab, 'selected'), 5 * t.SCALE, 'the Log page shown')
    # Followed the tail: the last lines are on screen without scrolling.
    out = log_line('hello-from-stdout', mapped=True, timeout=10 * t.SCALE)
    err = log_line('oops-on-stderr', mapped=True, timeout=10 * t.SCALE)
    assert out.get_description() == 'stdout', out.get_description()
    assert err.get_description() == 'stderr', err.get_description()
    # 12 002 lines in, the newest 10 000 kept.
    t.find(app, 'label', '10000 lines', mapped=True, timeout=10 * t.SCALE)
    t.find(app, 'push button', 'Open Log File', mapped=True)
    screenshot('Log backend — Tether', 'log-page.png')

with tap.step('Ctrl+F searches the log (case-insensitive), Escape shows every line again'):
    t.key('ctrl+f')
    # The search entry (focused: what is typed goes there).
    t.find(app, 'entry', 'Search the log', mapped=True, timeout=5 * t.SCALE)
    t.type_text('OOPS')
    t.find(app, 'label', '1 of 10000 lines match', mapped=True, timeout=10 * t.SCALE)
    log_line('oops-on-stderr', mapped=True)
    t.wait_until(lambda: not t.find_all(app, 'label', 'hello-from-stdout', mapped=True),
                 5 * t.SCALE, 'the stdout line filtered out')
    screenshot('Log backend — Tether', 'log-search.png')
    t.key('Escape')
    t.find(app, 'label', '10000 lines', mapped=True, timeout=5 * t.SCALE)
    log_line('hello-from-stdout', mapped=True, timeout=5 * t.SCALE)
    t.key('alt+1')
    t.wait_until(lambda: t.has_state(processes_tab, 'selected'), 5 * t.SCALE, 'the Processes page shown')

with tap.step('the Log page in a 360 px window'):
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 20 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode
    proc, app = t.launch([APP, '--start', log_profile], 'tether', stdout=subprocess.DEVNULL,
                         env=dict(narrow_env, XDG_STATE_HOME=log_env['XDG_STATE_HOME']))
    main_window(app)
    state_is(app, 'Running')
    t.key('alt+2')
    log_line('oops-on-stderr', mapped=True, timeout=10 * t.SCALE)
    open_file = t.find(app, 'push button', 'Open Log File', mapped=True)
    x, y, w, h = t.extents(open_file)
    assert w > 0 and x >= 0 and x + w <= 360, (x, w)
    screenshot('Log backend — Tether', 'log-page-narrow.png')
    gapplication_action('quit')
    t.wait_until(lambda: proc.poll() is not None, 20 * t.SCALE, 'the app exits')
    assert proc.returncode == 0, proc.returncode
    assert not marked(log_marker), marked(log_marker)

kill_leftovers(forking_marker)
kill_leftovers(stubborn_marker)
kill_leftovers(log_marker)
kill_leftovers(pool_marker)
kill_leftovers(checkpoint_marker)
kill_leftovers(health_marker)
notifyd.terminate()
tap.done()
