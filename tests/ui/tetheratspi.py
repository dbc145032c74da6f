"""Small AT-SPI helpers for Tether's UI tests.

Run under Debian's /usr/bin/python3 (it has gi + Atspi), inside
tests/run-with-display.sh, which provides the X server, the session bus
and, through it, the AT-SPI bus.

    import re, sys
    sys.path.insert(0, os.path.dirname(__file__))   # or PYTHONPATH
    import tetheratspi as t
    from tetheratspi import tap

    with tap.step('app starts'):
        proc, app = t.launch([tether_binary], 'tether')  # name = prgname
        tap.dump_root = app            # tree is dumped if a step fails
    with tap.step('hello button updates the status label'):
        t.click(t.find(app, 'push button', 'Say Hello'))
        t.find(app, 'label', re.compile(r'^Clicked \d+$'))
    tap.done()                         # prints the plan, exits 0/1

GTK 4.8 facts this module relies on (checked against GTK 4.8.3 +
libadwaita 1.2.2 on Debian 12):
  * The application's accessible name is g_get_prgname() (the binary's
    basename unless the app calls g_set_prgname()); its description is
    g_get_application_name().
  * Text.GetText(0, -1) returns "" -- pass the real character count.
  * Buttons whose label has a mnemonic are named "<label> <text>", e.g.
    "_Delete Delete"; name matching here also accepts the plain "Delete".
  * Widgets never get the SHOWING state (only windows do); VISIBLE means
    gtk_widget_get_visible().  Things that are visible but not on screen
    (e.g. AdwMessageDialog's duplicate, unused set of response buttons)
    report 0x0 extents: use mapped=True to skip them.
  * Component.GetExtents in SCREEN coordinates prints a Gtk-WARNING (fatal
    under G_DEBUG=fatal-warnings!); only WINDOW coordinates are used here.
  * Component.GrabFocus is not implemented (raises).
"""

import atexit
import contextlib
import os
import re
import subprocess
import sys
import time
import traceback
import warnings

import gi

gi.require_version('Atspi', '2.0')
from gi.repository import Atspi, GLib  # noqa: E402

# Atspi.Action.get_action_name is marked deprecated in favour of a
# get_name() that PyGObject cannot expose (it clashes with
# Accessible.get_name); silence the resulting noise.
warnings.filterwarnings('ignore', category=DeprecationWarning,
                        module=__name__)

# Multiply every timeout by this (slow or heavily loaded machines, valgrind).
SCALE = float(os.environ.get('TETHER_TEST_TIMEOUT_SCALE', '1'))
DEFAULT_TIMEOUT = 20.0 * SCALE
POLL_INTERVAL = 0.1

# libatspi sometimes logs "dbind-WARNING: AT-SPI: Error in GetItems ...
# /org/a11y/atspi/cache" (GTK 4.8 has no Cache object; it happens when an
# app registers while we are connected, more often under load).  Under
# G_DEBUG=fatal-warnings -- which tests/meson.build sets -- that warning
# would SIGTRAP this driver, so drop warnings from the always-fatal mask of
# this process only (the app under test keeps its G_DEBUG).
_fatal = GLib.log_set_always_fatal(GLib.LogLevelFlags.LEVEL_ERROR)
GLib.log_set_always_fatal(GLib.LogLevelFlags(_fatal & ~GLib.LogLevelFlags.LEVEL_WARNING))

if not os.environ.get('DBUS_SESSION_BUS_ADDRESS'):
    sys.stderr.write('tetheratspi: no session bus -- run me under '
                     'tests/run-with-display.sh\n')
Atspi.init()
# libatspi's default D-Bus method timeout is 800 ms, which a GTK app on a
# loaded 2-core machine can exceed ("Timeout was reached" errors).
Atspi.set_timeout(int(15000 * SCALE), int(30000 * SCALE))


# --- basic accessors ---------------------------------------------------------

def _pump():
    """Let libatspi process incoming D-Bus signals (cache updates)."""
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)


