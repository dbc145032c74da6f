#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The state pill's text against its tint, over each background it sits on,
in the light (style.css) and dark (style-dark.css) styles: every pair must
reach WCAG AA for normal text, 4.5:1.

The backgrounds are libadwaita 1.2's window, view and header bar colours.
What a screen reader or a high-contrast theme does is not measured here."""

import re
import sys

BACKGROUNDS = {
    'light': {'window': '#fafafa', 'header bar': '#ebebeb', 'view': '#ffffff'},
    'dark': {'window': '#242424', 'header bar': '#303030', 'view': '#1e1e1e'},
}
STATES = ['running', 'starting', 'stopping', 'frozen', 'not-responding', 'killing', 'failed']
RULE = re.compile(r'((?:\.state-pill\.[a-z-]+\s*,?\s*)+)\{\s*background-color:\s*alpha\((#[0-9a-fA-F]{6}),\s*([0-9.]+)\);\s*'
                  r'color:\s*(#[0-9a-fA-F]{6});\s*\}')


def rgb(text):
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def luminance(colour):
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def over(fg, alpha, bg):
    return tuple(round(f * alpha + b * (1 - alpha)) for f, b in zip(fg, bg))


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def pills(path):
    found = {}
    for selectors, tint, alpha, text in RULE.findall(open(path).read()):
        for state in re.findall(r'\.state-pill\.([a-z-]+)', selectors):
            found[state] = (rgb(tint), float(alpha), rgb(text))
    return found


def main():
    light_css, dark_css = sys.argv[1], sys.argv[2]
    failures = 0
    checks = 0
    for variant, path in (('light', light_css), ('dark', dark_css)):
        found = pills(path)
        for state in STATES:
            if state not in found:
                print(f'not ok: {variant}: no rule for .state-pill.{state} in {path}')
                failures += 1
                continue
            tint, alpha, text = found[state]
            for where, bg in BACKGROUNDS[variant].items():
                ratio = contrast(text, over(tint, alpha, rgb(bg)))
                checks += 1
                ok = ratio >= 4.5
                failures += not ok
                print(f'{"ok" if ok else "not ok"}: {variant} {state} on the {where}: {ratio:.2f}:1')
    print(f'{checks} pairs, {failures} below 4.5:1')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