def marked_pids(marker):
    """Live, non-zombie backend pids whose argv carries marker (tether-shim,
    Tether's own helper at the root of the tree, carries the backend's argv
    too; it is not part of the backend)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                if marker.encode() not in f.read():
                    continue
            with open(f'/proc/{entry}/comm') as f:
                if f.read().startswith('tether-shim'):
                    continue
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            # A zombie, or past the point of no return in exit (PF_EXITING
            # in the flags field): dead, only not reaped yet.
            if fields[0] == 'Z' or int(fields[6]) & 0x4:
                continue
        except OSError:
            continue
        pids.append(int(entry))
    return sorted(pids)


def live_name(acc):
    """acc's accessible name now: one round trip to the app's main loop."""
    _clear_cache(acc)
    return name_of(acc)


def watch_stop(pill, marker, timeout):
    """Right after a stop was asked for: every 20 ms until the state pill
    says Stopped, look at /proc for marker's processes and ask the window
    for the pill's name. Returns (seconds until every process was gone,
    seconds from then until the pill said Stopped, the slowest reply of the
    window in seconds); AssertionError after timeout seconds."""
    began = time.monotonic()
    empty_at = stopped_at = None
    worst = 0.0
    while stopped_at is None and time.monotonic() - began < timeout:
        if empty_at is None and not marked_pids(marker):
            empty_at = time.monotonic()
        asked = time.monotonic()
        name = live_name(pill)
        worst = max(worst, time.monotonic() - asked)
        if name == 'State: Stopped':
            stopped_at = time.monotonic()
        time.sleep(0.02)
    if stopped_at is None:
        raise AssertionError(f'not Stopped after {timeout:.0f} s (the pill says {live_name(pill)!r})')
    if empty_at is None:
        empty_at = stopped_at  # gone between the last two looks
    return empty_at - began, max(stopped_at - empty_at, 0.0), worst


def role_of(acc):
    return acc.get_role_name()


def _demnemonic(name):
    """GTK 4.8 names a button with a mnemonic label "<_Label> <Label>"."""
    for m in re.finditer(' ', name):
        a, b = name[:m.start()], name[m.end():]
        if '_' in a and a.replace('_', '') == b.replace('_', ''):
            return b
    return name


def name_of(acc):
    """The accessible name, with the GTK 4.8 mnemonic duplication undone."""
    return _demnemonic(acc.get_name() or '')


def states_of(acc):
    return sorted(s.value_nick for s in acc.get_state_set().get_states())


def has_state(acc, state):
    """state: a nick such as 'checked', 'pressed', 'selected',
    'expanded', 'sensitive', 'focused'."""
    st = getattr(Atspi.StateType, state.upper().replace('-', '_').replace(' ', '_'))
    return acc.get_state_set().contains(st)


def extents(acc):
    """(x, y, w, h) relative to the toplevel.  GTK 4.8's box can be a few
    pixels smaller than what is drawn (padding seems left out), but its
    centre is inside the widget, which is all mouse_click() needs."""
    r = acc.get_extents(Atspi.CoordType.WINDOW)
    return (r.x, r.y, r.width, r.height)


def is_mapped(acc):
    try:
        _, _, w, h = extents(acc)
    except GLib.Error:
        return False
    return w > 0 and h > 0


def actions_of(acc):
    if 'Action' not in acc.get_interfaces():
        return []
    return [Atspi.Action.get_action_name(acc, i)
            for i in range(Atspi.Action.get_n_actions(acc))]


def do_action(acc, name):
    """Run the action called `name` (e.g. 'listitem.expand' on a
    GtkTreeExpander, 'toggle' on a GtkSwitch)."""
    acts = actions_of(acc)
    if name not in acts:
        raise AssertionError(f'{describe(acc)} has no action {name!r} '
                             f'(it has {acts})')
    if not Atspi.Action.do_action(acc, acts.index(name)):
        raise AssertionError(f'action {name!r} on {describe(acc)} failed')


def text_of(acc):
    """Text of a label/entry (Text interface), else its name."""
    if 'Text' in acc.get_interfaces():
        # GTK 4.8 returns "" for GetText(0, -1): ask for the real length.
        n = Atspi.Text.get_character_count(acc)
        return Atspi.Text.get_text(acc, 0, n)
    return name_of(acc)


def texts(acc):
    """Texts of all text-bearing descendants (BFS order), e.g. a row's."""
    return [text_of(a) for a in find_all(acc)
            if 'Text' in a.get_interfaces()]


def describe(acc):
    try:
        return f'[{role_of(acc)}] {acc.get_name()!r}'
    except GLib.Error as e:
        return f'<defunct accessible: {e.message}>'


# --- searching ---------------------------------------------------------------

def _children(acc):
    try:
        n = acc.get_child_count()
    except GLib.Error:      # object went away under us
        return []
    out = []
    for i in range(n):
        try:
            c = acc.get_child_at_index(i)
        except GLib.Error:
            continue
        if c is not None:
            out.append(c)
    return out


def _name_matches(acc, name):
    if name is None:
        return True
    raw = acc.get_name() or ''
    if isinstance(name, re.Pattern):
        return bool(name.search(raw) or name.search(_demnemonic(raw)))
    return raw == name or _demnemonic(raw) == name


def _matcher(role, name, states, mapped, pred):
    roles = (role,) if isinstance(role, str) else role

    def match(acc):
        try:
            if roles is not None and role_of(acc) not in roles:
                return False
            if not _name_matches(acc, name):
                return False
            if any(not has_state(acc, s) for s in states):
                return False
            if mapped and not is_mapped(acc):
                return False
            return pred is None or bool(pred(acc))
        except GLib.Error:
            return False
    return match


def _what(role, name, states, mapped):
    bits = []
    if role is not None:
        bits.append(f'role {role!r}')
    if name is not None:
        bits.append(f'name /{name.pattern}/' if isinstance(name, re.Pattern)
                    else f'name {name!r}')
    if states:
        bits.append(f'states {list(states)}')
    if mapped:
        bits.append('mapped')
    return ' '.join(bits) or 'anything'


def find_all(root, role=None, name=None, states=(), mapped=False,
             pred=None, max_depth=None):
    """All matching accessibles under root (root included), breadth first.
    One snapshot, no waiting.  role: Atspi role name or a tuple of them;
    name: exact string, or compiled regex (re.search); states: nicks that
    must all be set; pred: extra callable(acc) -> bool."""
    match = _matcher(role, name, states, mapped, pred)
    out, queue = [], [(root, 0)]
    while queue:
        acc, depth = queue.pop(0)
        if match(acc):
            out.append(acc)
        if max_depth is None or depth < max_depth:
            queue.extend((c, depth + 1) for c in _children(acc))
    return out


def find(root, role=None, name=None, timeout=None, states=(),
         mapped=False, pred=None):
    """First match under root, polling until it shows up; AssertionError
    after timeout seconds (default DEFAULT_TIMEOUT)."""
    def probe():
        _clear_cache(root)
        hits = find_all(root, role, name, states, mapped, pred)
        return hits[0] if hits else None
    return wait_until(probe, timeout,
                      f'{_what(role, name, states, mapped)} under {describe(root)}')


def _clear_cache(acc):
    # GTK 4.8 has no org.a11y.atspi.Cache (libatspi logs "Error in
    # GetItems" once per app), so little is cached, but names/states can
    # be; drop them so every poll sees the live tree.
    try:
        acc.clear_cache()
    except (GLib.Error, AttributeError):
        pass


def wait_until(pred, timeout=None, what='condition'):
    """Poll pred() until it returns something truthy; return that.  D-Bus
    errors (an object vanishing mid-check) count as "not yet".  Raises
    AssertionError naming `what` (a string, or a callable giving one) on
    timeout."""
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    start = time.monotonic()
    deadline = start + timeout
    last_err = None
    while True:
        _pump()
        try:
            v = pred()
            if v:
                return v
        except GLib.Error as e:
            last_err = e
        if time.monotonic() >= deadline:
            if callable(what):
                what = what()
            msg = f'timed out after {time.monotonic() - start:.1f}s waiting for {what}'
            if last_err is not None:
                msg += f' (last AT-SPI error: {last_err.message})'
            raise AssertionError(msg)
        time.sleep(POLL_INTERVAL)


# --- the application ---------------------------------------------------------

def apps():
    return _children(Atspi.get_desktop(0))


def wait_for_app(name, timeout=None, pid=None, proc=None):
    """The application called `name` (its prgname; str or regex) once it
    has at least one window on the AT-SPI desktop.  pid/proc narrow it to
    one process; with proc, fail fast if that process dies."""
    timeout = 30.0 * SCALE if timeout is None else timeout
    if proc is not None and pid is None:
        pid = proc.pid

    def probe():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f'{name}: process exited with status '
                                 f'{proc.returncode} before appearing on AT-SPI')
        for app in apps():
            try:
                if not _name_matches(app, name):
                    continue
                if pid is not None and app.get_process_id() != pid:
                    continue
                if app.get_child_count() > 0:
                    return app
            except GLib.Error:
                continue
        return None
    return wait_until(probe, timeout, lambda: (
        f'application {name!r} on the AT-SPI desktop (present: '
        f'{[describe(a) for a in apps()]})'))


_launched = []


def launch(argv, name=None, timeout=None, **popen_kw):
    """Start argv and wait for it on AT-SPI; returns (proc, app).  The
    process is terminated at interpreter exit (run-with-display.sh kills
    whatever is left anyway)."""
    proc = subprocess.Popen(argv, **popen_kw)
    _launched.append(proc)
    name = name or os.path.basename(argv[0])
    return proc, wait_for_app(name, timeout, proc=proc)


def _reap():
    for p in _launched:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


atexit.register(_reap)


# --- input -------------------------------------------------------------------

_CLICK_ACTIONS = ('click', 'activate', 'press', 'toggle')


def _click_action(acc):
    acts = actions_of(acc)
    for a in _CLICK_ACTIONS:
        if a in acts:
            return acts.index(a)
    return None


def click(acc):
    """Activate a button-like accessible.
    1. its own 'click'/'activate'/'press'/'toggle' action (GtkButton,
       GtkToggleButton, GtkSwitch, GtkCheckButton, menu items);
    2. else the same on a child/grandchild: GtkMenuButton exposes a
       'push button' without actions wrapping an inner 'push button' that
       has 'click';
    3. else a real mouse click (XTest) at its centre -- e.g. to select a
       column-view row, which has no action.  Valid because with no window
       manager (run-with-display.sh) every toplevel sits at +0+0, so
       window coordinates are screen coordinates."""
    for a in find_all(acc, max_depth=2):
        i = _click_action(a)
        if i is not None and Atspi.Action.do_action(a, i):
            return
    mouse_click(acc)


def mouse_click(acc, button=1, double=False):
    x, y, w, h = extents(acc)
    if w <= 0 or h <= 0:
        raise AssertionError(f'cannot click {describe(acc)}: not on screen '
                             f'(extents {x},{y} {w}x{h})')
    Atspi.generate_mouse_event(x + w // 2, y + h // 2,
                               f'b{button}{"d" if double else "c"}')


_KEYSYMS = {
    'Return': 0xff0d, 'Escape': 0xff1b, 'Tab': 0xff09, 'BackSpace': 0xff08,
    'Delete': 0xffff, 'Home': 0xff50, 'End': 0xff57, 'Left': 0xff51,
    'Up': 0xff52, 'Right': 0xff53, 'Down': 0xff54, 'Page_Up': 0xff55,
    'Page_Down': 0xff56, 'F10': 0xffc7, 'Menu': 0xff67, 'space': 0x20,
}
_MODS = {'shift': 1 << 0, 'ctrl': 1 << 2, 'control': 1 << 2, 'alt': 1 << 3,
         'super': 1 << 6}


def key(combo):
    """Press and release a key in the focused window, e.g. 'Escape',
    'ctrl+q', 'shift+Tab', 'Down' (XTest; the focused window is the last
    one GTK presented -- there is no window manager)."""
    *mods, k = combo.split('+')
    sym = _KEYSYMS.get(k) or (ord(k) if len(k) == 1 else None)
    if sym is None:
        raise ValueError(f'unknown key {k!r}')
    mask = 0
    for m in mods:
        mask |= _MODS[m.lower()]
    if mask:
        Atspi.generate_keyboard_event(mask, None, Atspi.KeySynthType.LOCKMODIFIERS)
    try:
        # SYM = keysym press+release; PRESSRELEASE would take a keycode.
        Atspi.generate_keyboard_event(sym, None, Atspi.KeySynthType.SYM)
    finally:
        if mask:
            Atspi.generate_keyboard_event(mask, None, Atspi.KeySynthType.UNLOCKMODIFIERS)


def type_text(s):
    Atspi.generate_keyboard_event(0, s, Atspi.KeySynthType.STRING)


# --- column views --------------------------------------------------------------

def table_rows(view):
    """Data rows of a GtkColumnView ('tree table') as (row, [cell texts]).
    GTK 4.8: tree table > 'list' > 'table row' > 'table cell' > widgets;
    the header is a separate 'table row' outside the 'list'.  Rows/cells
    are named after their GType, so the text comes from the cells' labels.
    Only realized rows exist (the view is virtualized: no off-screen
    rows)."""
    out = []
    for lst in find_all(view, 'list', max_depth=1):
        for row in find_all(lst, 'table row', max_depth=1):
            cells = find_all(row, 'table cell', max_depth=1)
            out.append((row, [' '.join(texts(c)) for c in cells]))
    return out


# --- debugging ---------------------------------------------------------------

def dump(root, file=None, max_depth=None):
    """Print the tree under root: role, name, states, actions, text.  Lines
    start with '# ' so they are TAP diagnostics wherever they end up."""
    file = file or sys.stderr

    def rec(acc, depth):
        try:
            line = f'{describe(acc)} {states_of(acc)}'
            acts = actions_of(acc)
            if acts:
                line += f' actions={acts}'
            if 'Text' in acc.get_interfaces():
                line += f' text={text_of(acc)!r}'
            if role_of(acc) not in ('application', 'frame', 'dialog'):
                x, y, w, h = extents(acc)
                line += f' @{x},{y} {w}x{h}'
        except GLib.Error as e:
            line = f'<error: {e.message}>'
        print('# ' + '  ' * depth + line, file=file)
        if max_depth is None or depth < max_depth:
            for c in _children(acc):
                rec(c, depth + 1)
    _clear_cache(root)
    rec(root, 0)
    file.flush()


# --- TAP -----------------------------------------------------------------------

class Tap:
    """Minimal TAP producer for meson's protocol: 'tap' (plan printed at
    the end)."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.dump_root = None   # set to the app: dumped when a step fails

    def _out(self, line):
        print(line, flush=True)

    def ok(self, cond, desc):
        self.n += 1
        if not cond:
            self.failed += 1
        self._out(f'{"ok" if cond else "not ok"} {self.n} - {desc}')
        return bool(cond)

    def diag(self, msg):
        for line in str(msg).splitlines():
            self._out(f'# {line}')

    def skip(self, desc, why):
        self.n += 1
        self._out(f'ok {self.n} - {desc} # SKIP {why}')

    @contextlib.contextmanager
    def step(self, desc, fatal=True):
        """A test point that passes if the block raises nothing.  On failure:
        'not ok', the error, a dump of dump_root; and if fatal (default,
        since later steps usually depend on it) the plan and exit 1 instead
        of a cascade of timeouts."""
        try:
            yield
        except Exception as e:  # noqa: BLE001 -- reported as a test failure
            self.ok(False, desc)
            self.diag(''.join(traceback.format_exception_only(type(e), e)).strip())
            self.diag(''.join(traceback.format_tb(e.__traceback__)).rstrip())
            if self.dump_root is not None:
                self.diag('accessible tree at failure:')
                dump(self.dump_root, file=sys.stdout)
            if fatal:
                self.done()
        else:
            self.ok(True, desc)

    def bail(self, msg):
        self._out(f'Bail out! {msg}')
        sys.exit(99)

    def done(self):
        """Print the plan and exit (status 1 if anything failed)."""
        self._out(f'1..{self.n}')
        sys.exit(1 if self.failed else 0)


tap = Tap()
